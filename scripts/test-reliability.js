#!/usr/bin/env node
// `npm run test:reliability [-- --quick]`: fault injection against a local stack of its own (STEWARD_HOME
// .steward-rel, ports +600 unless set). Starts the stack if it is not running (and stops it at the end), runs the
// node:test files under test/reliability/, then prints the fault table (faults injected / survived / data lost),
// writes it as JSON to $STEWARD_HOME/reliability-summary.json, and ends with "N passed, N failed".
//   --quick   3 representative worker-kill boundaries instead of all 12 (the riskiest points run in both)
'use strict';
require('tsx/cjs');
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const log = (line) => process.stderr.write(`[reliability] ${line}\n`);

process.env.STEWARD_HOME ||= path.join(ROOT, '.steward-rel');
process.env.STEWARD_PORT_OFFSET ||= '600';
process.env.STEWARD_CONFIG ||= path.join(process.env.STEWARD_HOME, 'steward.config.yaml');

function runNodeTests(files, env) {
  const tapDir = mkdtempSync(path.join(os.tmpdir(), 'steward-rel-tap-'));
  const tapFile = path.join(tapDir, 'results.tap');
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=1800000', '--test-reporter=spec', '--test-reporter-destination=stdout',
      '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, ...files],
    { cwd: ROOT, stdio: 'inherit', env },
  );
  const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
  rmSync(tapDir, { recursive: true, force: true });
  const count = (name) => Number((tap.match(new RegExp(`^# ${name} (\\d+)`, 'm')) || [])[1] || 0);
  return { passed: count('pass'), failed: count('fail') + count('cancelled'), skipped: count('skipped'), code: r.status ?? 1 };
}

function table(rows) {
  const head = ['fault', 'where', 'injected', 'survived', 'data lost', 'outcome', 's'];
  const body = rows.map((r) => [r.fault, r.where, r.injected ? 'yes' : 'no', r.survived ? 'yes' : 'NO', r.dataLost ? 'YES' : 'no', r.outcome.slice(0, 70), String(r.seconds)]);
  const widths = head.map((h, i) => Math.min(80, Math.max(h.length, ...body.map((b) => b[i].length))));
  const line = (cells) => '| ' + cells.map((c, i) => c.slice(0, widths[i]).padEnd(widths[i])).join(' | ') + ' |';
  return [line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...body.map(line)].join('\n');
}

async function main() {
  const env = { ...process.env, STEWARD_TEST: '1', ...(quick ? { STEWARD_REL_QUICK: '1' } : {}) };
  const stack = require('../src/dev/stack.ts');
  const home = path.resolve(env.STEWARD_HOME);
  const relDir = path.join(home, 'reliability');
  const faultsFile = path.join(relDir, 'faults.jsonl');
  let startedStack = false;
  const t0 = Date.now();
  try {
    const before = await stack.status(env);
    startedStack = !before.every((p) => p.ready);
    log(`${startedStack ? 'starting' : 'reusing'} the reliability stack (STEWARD_HOME=${home}, STEWARD_PORT_OFFSET=${env.STEWARD_PORT_OFFSET})`);
    const parts = await stack.up((l) => log(l), env);
    if (!parts.every((p) => p.ready)) throw new Error(`the local stack did not come up; see ${path.join(home, 'logs')}`);
    mkdirSync(relDir, { recursive: true });
    rmSync(faultsFile, { force: true });
    const dir = path.join(ROOT, 'test', 'reliability');
    const files = readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().reverse().map((f) => path.join('test', 'reliability', f));
    // worker-kill first (the bulk), then the riskiest points.
    log(`${quick ? 'quick' : 'full'} run: ${files.join(', ')}`);
    const r = runNodeTests(files, env);
    const rows = existsSync(faultsFile) ? readFileSync(faultsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
    const totals = {
      injected: rows.filter((x) => x.injected).length,
      survived: rows.filter((x) => x.survived).length,
      dataLost: rows.filter((x) => x.dataLost).length,
    };
    const summary = {
      date: new Date().toISOString(),
      mode: quick ? 'quick' : 'full',
      machine: { nproc: os.cpus().length, memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10, loadavg: os.loadavg().map((x) => Math.round(x * 10) / 10), node: process.version },
      minutes: Math.round((Date.now() - t0) / 6000) / 10,
      totals,
      tests: { passed: r.passed, failed: r.failed, skipped: r.skipped },
      faults: rows,
    };
    const out = path.join(home, 'reliability-summary.json');
    writeFileSync(out, JSON.stringify(summary, null, 2) + '\n');
    process.stdout.write(`\nFault injection (${summary.mode}, ${summary.minutes} min, ${summary.machine.nproc} CPUs, ${summary.machine.memoryGiB} GiB)\n`);
    process.stdout.write(table(rows) + '\n');
    process.stdout.write(`faults injected ${totals.injected} / survived ${totals.survived} / data lost ${totals.dataLost}   (JSON: ${path.relative(process.cwd(), out) || out})\n`);
    let failed = r.failed;
    if (r.code !== 0 && failed === 0) failed = 1;
    process.stdout.write(`\n${r.passed} passed, ${failed} failed\n`);
    process.exitCode = failed === 0 && r.passed > 0 ? 0 : 1;
  } finally {
    if (startedStack) {
      log('stopping the stack this run started');
      await stack.down((l) => log(l), env);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`[reliability] ${err.stack || err}\n`);
  process.stdout.write('\n0 passed, 1 failed\n');
  process.exit(1);
});
