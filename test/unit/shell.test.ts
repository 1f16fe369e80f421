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
      `flock /srv/app/venvs/abc.lock sh -c 'test -f "$1/.steward-complete" && exit 0; rm -rf -- "$1" || exit 1; if ! { "$2" -m venv --without-pip "$1" && "$2" -m pip --python "$1/bin/python" install --quiet --disable-pip-version-check --no-input --no-compile -r "$3"; }; then rm -rf -- "$1" && "$2" -m venv "$1" && "$1/bin/pip" install --quiet --disable-pip-version-check --no-input --no-compile -r "$3" || exit 1; fi; touch -- "$1/.steward-complete"' build-venv /srv/app/venvs/abc python3 /srv/app/releases/r1/requirements.txt`,
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

import { batchScript, remoteShell, splitBatchOutput } from '../../src/commands/shell';

describe('the exec request and batches (one channel per step)', () => {
  const NONCE = '0123456789abcdef0123456789abcdef';
  it('replaces the login shell with bash that reads no startup file, BASH_ENV and ENV unset', () => {
    assert.equal(remoteShell('echo hi'), "exec env -u BASH_ENV -u ENV bash --noprofile --norc -c 'echo hi'");
  });
  it('prepends a wrapper as argv (setsid, flock), quoted like any value', () => {
    assert.equal(remoteShell('true', ['flock', '/srv/app/locks/migrate lock']), "exec env -u BASH_ENV -u ENV flock '/srv/app/locks/migrate lock' bash --noprofile --norc -c true");
  });
  it('builds the batch script exactly: stdin only where asked, a marker after each command, stop on a failure not allowed', () => {
    assert.equal(
      batchScript([{ command: cmd(['test', '-f', '/srv/x y']), allowFailure: true }, { command: cmd(['cat']), stdin: true }], NONCE),
      `( test -f '/srv/x y' ) </dev/null; rc=$?; printf '\\n%s %d %d\\n' ${NONCE} 0 "$rc"; printf '\\n%s %d %d\\n' ${NONCE} 0 "$rc" >&2;\n` +
        `( cat ); rc=$?; printf '\\n%s %d %d\\n' ${NONCE} 1 "$rc"; printf '\\n%s %d %d\\n' ${NONCE} 1 "$rc" >&2; [ "$rc" -eq 0 ] || exit "$rc";`,
    );
    assert.throws(() => batchScript([{ command: cmd(['true']) }], 'not-hex'), UnsafeArgumentError);
    assert.throws(() => batchScript([], NONCE), UnsafeArgumentError);
  });
  it('runs for real: each command its own output and exit code, hostile values intact, a forged marker is text, the secret reaches only its step', () => {
    const steps = [
      ...HOSTILE.slice(0, 12).map((v) => ({ command: cmd(['printf', '%s', v]) })),
      { command: cmd(['sh', '-c', 'echo "\n$1 0 0" ; exit 3', 'forge', 'ffffffffffffffffffffffffffffffff']), allowFailure: true },
      // A step without stdin reads /dev/null: the secret is still there for the step that asks for it.
      { command: cmd(['sh', '-c', 'cat; echo end']) },
      { command: { kind: 'secretStdin' as const, envName: 'S3CRET', command: cmd(['sh', '-c', 'printf %s "$S3CRET"']) }, stdin: true },
      { command: cmd(['sh', '-c', 'echo on stderr >&2; exit 7']) },
      { command: cmd(['echo', 'never runs']) },
    ];
    const r = (() => {
      try {
        execFileSync('bash', ['-c', batchScript(steps, NONCE)], { input: 'the secret\n', encoding: 'utf8', stdio: 'pipe' });
        return { status: 0, stdout: '', stderr: '' };
      } catch (err) {
        const e = err as { status: number; stdout: string; stderr: string };
        return { status: e.status, stdout: e.stdout, stderr: e.stderr };
      }
    })();
    assert.equal(r.status, 7, 'the batch stops at the failure and exits with its code');
    const out = splitBatchOutput(r.stdout, NONCE);
    const err = splitBatchOutput(r.stderr, NONCE);
    assert.deepEqual(out.outputs.slice(0, 12), HOSTILE.slice(0, 12));
    assert.equal(out.exitCodes[12], 3, 'a forged marker (another nonce) is only text');
    assert.match(out.outputs[12]!, /ffff/);
    assert.equal(out.outputs[13], 'end\n');
    assert.equal(out.outputs[14], 'the secret');
    assert.deepEqual([out.exitCodes.length, out.exitCodes[15]], [16, 7], 'the last command never ran');
    assert.equal(err.outputs[15], 'on stderr\n');
  });
});
