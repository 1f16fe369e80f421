import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { pingHost } from '../../src/commands/host';
import { assertSafeValue, cmd, quoteArg, toShell, UnsafeArgumentError, type RemoteCommand } from '../../src/commands/shell';

const HOSTILE = [
  'plain',
  "it's",
  '$(touch /tmp/pwned)',
  '`id`',
  'a; rm -rf /',
  'x\ny',
  '--upload-pack=evil',
  '"double" and \'single\'',
  '*',
  '',
  ' spaced ',
  '\\',
  'ünïcødé',
  'a'.repeat(5000),
];

describe('quoteArg', () => {
  it('leaves plain words alone and quotes everything else', () => {
    assert.equal(quoteArg('releases/20260101'), 'releases/20260101');
    assert.equal(quoteArg("it's"), `'it'\\''s'`);
    assert.equal(quoteArg(''), `''`);
    assert.equal(quoteArg('$(id)'), `'$(id)'`);
  });

  it('round-trips every hostile string through a real shell unchanged', () => {
    for (const value of HOSTILE) {
      const out = execFileSync('bash', ['-c', `printf '%s' ${quoteArg(value)}`], { encoding: 'utf8' });
      assert.equal(out, value, `value ${JSON.stringify(value.slice(0, 40))}`);
    }
  });

  it('refuses NUL, which no process argument can carry', () => {
    assert.throws(() => quoteArg('a\0b'), UnsafeArgumentError);
  });
});

describe('toShell', () => {
  it('joins argv, cwd and env through the one quoting function', () => {
    assert.equal(toShell(cmd(['git', 'fetch', 'origin', 'a b'], { cwd: '/srv/x y', env: { GIT_DIR: '/r' } })), `cd '/srv/x y' && GIT_DIR=/r git fetch origin 'a b'`);
  });
  it('composes with && and pipes', () => {
    assert.equal(toShell({ kind: 'and', commands: [cmd(['true']), cmd(['echo', 'ok'])] }), '( true ) && ( echo ok )');
    assert.equal(toShell({ kind: 'pipe', commands: [cmd(['cat', 'f']), cmd(['sha256sum'])] }), 'set -o pipefail; ( cat f ) | ( sha256sum )');
  });
  it('refuses unsafe environment names', () => {
    assert.throws(() => toShell(cmd(['true'], { env: { 'A;B': 'x' } })), UnsafeArgumentError);
  });
  it('refuses an empty command', () => {
    assert.throws(() => cmd([]), UnsafeArgumentError);
  });
});

describe('assertSafeValue', () => {
  it('refuses values that would read as options', () => {
    assert.throws(() => assertSafeValue('gitRef', '--upload-pack=x', /^[\w.\/-]+$/, 'a tag or branch'), /gitRef/);
    assert.equal(assertSafeValue('gitRef', 'v1.2.3', /^[\w.\/-]+$/, 'a tag or branch'), 'v1.2.3');
  });
});

describe('pingHost', () => {
  it('builds the exact command', () => {
    assert.equal(toShell(pingHost('/srv/banking app')), `( uname -n ) && ( id -un ) && ( test -d '/srv/banking app' ) && ( echo deploy-root-ok )`);
  });
});

import { buildVenv } from '../../src/commands/python';
import { createScratchDatabase, databaseSize, dropScratchDatabase, fileModifiedAt, pgDump, pgRestoreInto, rowCounts } from '../../src/commands/database';

describe('deployment command builders (exact commands)', () => {
  it('builds a venv under a lock, skipping a finished one', () => {
    assert.equal(
      toShell(buildVenv('python3', '/srv/app/venvs/abc', '/srv/app/releases/r1/requirements.txt')),
      `flock /srv/app/venvs/abc.lock sh -c 'test -f "$1/.steward-complete" && exit 0; rm -rf -- "$1" && "$2" -m venv "$1" && "$1/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$3" && touch -- "$1/.steward-complete"' build-venv /srv/app/venvs/abc python3 /srv/app/releases/r1/requirements.txt`,
    );
  });
  it('passes the database password on stdin, never in the command', () => {
    const text = toShell(pgDump({ host: '127.0.0.1', port: 5432, user: 'bank', database: 'banking' }, '/b/x.dump'));
    assert.ok(text.startsWith('IFS= read -r PGPASSWORD && export PGPASSWORD && ( '), text);
    assert.match(text, /pg_dump --host 127\.0\.0\.1 --port 5432 --username bank --no-password --format=custom --file \/b\/x\.dump\.partial -- banking/);
  });
});

describe('restore-check and sizing commands (exact argv)', () => {
  const t = { host: '127.0.0.1', port: 5432, user: 'bank', database: 'banking' };
  const conn = ['--host', '127.0.0.1', '--port', '5432', '--username', 'bank', '--no-password'];
  const inner = (c: RemoteCommand) => (c.kind === 'secretStdin' && c.command.kind === 'argv' ? c.command.argv : null);
  it('creates, restores into and drops only a scratch database', () => {
    assert.deepEqual(inner(createScratchDatabase(t, 'steward_verify_x1', '/pg/')), ['/pg/createdb', ...conn, '--maintenance-db', 'banking', '--', 'steward_verify_x1']);
    assert.deepEqual(inner(dropScratchDatabase(t, 'steward_verify_x1')), ['dropdb', ...conn, '--maintenance-db', 'banking', '--if-exists', '--', 'steward_verify_x1']);
    assert.throws(() => dropScratchDatabase(t, 'banking'), /not allowed/, 'the source database can never be dropped by it');
    assert.deepEqual(inner(pgRestoreInto(t, 'steward_verify_x1', '/b/x.dump', ['fin_account'])), [
      'pg_restore', ...conn, '--no-owner', '--no-privileges', '--exit-on-error', '--table', 'fin_account', '--dbname', 'steward_verify_x1', '--', '/b/x.dump',
    ]);
    assert.throws(() => pgRestoreInto(t, 'steward_verify_x1', '/b/x.dump', ['x"; drop']), /not a plain table name/);
  });
  it('counts rows and measures the size read-only', () => {
    const q = inner(rowCounts(t, ['fin_account', 'audit_log']))!;
    assert.ok(q.includes('--command=BEGIN TRANSACTION READ ONLY'));
    assert.ok(q.includes(`--command=SELECT 'fin_account' AS "table", (SELECT count(*) FROM public."fin_account") AS rows UNION ALL SELECT 'audit_log' AS "table", (SELECT count(*) FROM public."audit_log") AS rows`));
    assert.throws(() => rowCounts(t, ["a'b"]), /not a plain table name/);
    assert.ok(inner(databaseSize(t))!.includes('--command=SELECT pg_database_size(current_database()) AS bytes'));
    assert.deepEqual(fileModifiedAt('/b/x.dump'), { kind: 'argv', argv: ['stat', '-c', '%Y', '--', '/b/x.dump'] });
  });
});
