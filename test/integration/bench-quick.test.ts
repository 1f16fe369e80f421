// `npm run bench -- --quick` end to end on its own stack: every figure is produced (numbers present), nothing
// about what the numbers are. Benchmarks are never timed tests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(__dirname, '..', '..');
const EXPECTED = [
  'availability.failed',
  'availability.p99',
  'deploy.total',
  'deploy.critical',
  'rollback',
  'latency.p50',
  'latency.p99',
  'latency.callP99',
  'open.rss',
  'open.perChange',
  'open.perCached',
  'open.startRate',
  'open.list',
  'backup.dump',
  'backup.verify',
  'cli.help',
  'cli.status',
];

describe('npm run bench -- --quick', () => {
  it('produces every figure with a Steward number and writes the JSON', { timeout: 15 * 60_000 }, () => {
    // A stack of its own (its own home and ports), started and stopped by the bench itself unless one is running.
    const home = process.env.STEWARD_BENCH_HOME ?? path.join(ROOT, '.steward-bench-test');
    const env = {
      ...process.env,
      STEWARD_HOME: home,
      // Not 1000 apart from another stack's offset: the Web UI port is the gRPC port + 1000 (1500's gRPC = 500's UI).
      STEWARD_PORT_OFFSET: process.env.STEWARD_BENCH_PORT_OFFSET ?? '1300',
      STEWARD_CONFIG: path.join(home, 'steward.config.yaml'),
    };
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'run-ts.js'), path.join(ROOT, 'bench', 'index.ts'), '--quick'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(r.status, 0, `bench --quick failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    const file = r.stdout.match(/^wrote (\S+\.json)$/m)?.[1];
    assert.ok(file, `no results file named in:\n${r.stdout.slice(-2000)}`);
    const result = JSON.parse(readFileSync(path.resolve(ROOT, file!), 'utf8')) as {
      figures: { id: string; steward: { median: number } | null; target: string }[];
      errors: Record<string, string>;
      table: string;
    };
    assert.deepEqual(result.errors, {});
    for (const id of EXPECTED) {
      const f = result.figures.find((x) => x.id === id);
      assert.ok(f, `figure ${id} is missing`);
      assert.equal(typeof f!.steward?.median, 'number', `figure ${id} has no Steward number`);
      assert.ok(Number.isFinite(f!.steward!.median), `figure ${id} is not a number`);
      assert.ok(f!.target, `figure ${id} has no target`);
    }
    assert.ok(r.stdout.includes(result.table), 'the printed table is the one in the JSON');
  });
});
