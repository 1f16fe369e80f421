import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  databaseLockFile,
  inProcessGroup,
  killProcessGroup,
  LOCK_HELD_EXIT,
  parseProcessGroup,
  processGroupFile,
  readProcessGroup,
  removeProcessGroupFile,
  underDatabaseLock,
} from '../../src/commands/process';
import { cmd, toShell, UnsafeArgumentError } from '../../src/commands/shell';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('process-group and host-lock builders', () => {
  it('builds the exact commands', () => {
    assert.equal(processGroupFile('a1-b2'), '/tmp/steward-pgid-a1-b2');
    assert.throws(() => processGroupFile('../etc'), UnsafeArgumentError);
    assert.deepEqual(readProcessGroup('/tmp/steward-pgid-x'), { kind: 'argv', argv: ['cat', '--', '/tmp/steward-pgid-x'] });
    assert.deepEqual(removeProcessGroupFile('/tmp/steward-pgid-x'), { kind: 'argv', argv: ['rm', '-f', '--', '/tmp/steward-pgid-x'] });
    assert.deepEqual(killProcessGroup(4242, 'TERM'), { kind: 'argv', argv: ['kill', '-s', 'TERM', '--', '-4242'] });
    assert.deepEqual(killProcessGroup(4242, 'KILL'), { kind: 'argv', argv: ['kill', '-s', 'KILL', '--', '-4242'] });
    assert.throws(() => killProcessGroup(1, 'TERM'), /may be killed/);
    assert.throws(() => killProcessGroup(0, 'TERM'));
    assert.throws(() => killProcessGroup(12, 'HUP' as never), /not allowed/);
    assert.equal(parseProcessGroup('123\n'), 123);
    assert.equal(parseProcessGroup('1'), null);
    assert.equal(parseProcessGroup('12; rm -rf /'), null);
    assert.equal(parseProcessGroup(''), null);
    assert.equal(databaseLockFile('/srv/backups', 'bank_prod'), '/srv/backups/.steward-bank_prod.lock');
    assert.throws(() => databaseLockFile('/srv/backups', 'x; rm'), UnsafeArgumentError);
    assert.equal(
      toShell(inProcessGroup(cmd(['echo', "it's"]), '/tmp/steward-pgid-t')),
      `setsid --wait bash -c 'echo $$ > "$0" && exec bash -c "$1"' /tmp/steward-pgid-t 'echo '\\''it'\\''\\'\\'''\\''s'\\'''; s=$?; rm -f -- /tmp/steward-pgid-t; exit $s`,
    );
    assert.equal(
      toShell(underDatabaseLock(cmd(['python', 'manage.py', 'migrate']), '/b/.steward-d.lock', 600.4)),
      `flock --exclusive --wait 600 --conflict-exit-code ${LOCK_HELD_EXIT} /b/.steward-d.lock bash -c 'python manage.py migrate'`,
    );
    assert.throws(() => toShell({ kind: 'hostLock', lockFile: '/x', waitSeconds: -1, conflictExitCode: 75, command: cmd(['true']) }), UnsafeArgumentError);
  });

  it('runs a command in its own group, keeps its exit status and its stdin, and removes the pid file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pg-'));
    const pidFile = path.join(dir, 'pgid');
    const r = spawnSync('bash', ['-c', toShell(inProcessGroup({ kind: 'secretStdin', envName: 'SECRET', command: cmd(['bash', '-c', 'printf %s "$SECRET"; exit 3']) }, pidFile))], { input: "s3cr'et\n", encoding: 'utf8' });
    assert.equal(r.status, 3);
    assert.equal(r.stdout, "s3cr'et");
    assert.equal(existsSync(pidFile), false);
  });

  it('a killed group takes every process of the command with it (a child that ignores the channel closing too)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pg-'));
    const pidFile = path.join(dir, 'pgid');
    const childPidFile = path.join(dir, 'child');
    // A command with a grandchild: `sleep` in the background, whose pid is written down, then a wait.
    const inner = cmd(['bash', '-c', `sleep 300 & echo $! > ${childPidFile}; wait`]);
    const outer = spawn('bash', ['-c', toShell(inProcessGroup(inner, pidFile))], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !(existsSync(pidFile) && existsSync(childPidFile) && readFileSync(childPidFile, 'utf8').trim()); i++) await sleep(50);
    const pgid = parseProcessGroup(readFileSync(pidFile, 'utf8'));
    const grandchild = Number(readFileSync(childPidFile, 'utf8'));
    assert.ok(pgid && alive(grandchild));
    // The channel closing is like the outer shell dying: the group lives on.
    outer.kill('SIGKILL');
    await sleep(200);
    assert.ok(alive(grandchild), 'closing the channel alone leaves the command running');
    try {
      const k = killProcessGroup(pgid, 'TERM');
      assert.equal(spawnSync('bash', ['-c', toShell(k)]).status, 0);
      for (let i = 0; i < 40 && alive(grandchild); i++) await sleep(50);
      assert.equal(alive(grandchild), false, 'the whole group is gone');
    } finally {
      if (alive(grandchild)) process.kill(grandchild, 'SIGKILL');
    }
  });

  it('the database lock lets one holder in at a time; a second one waits, then gives up with LOCK_HELD_EXIT', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lock-'));
    const lock = databaseLockFile(dir, 'bank');
    const first = spawn('bash', ['-c', toShell(underDatabaseLock(cmd(['sleep', '3']), lock, 0))], { stdio: 'ignore' });
    await sleep(500);
    const t0 = Date.now();
    const second = spawnSync('bash', ['-c', toShell(underDatabaseLock(cmd(['echo', 'ran']), lock, 1))], { encoding: 'utf8' });
    assert.equal(second.status, LOCK_HELD_EXIT);
    assert.equal(second.stdout, '', 'the second command did not run');
    assert.ok(Date.now() - t0 >= 900, 'it waited for the lock first');
    await new Promise((r) => first.once('exit', r));
    const third = spawnSync('bash', ['-c', toShell(underDatabaseLock(cmd(['echo', 'ran']), lock, 1))], { encoding: 'utf8' });
    assert.equal(third.status, 0);
    assert.equal(third.stdout, 'ran\n');
  });
});
