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
