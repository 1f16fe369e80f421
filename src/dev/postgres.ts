// A PostgreSQL cluster of the stack's own: one database per target host, plus Steward's audit store.
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { DevLayout, DevPorts } from './paths';
import { portOpen, run, runningPid, startDetached, waitFor } from './processes';
import { ensureSecretFile } from './secrets';

export interface PgRunAs {
  uid: number;
  gid: number;
  user: string;
}

export const HOST_DATABASES = { staging: 'banking_staging', production: 'banking_production' } as const;
export const AUDIT_DATABASE = 'steward_audit';
export const AUDIT_OWNER = 'steward_audit_owner';
export const AUDIT_WRITER = 'steward_audit_writer';

export function superuserPasswordFile(layout: DevLayout): string {
  return path.join(layout.secrets, 'pg-superuser-password');
}

export function pgUrl(user: string, password: string, port: number, db: string): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;
}

export async function startPostgres(
  bin: string,
  runAs: PgRunAs | undefined,
  layout: DevLayout,
  ports: DevPorts,
  log: (l: string) => void,
): Promise<void> {
  const superPw = ensureSecretFile(superuserPasswordFile(layout));
  const pgRoot = path.dirname(layout.pgData);
  mkdirSync(pgRoot, { recursive: true });
  mkdirSync(layout.pgSocketDir, { recursive: true });
  if (runAs) {
    chownSync(pgRoot, runAs.uid, runAs.gid);
    chownSync(layout.pgSocketDir, runAs.uid, runAs.gid);
    ensureTraversable(pgRoot, layout.home, runAs, log);
  }
  if (!existsSync(path.join(layout.pgData, 'PG_VERSION'))) {
    log(`initialising PostgreSQL cluster in ${layout.pgData}`);
    const pwfile = path.join(pgRoot, '.initdb-pw');
    writeFileSync(pwfile, `${superPw}\n`, { mode: 0o600 });
    if (runAs) chownSync(pwfile, runAs.uid, runAs.gid);
    try {
      run(path.join(bin, 'initdb'), ['-D', layout.pgData, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-locale'], {
        uid: runAs?.uid,
        gid: runAs?.gid,
      });
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  const pidFile = path.join(layout.pids, 'postgres.pid');
  const logFile = path.join(layout.logs, 'postgres.log');
  if (!runningPid(pidFile)) {
    if (await portOpen(ports.postgres)) throw new Error(`port ${ports.postgres} is taken by another process; stop it or set STEWARD_PORT_OFFSET`);
    log(`starting PostgreSQL on 127.0.0.1:${ports.postgres}`);
    startDetached({
      name: 'postgres',
      command: path.join(bin, 'postgres'),
      args: ['-D', layout.pgData, '-p', String(ports.postgres), '-k', layout.pgSocketDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
      pidFile,
      logFile,
      uid: runAs?.uid,
      gid: runAs?.gid,
    });
  }
  await waitFor('PostgreSQL', async () => {
    const c = new Client({ connectionString: pgUrl('postgres', superPw, ports.postgres, 'postgres'), connectionTimeoutMillis: 1000 });
    try {
      await c.connect();
      await c.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  }, 60_000, logFile);
}

/**
 * As root, PostgreSQL runs as another user, which must be able to walk down to its data dir: a STEWARD_HOME made by
 * `mktemp -d` is 0700, so initdb could not even read its password file. Directories inside STEWARD_HOME get o+x
 * (traverse, no listing; the secrets dir stays 0700); one outside it that blocks is named, not changed.
 */
export function ensureTraversable(dir: string, home: string, runAs: PgRunAs, log: (l: string) => void): void {
  const root = path.resolve(home);
  for (let d = path.dirname(path.resolve(dir)); ; d = path.dirname(d)) {
    const st = statSync(d);
    if (st.uid !== runAs.uid && (st.mode & 0o001) === 0) {
      if (d === root || d.startsWith(root + path.sep)) {
        chmodSync(d, (st.mode & 0o7777) | 0o001);
        log(`${d}: added o+x so that ${runAs.user} (who runs PostgreSQL) can reach its data dir`);
      } else {
        throw new Error(`${d} cannot be traversed by ${runAs.user}, the user PostgreSQL runs as: chmod o+x ${d}, or set STEWARD_HOME elsewhere`);
      }
    }
    if (d === path.dirname(d)) break;
  }
}

/** Creates (idempotently) a role with a password and a database it owns; returns the role's URL. */
export async function ensureDatabase(layout: DevLayout, ports: DevPorts, db: string, owner: string): Promise<string> {
  const pw = await ensureRole(layout, ports, owner);
  const superPw = ensureSecretFile(superuserPasswordFile(layout));
  const c = new Client({ connectionString: pgUrl('postgres', superPw, ports.postgres, 'postgres') });
  await c.connect();
  try {
    const exists = await c.query('select 1 from pg_database where datname = $1', [db]);
    if (exists.rowCount === 0) await c.query(`create database "${db}" owner "${owner.replace(/"/g, '""')}"`);
    // The app's role restores each backup into a scratch database to prove it restorable (database.verifyRestore).
    await c.query(`alter role "${owner.replace(/"/g, '""')}" createdb`);
  } finally {
    await c.end();
  }
  return pgUrl(owner, pw, ports.postgres, db);
}

/** A login role without a database of its own (e.g. the audit writer, granted INSERT only by the store's migrations). */
export async function ensureRole(layout: DevLayout, ports: DevPorts, roleName: string): Promise<string> {
  const superPw = ensureSecretFile(superuserPasswordFile(layout));
  const pw = ensureSecretFile(path.join(layout.secrets, `pg-${roleName}-password`));
  const c = new Client({ connectionString: pgUrl('postgres', superPw, ports.postgres, 'postgres') });
  await c.connect();
  try {
    const ident = `"${roleName.replace(/"/g, '""')}"`;
    const lit = `'${pw.replace(/'/g, "''")}'`;
    const role = await c.query('select 1 from pg_roles where rolname = $1', [roleName]);
    if (role.rowCount === 0) await c.query(`create role ${ident} login password ${lit}`);
    else await c.query(`alter role ${ident} with login password ${lit}`);
  } finally {
    await c.end();
  }
  return pw;
}
