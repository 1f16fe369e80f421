// extractRelease under a host-side flock, run by a real bash against a real git mirror: one extraction makes a whole
// release dir with its marker; eight at once (a killed worker's orphan and the retries of another) leave one whole
// release and no partial dir; a wrong commit fails and leaves nothing.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { extractRelease, releasePaths } from '../../src/commands/release';
import { toShell } from '../../src/commands/shell';

const root = mkdtempSync(path.join(os.tmpdir(), 'steward-extract-'));
const git = (args: string[], cwd = root) => {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};
const work = path.join(root, 'work');
mkdirSync(work);
git(['init', '-q'], work);
for (let i = 0; i < 200; i++) writeFileSync(path.join(work, `f${i}.txt`), `file ${i}\n`.repeat(200));
git(['add', '-A'], work);
git(['-c', 'user.name=T', '-c', 'user.email=t@example.test', 'commit', '-qm', 'r1'], work);
const commit = git(['rev-parse', 'HEAD'], work);
const deployRoot = path.join(root, 'srv');
mkdirSync(deployRoot);
git(['clone', '-q', '--mirror', work, path.join(deployRoot, 'repo.git')]);

const runAsync = (shell: string) =>
  new Promise<number | null>((resolve) => {
    const c = spawn('bash', ['-c', shell], { stdio: 'ignore' });
    c.once('exit', (code) => resolve(code));
  });

describe('extractRelease (real bash, git and flock)', () => {
  it('eight extractions at once leave one whole release and no partial dir', async () => {
    const p = releasePaths(deployRoot, 'r1-x');
    const codes = await Promise.all(Array.from({ length: 8 }, () => runAsync(toShell(extractRelease(p, commit)))));
    assert.deepEqual(codes, Array(8).fill(0));
    assert.equal(readFileSync(path.join(p.release, '.steward-release'), 'utf8').trim(), commit);
    assert.equal(readdirSync(p.release).filter((f) => f.endsWith('.txt')).length, 200);
    assert.deepEqual(readdirSync(p.releases), ['r1-x'], 'only the release dir in releases/');
    assert.ok(existsSync(path.join(deployRoot, '.release-r1-x.lock')));
  });

  it('a commit the mirror lacks fails and leaves no release dir', async () => {
    const p = releasePaths(deployRoot, 'r2-missing');
    assert.notEqual(await runAsync(toShell(extractRelease(p, 'b'.repeat(40)))), 0);
    assert.ok(!existsSync(p.release));
  });
});
