// Versioned migrations of the audit store: src/audit/migrations/NNN_name.sql, applied in order, each once,
// recorded in schema_migrations (version, name, sha256 of the file, time). All of it runs in one transaction
// under a transaction-scoped advisory lock, so two workers starting together do not race: the second waits,
// then finds nothing to do. An applied migration whose file has since changed is an error (never edit one:
// add the next). After the migrations, the writer role's privileges are (re)applied: SELECT and INSERT on
// audit_event and USAGE on its sequence, and nothing else.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Pool, PoolClient } from 'pg';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
/** pg_advisory_xact_lock key: the first 8 bytes of sha256('steward-audit-migrations'), fixed. */
export const MIGRATION_LOCK_KEY = '-4145648163455131066';

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  sha256: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
  writerRole?: string;
  warnings: string[];
}

export class AuditMigrationError extends Error {
  override name = 'AuditMigrationError';
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const seen = new Set<number>();
  return files.map((file) => {
    const m = /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new AuditMigrationError(`migration file ${file} must be named NNN_name.sql (e.g. 002_add_index.sql)`);
    const version = Number(m[1]);
    if (seen.has(version)) throw new AuditMigrationError(`two migration files have version ${m[1]}`);
    seen.add(version);
    const sql = readFileSync(path.join(dir, file), 'utf8');
    return { version, name: m[2]!, file, sql, sha256: createHash('sha256').update(sql).digest('hex') };
  });
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Applies pending migrations with the owner's pool, idempotently. `writerRole` is the application's role
 * (from audit.databaseUrl); when it is the owner's own role no GRANTs are made and a warning says why that is weak.
 */
export async function migrateAuditStore(owner: Pool, opts: { writerRole?: string; migrations?: Migration[] } = {}): Promise<MigrateResult> {
  const migrations = opts.migrations ?? loadMigrations();
  const result: MigrateResult = { applied: [], alreadyApplied: [], warnings: [] };
  const client: PoolClient = await owner.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      sha256 text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    await client.query('REVOKE ALL ON schema_migrations FROM PUBLIC');
    const done = await client.query<{ version: number; name: string; sha256: string }>('SELECT version, name, sha256 FROM schema_migrations ORDER BY version');
    const applied = new Map(done.rows.map((r) => [r.version, r]));
    for (const m of migrations) {
      const prior = applied.get(m.version);
      if (prior) {
        if (prior.sha256 !== m.sha256) {
          throw new AuditMigrationError(
            `migration ${m.file} was changed after it was applied (sha256 ${prior.sha256.slice(0, 12)}… then, ${m.sha256.slice(0, 12)}… now); ` +
              'restore the applied text and put the change in a new migration file',
          );
        }
        result.alreadyApplied.push(m.file);
        continue;
      }
      try {
        await client.query(m.sql);
      } catch (err) {
        throw new AuditMigrationError(`migration ${m.file} failed: ${(err as Error).message}`);
      }
      await client.query('INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)', [m.version, m.name, m.sha256]);
      result.applied.push(m.file);
    }
    const known = new Set(migrations.map((m) => m.version));
    const unknown = [...applied.keys()].filter((v) => !known.has(v));
    if (unknown.length) {
      result.warnings.push(`the database has migrations this Steward does not know (${unknown.join(', ')}); a newer Steward migrated it`);
    }
    const me = (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
    const writer = opts.writerRole;
    if (writer && writer !== me) {
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [writer]);
      if (exists.rowCount === 0) {
        throw new AuditMigrationError(`the writer role ${writer} (from audit.databaseUrl) does not exist; create it (LOGIN, no other privileges) and start again`);
      }
      const w = ident(writer);
      await client.query(`REVOKE ALL ON audit_event, schema_migrations FROM ${w}`);
      await client.query(`REVOKE ALL ON SEQUENCE audit_event_seq_seq FROM ${w}`);
      await client.query(`GRANT SELECT, INSERT ON audit_event TO ${w}`);
      await client.query(`GRANT USAGE ON SEQUENCE audit_event_seq_seq TO ${w}`);
      result.writerRole = writer;
    } else {
      result.warnings.push(
        `the application role ${me} owns the audit table, so it could disable the append-only trigger; ` +
          'configure audit.ownerUrl with a separate owner role and give audit.databaseUrl a role with INSERT and SELECT only',
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  return result;
}
