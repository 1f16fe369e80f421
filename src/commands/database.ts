// Backups with pg_dump on the host. The password never appears in a command line: it arrives on
// stdin and is exported to libpq as PGPASSWORD inside the remote shell.
import { cmd, type RemoteCommand } from './shell';

export interface PgTarget {
  host: string;
  port: number;
  user: string;
  database: string;
}

export const BACKUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$/;

export function parsePgUrl(url: string): PgTarget & { password: string } {
  const u = new URL(url);
  if (!/^postgres(ql)?:$/.test(u.protocol)) throw new Error('database url must start with postgres://');
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: u.pathname.replace(/^\//, ''),
  };
}


const connArgs = (t: PgTarget) => ['--host', t.host, '--port', String(t.port), '--username', t.user, '--no-password'];

/** Dumps into `<file>.partial`; the caller verifies, then renames. The remote reads PGPASSWORD from stdin. */
export function pgDump(t: PgTarget, file: string, pgBin = ''): RemoteCommand {
  return {
    kind: 'secretStdin',
    envName: 'PGPASSWORD',
    command: cmd([`${pgBin}pg_dump`, ...connArgs(t), '--format=custom', '--file', `${file}.partial`, '--', t.database]),
  };
}

export function pgRestoreList(file: string, pgBin = ''): RemoteCommand {
  return cmd([`${pgBin}pg_restore`, '--list', '--', file]);
}

export function finishBackup(file: string): RemoteCommand {
  return cmd(['mv', '-T', '--', `${file}.partial`, file]);
}

export function fileSizeAndSha(file: string): RemoteCommand {
  return { kind: 'and', commands: [cmd(['stat', '-c', '%s', '--', file]), cmd(['sha256sum', '--', file])] };
}

export function pgRestore(t: PgTarget, file: string, pgBin = ''): RemoteCommand {
  return {
    kind: 'secretStdin',
    envName: 'PGPASSWORD',
    command: cmd([`${pgBin}pg_restore`, ...connArgs(t), '--clean', '--if-exists', '--no-owner', '--single-transaction', '--dbname', t.database, '--', file]),
  };
}

/**
 * One invariant query in a read-only transaction (BEGIN READ ONLY … ROLLBACK: a query that tried to write would
 * fail), CSV out, no psqlrc. The query is one SELECT, validated by the config schema; psql takes it as one -c.
 */
export function readOnlyQuery(t: PgTarget, query: string, pgBin = ''): RemoteCommand {
  if (/;\s*\S/.test(query)) throw new Error('an invariant query must be one statement');
  return {
    kind: 'secretStdin',
    envName: 'PGPASSWORD',
    command: cmd([
      `${pgBin}psql`,
      '--no-psqlrc',
      '--quiet',
      '--csv',
      '--set=ON_ERROR_STOP=1',
      ...connArgs(t),
      '--dbname',
      t.database,
      '--command=BEGIN TRANSACTION READ ONLY',
      `--command=${query}`,
      '--command=ROLLBACK',
    ]),
  };
}

/** Parses psql --csv output (RFC 4180 quoting) into rows keyed by the header. */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  const endField = () => {
    row.push(field);
    field = '';
  };
  const endRow = () => {
    endField();
    rows.push(row);
    row = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') endField();
    else if (c === '\n') endRow();
    else if (c !== '\r') field += c;
  }
  if (field !== '' || row.length) endRow();
  const [header, ...body] = rows;
  if (!header) return [];
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

// ---- sizing and the restore check of a backup ------------------------------------------------------------

const TABLE = /^[a-z_][a-z0-9_]{0,62}$/;
export const SCRATCH_DATABASE = /^steward_verify_[a-z0-9_]{1,40}$/;

/** The database's size on disk (what dump and restore timeouts are sized from), read-only. */
export function databaseSize(t: PgTarget, pgBin = ''): RemoteCommand {
  return readOnlyQuery(t, 'SELECT pg_database_size(current_database()) AS bytes', pgBin);
}

/** Row counts of the tables that exist among `tables` (plain lower-case names, checked here), read-only, CSV table,rows. */
export function rowCounts(t: PgTarget, tables: readonly string[], pgBin = ''): RemoteCommand {
  for (const x of tables) if (!TABLE.test(x)) throw new Error(`table name ${JSON.stringify(x)} is not a plain table name`);
  if (tables.length === 0) throw new Error('rowCounts needs at least one table');
  const parts = tables.map((x) => `SELECT '${x}' AS "table", (SELECT count(*) FROM public."${x}") AS rows`);
  // A missing table fails the query: callers ask only for tables that existingTables found.
  return readOnlyQuery(t, parts.join(' UNION ALL '), pgBin);
}

/** Which of `tables` exist in the database (public schema), read-only. */
export function existingTables(t: PgTarget, tables: readonly string[], pgBin = ''): RemoteCommand {
  for (const x of tables) if (!TABLE.test(x)) throw new Error(`table name ${JSON.stringify(x)} is not a plain table name`);
  const list = tables.map((x) => `'${x}'`).join(', ');
  return readOnlyQuery(t, `SELECT c.relname AS "table" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname IN (${list || "''"}) ORDER BY 1`, pgBin);
}

function scratch(name: string): string {
  if (!SCRATCH_DATABASE.test(name)) throw new Error(`scratch database name ${JSON.stringify(name)} is not allowed`);
  return name;
}

export function createScratchDatabase(t: PgTarget, name: string, pgBin = ''): RemoteCommand {
  return { kind: 'secretStdin', envName: 'PGPASSWORD', command: cmd([`${pgBin}createdb`, ...connArgs(t), '--maintenance-db', t.database, '--', scratch(name)]) };
}

export function dropScratchDatabase(t: PgTarget, name: string, pgBin = ''): RemoteCommand {
  return { kind: 'secretStdin', envName: 'PGPASSWORD', command: cmd([`${pgBin}dropdb`, ...connArgs(t), '--maintenance-db', t.database, '--if-exists', '--', scratch(name)]) };
}

/** Restores a backup into a scratch database: all of it, or (a sample, for very large databases) only `tables`. */
export function pgRestoreInto(t: PgTarget, name: string, file: string, tables: readonly string[] = [], pgBin = ''): RemoteCommand {
  for (const x of tables) if (!TABLE.test(x)) throw new Error(`table name ${JSON.stringify(x)} is not a plain table name`);
  return {
    kind: 'secretStdin',
    envName: 'PGPASSWORD',
    command: cmd([`${pgBin}pg_restore`, ...connArgs(t), '--no-owner', '--no-privileges', '--exit-on-error', ...tables.flatMap((x) => ['--table', x]), '--dbname', scratch(name), '--', file]),
  };
}

export function fileModifiedAt(file: string): RemoteCommand {
  return cmd(['stat', '-c', '%Y', '--', file]);
}
