// Backups, migration plans, migrations and invariants on a host.
import { ApplicationFailure } from '@temporalio/common';
import { BACKUP_NAME, fileSizeAndSha, finishBackup, parseCsv, parsePgUrl, pgDump, pgRestore, pgRestoreList, readOnlyQuery } from '../../commands/database';
import type { InvariantQuery } from '../../config/schema';
import {
  appRelease,
  featureFlag,
  financialInvariants,
  migrateAndShow,
  migrateTo,
  planInOneProcess,
  tableSizes,
} from '../../commands/python';
import { parsePolicyConfig } from '../../domain/policy';
import type { MigrationFacts, TableSize } from '../../domain/migration-facts';
import { loadSqlParser, readMigrationSql } from './sql-facts';
import { releasePaths } from '../../commands/release';
import { cmd, type RemoteCommand } from '../../commands/shell';
import { hookCommand } from '../../commands/hooks';
import { resolveSecret } from '../../config/secrets';
import { onHost, type DeploymentDeps } from './context';

export interface BackupRecord {
  file: string;
  sizeBytes: number;
  sha256: string;
  verifiedEntries: number;
  durationMs: number;
  reused: boolean;
}

export interface PlannedMigration {
  app: string;
  name: string;
  irreversible: boolean;
  sql: string;
}

export interface MigrationPlan {
  planned: PlannedMigration[];
  /** Per app, the latest applied migration before this deployment ('zero' when none). */
  stateBefore: Record<string, string>;
  /** What PostgreSQL's parser found in each migration's forwards and backwards SQL (absent in plans made before it). */
  facts?: MigrationFacts[];
  /** Size and estimated rows of the existing relations the SQL touches, from the host (absent when not measured). */
  tableSizes?: Record<string, TableSize>;
  /** The protected tables of the worker's config (policy and environment), so the judgement needs no workflow input. */
  protectedTables?: string[];
}

interface CommandOutput {
  code: number;
  out: string;
  err: string;
}
/** What PLAN_PY prints after STEWARD-PLAN. */
interface PlanOutput {
  show: CommandOutput;
  plan: CommandOutput;
  sql: { app: string; name: string; forwards: CommandOutput; backwards: CommandOutput | null }[];
}

const IRREVERSIBLE_ERROR = /IrreversibleError|not reversible|NotImplementedError/;
const RELATION_NAME = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

export type InvariantSnapshot = Record<string, Record<string, string | number>>;

/** Parses `showmigrations --list`: "app\n [X] 0001_x\n [ ] 0002_y". */
export function parseShowMigrations(text: string): Record<string, string> {
  const state: Record<string, string> = {};
  let app: string | null = null;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) {
      app = line.trim();
      if (app) state[app] = 'zero';
      continue;
    }
    const m = line.match(/^\s*\[X\]\s+(\S+)/);
    if (m && app) state[app] = m[1]!;
  }
  return state;
}

/** Parses `migrate --plan`: "app.0002_name" then indented operations, "IRREVERSIBLE" marks one without a reverse. */
export function parseMigratePlan(text: string): { app: string; name: string; irreversible: boolean }[] {
  const out: { app: string; name: string; irreversible: boolean }[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*([a-z_][a-z0-9_]*)\.([0-9]{4}_[A-Za-z0-9_]+)\s*$/);
    if (m) {
      out.push({ app: m[1]!, name: m[2]!, irreversible: false });
      continue;
    }
    if (/IRREVERSIBLE/.test(line) && out.length) out[out.length - 1]!.irreversible = true;
  }
  return out;
}

/** Pure: "holds", or what broke the rule (the row count and the first offending row, for the record). */
export function judgeInvariant(q: InvariantQuery, rows: Record<string, string>[]): string {
  if (q.expect === 'no-rows') return rows.length === 0 ? 'holds' : `broken: ${rows.length} row(s), first ${JSON.stringify(rows[0])}`.slice(0, 300);
  const { column, equals } = q.expect;
  if (rows.length && !(column in rows[0]!)) return `broken: the query returns no column ${column}`;
  const bad = rows.filter((r) => r[column] !== equals);
  return bad.length === 0 ? 'holds' : `broken: ${bad.length} row(s) where ${column} ≠ ${equals}, first ${JSON.stringify(bad[0])}`.slice(0, 300);
}

export function createDatabaseActivities(deps: DeploymentDeps) {
  return {
    /**
     * pg_dump (custom format) on the host into a partial file, verified by pg_restore --list, then renamed:
     * a backup file that exists is a verified one. Retries find it and reuse it (one backup per deployment).
     */
    async backupDatabase(input: { environment: string; backupId: string }): Promise<BackupRecord> {
      const h = onHost(deps, input.environment);
      if (!BACKUP_NAME.test(input.backupId)) throw ApplicationFailure.nonRetryable(`backup id ${input.backupId} is not allowed`, 'BadBackupId');
      const file = `${h.env.database.backupDir}/${input.backupId}.dump`;
      const started = Date.now();
      const url = parsePgUrl(resolveSecret(h.env.database.url).reveal());
      const partial = `${file}.partial`;
      // One exec. A verified backup that exists is reused; else: a fresh partial file (a pg_dump orphaned on the host
      // by a killed attempt keeps writing to the old inode, not to ours), pg_dump, pg_restore --list reads it as an
      // archive, rename. A failed dump leaves no partial file behind (on a full disk it would keep the space taken).
      const dump: RemoteCommand = {
        kind: 'or',
        commands: [
          cmd(['test', '-s', file]),
          {
            kind: 'or',
            commands: [
              {
                kind: 'and',
                commands: [
                  cmd(['mkdir', '-p', '--', h.env.database.backupDir]),
                  cmd(['rm', '-f', '--', partial]),
                  pgDump(url, file),
                  { kind: 'redirect', command: { kind: 'pipe', commands: [pgRestoreList(partial), cmd(['grep', '-F', '; Archive created at'])] }, stdoutTo: '/dev/null' },
                  finishBackup(file),
                ],
              },
              { kind: 'and', commands: [cmd(['rm', '-f', '--', partial]), cmd(['false'])] },
            ],
          },
        ],
      };
      const r = await h.batch(
        [
          { command: cmd(['test', '-s', file]), allowFailure: true },
          { command: dump, stdin: true },
          { command: pgRestoreList(file) },
          { command: fileSizeAndSha(file) },
        ],
        { stdin: `${url.password}\n`, timeoutMs: 60 * 60_000 },
      );
      const reused = r.steps[0]!.exitCode === 0;
      const entries = r.steps[2]!.stdout.split('\n').filter((l) => /^\d+;/.test(l)).length;
      if (entries === 0) throw ApplicationFailure.nonRetryable(`backup ${file} has no entries`, 'BackupUnverified');
      const facts = r.steps[3]!.stdout.trim().split('\n');
      return {
        file,
        sizeBytes: Number(facts[0]),
        sha256: facts[1]!.split(/\s+/)[0]!,
        verifiedEntries: entries,
        durationMs: Date.now() - started,
        reused,
      };
    },

    /**
     * The exact SQL each pending migration will run, forwards and backwards, from the new release's code, read by
     * PostgreSQL's own parser. A failing `sqlmigrate` stops the plan (an empty output is not "safe SQL"); the SQL is
     * kept whole, whatever its size.
     */
    async planMigrations(input: { environment: string; releaseId: string }): Promise<MigrationPlan> {
      const h = onHost(deps, input.environment);
      const dir = appRelease(h.env.app, releasePaths(h.env.app.deployRoot, input.releaseId).release);
      await loadSqlParser();
      // One Django start for the whole plan (showmigrations, migrate --plan, sqlmigrate both ways per migration).
      const r = await h.run(planInOneProcess(dir), { whole: true });
      const line = r.stdout.split('\n').find((l) => l.startsWith('STEWARD-PLAN '));
      if (!line) throw ApplicationFailure.nonRetryable(`the migration plan printed no result: ${r.stderr.trim().split('\n').slice(-3).join(' / ') || 'no output'}`, 'PlanFailed');
      const out = JSON.parse(line.slice('STEWARD-PLAN '.length)) as PlanOutput;
      const tail = (x: CommandOutput) => x.err.trim().split('\n').slice(-3).join(' / ') || 'no output';
      if (out.show.code !== 0) throw ApplicationFailure.nonRetryable(`showmigrations failed: ${tail(out.show)}`, 'PlanFailed');
      if (out.plan.code !== 0) throw ApplicationFailure.nonRetryable(`migrate --plan failed: ${tail(out.plan)}`, 'PlanFailed');
      const stateBefore = parseShowMigrations(out.show.out);
      const pending = parseMigratePlan(out.plan.out);
      const planned: PlannedMigration[] = [];
      const facts: MigrationFacts[] = [];
      for (const [i, m] of pending.entries()) {
        const sql = out.sql[i];
        if (!sql || sql.app !== m.app || sql.name !== m.name) {
          throw ApplicationFailure.nonRetryable(`the plan of ${m.app}.${m.name} is missing from the host's answer; the plan stops`, 'SqlMigrateFailed');
        }
        const fwd = sql.forwards;
        if (fwd.code !== 0) {
          throw ApplicationFailure.nonRetryable(`sqlmigrate ${m.app} ${m.name} failed: ${tail(fwd)}; the plan stops (its SQL cannot be judged)`, 'SqlMigrateFailed');
        }
        // Django marks IRREVERSIBLE only in a backwards plan; asking for the backwards SQL tells us for each one.
        const back = sql.backwards ?? { code: 1, out: '', err: 'not asked' };
        const noReverse = back.code !== 0 && IRREVERSIBLE_ERROR.test(back.err);
        if (back.code !== 0 && !noReverse) {
          throw ApplicationFailure.nonRetryable(`sqlmigrate --backwards ${m.app} ${m.name} failed: ${tail(back)}; the plan stops`, 'SqlMigrateFailed');
        }
        const irreversible = m.irreversible || noReverse;
        planned.push({ ...m, irreversible, sql: fwd.out });
        facts.push({
          app: m.app,
          name: m.name,
          irreversible,
          forwards: readMigrationSql(fwd.out),
          ...(noReverse ? {} : { backwards: readMigrationSql(back.out) }),
        });
      }
      const plan: MigrationPlan = { planned, stateBefore, facts, protectedTables: protectedTablesOf(deps, h.env.database.protectedTables) };
      const relations = [...new Set(facts.flatMap((f) => f.forwards.statements.flatMap((s) => [...s.writes, ...s.ops.map((o) => o.relation ?? '')])))].filter((r) => RELATION_NAME.test(r));
      if (relations.length > 0) {
        // Best effort: when the sizes cannot be read, every lock or rewrite is judged as on a large table.
        const r = await h.run(tableSizes(dir), { allowFailure: true, stdin: JSON.stringify(relations.slice(0, 500)) });
        const line = r.exitCode === 0 ? r.stdout.split('\n').find((l) => l.startsWith('STEWARD-SIZES ')) : undefined;
        if (line) {
          try {
            plan.tableSizes = JSON.parse(line.slice('STEWARD-SIZES '.length)) as Record<string, TableSize>;
          } catch {
            // not measured
          }
        }
      }
      return plan;
    },

    async runMigrations(input: { environment: string; releaseId: string }): Promise<{ applied: Record<string, string>; durationMs: number }> {
      const h = onHost(deps, input.environment);
      const dir = appRelease(h.env.app, releasePaths(h.env.app.deployRoot, input.releaseId).release);
      // One Django start: migrate, then the state it left (showmigrations) after the line STEWARD-APPLIED.
      const r = await h.run(migrateAndShow(dir), { timeoutMs: 60 * 60_000 });
      const at = r.stdout.lastIndexOf('\nSTEWARD-APPLIED\n');
      if (at < 0) throw ApplicationFailure.nonRetryable('migrate printed no state after it ran (no STEWARD-APPLIED line)', 'MigrateFailed');
      const applied = parseShowMigrations(r.stdout.slice(at + '\nSTEWARD-APPLIED\n'.length));
      return { applied, durationMs: r.durationMs };
    },

    /** Reverse migrations to the recorded state, with the code that knows them (the new release). */
    async reverseMigrations(input: { environment: string; releaseId: string; stateBefore: Record<string, string>; apps: string[] }): Promise<{ reversed: string[] }> {
      const h = onHost(deps, input.environment);
      const dir = appRelease(h.env.app, releasePaths(h.env.app.deployRoot, input.releaseId).release);
      const reversed: string[] = [];
      for (const app of input.apps) {
        const target = input.stateBefore[app] ?? 'zero';
        await h.run(migrateTo(dir, app, target), { timeoutMs: 60 * 60_000 });
        reversed.push(`${app} → ${target}`);
      }
      return { reversed };
    },

    /**
     * The financial invariants as the app contract declares them: the demo's `financial_invariants` command
     * (tenant → metric → value), or read-only SQL queries, each reported as "holds" or what broke it, under the
     * pseudo-tenant "sql" (so a rule that held before and breaks after is a difference, one broken before is not).
     */
    async readInvariants(input: { environment: string; releaseId: string }): Promise<InvariantSnapshot> {
      const h = onHost(deps, input.environment);
      const hook = h.env.app.hooks.invariants;
      if (hook === 'absent') {
        throw ApplicationFailure.nonRetryable('this app declares no invariants hook (hooks.invariants: absent): there are no financial invariants to read', 'HookAbsent');
      }
      if (hook !== 'builtin') {
        const url = parsePgUrl(resolveSecret(h.env.database.url).reveal());
        const out: Record<string, string> = {};
        for (const q of hook.sql) {
          const r = await h.run(readOnlyQuery(url, q.query), { stdin: `${url.password}\n`, allowFailure: true });
          if (r.exitCode !== 0) throw ApplicationFailure.nonRetryable(`invariant ${q.name}: the query failed: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`, 'BadInvariants');
          out[q.name] = judgeInvariant(q, parseCsv(r.stdout));
        }
        return { sql: out };
      }
      const dir = appRelease(h.env.app, releasePaths(h.env.app.deployRoot, input.releaseId).release);
      const out = (await h.run(financialInvariants(dir))).stdout;
      try {
        const parsed = JSON.parse(out) as { tenants?: InvariantSnapshot };
        if (!parsed.tenants) throw new Error('no "tenants" key');
        return parsed.tenants;
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`financial_invariants did not print the expected JSON: ${(err as Error).message}`, 'BadInvariants');
      }
    },

    async setFeatureFlag(input: { environment: string; releaseId: string; module: string; on: boolean; reason: string }): Promise<void> {
      const h = onHost(deps, input.environment);
      const dir = appRelease(h.env.app, releasePaths(h.env.app.deployRoot, input.releaseId).release);
      const hook = h.env.app.hooks.moduleFreeze;
      if (hook === 'absent') {
        throw ApplicationFailure.nonRetryable(`this app declares no module freeze hook (hooks.moduleFreeze: absent): switch ${input.module} ${input.on ? 'on' : 'off'} by hand`, 'HookAbsent');
      }
      if (hook === 'builtin') await h.run(featureFlag(dir, input.module, input.on, input.reason));
      else await h.run(hookCommand(input.on ? hook.unfreeze : hook.freeze, { module: input.module }, dir.dir));
    },
  };
}

export function createRestoreActivities(deps: DeploymentDeps) {
  const { backupDatabase } = createDatabaseActivities(deps);
  return {
    /** Restores a verified backup, after backing up the database as it is now, so nothing is lost. */
    async restoreDatabase(input: { environment: string; backupFile: string; preRestoreBackupId: string }): Promise<{ preRestoreBackup: BackupRecord; durationMs: number }> {
      const h = onHost(deps, input.environment);
      const started = Date.now();
      const preRestoreBackup = await backupDatabase({ environment: input.environment, backupId: input.preRestoreBackupId });
      await h.run(pgRestoreList(input.backupFile));
      const url = parsePgUrl(resolveSecret(h.env.database.url).reveal());
      await h.run(pgRestore(url, input.backupFile), { stdin: `${url.password}\n`, timeoutMs: 60 * 60_000 });
      return { preRestoreBackup, durationMs: Date.now() - started };
    },
  };
}

/** Protected tables from the worker's config: the policy's (with its defaults) and the environment's own list. */
export function protectedTablesOf(deps: DeploymentDeps, envTables: readonly string[] = []): string[] {
  let fromPolicy: string[];
  try {
    fromPolicy = parsePolicyConfig(deps.config.policy ?? {}).protectedTables;
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`the policy in the worker's config is invalid: ${(err as Error).message}`, 'BadPolicy');
  }
  return [...new Set([...fromPolicy, ...envTables.map((t) => t.toLowerCase())])];
}
