#!/usr/bin/env node
// `npm run test:reliability [-- --quick]`: the reliability and security suite against a local stack of its own
// (STEWARD_HOME .steward-rel, ports +600 unless set). Starts the stack if it is not running (and stops it at the
// end), runs the fault injection under test/reliability/, then the hostile-input, human-action, audit-tamper and
// fuzz tests, and last the secrets scan over every history the run left; prints two tables (faults injected /
// survived / data lost; inputs tried / accepted, secrets found, tampering detected), writes them as JSON to
// $STEWARD_HOME/reliability-summary.json, and ends with "N passed, N failed".
//   --quick              3 representative worker-kill boundaries instead of all 12 (the riskiest points run in both)
//   --outcomes-from=F    take the hostile-input, human-action, tamper and fuzz counts from F, recorded by the
//                        ordinary test command that has just run those tests (so they do not run twice); the
//                        faults and the secrets scan still run here
//   --wait-outcomes      F is still being written by tests running beside this suite: before the summary, wait
//                        until F.done exists (the test command writes it when those tests have ended)
'use strict';
require('tsx/cjs');
const { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { formatFailures, runNodeTests } = require('./tap');
const { setTimeout: sleep } = require('node:timers/promises');

const ROOT = path.resolve(__dirname, '..');
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const outcomesFrom = (process.argv.slice(2).find((a) => a.startsWith('--outcomes-from=')) || '').slice('--outcomes-from='.length);
/** The tests that count hostile inputs, human actions and tampering (test/helpers/outcomes.ts). */
const OUTCOME_TESTS = ['test/unit/fuzz.test.ts', 'test/integration/hostile-input.test.ts', 'test/integration/lifecycle-cli.test.ts', 'test/integration/audit.test.ts'];
/** Last, so it scans the histories and worker logs of everything above. */
const SECRETS_SCAN = 'test/integration/zz-secrets-scan.test.ts';
const waitOutcomes = args.has('--wait-outcomes');
const log = (line) => process.stderr.write(`[reliability] ${line}\n`);

/** Until the test command says the tests that record outcomes into `file` have ended (at most 90 minutes). */
async function outcomesComplete(file) {
  const by = Date.now() + 90 * 60_000;
  if (!existsSync(`${file}.done`)) log(`waiting for the tests running beside this suite to finish writing ${file}`);
  while (!existsSync(`${file}.done`) && Date.now() < by) await sleep(2000);
  if (!existsSync(`${file}.done`)) throw new Error(`${file}.done did not appear within 90 minutes`);
}

process.env.STEWARD_HOME ||= path.join(ROOT, '.steward-rel');
process.env.STEWARD_PORT_OFFSET ||= '600';
process.env.STEWARD_CONFIG ||= path.join(process.env.STEWARD_HOME, 'steward.config.yaml');

/** A Markdown table; cells are cut to `maxWidth` characters. */
function markdownTable(head, body, maxWidth = Infinity) {
  const widths = head.map((h, i) => Math.min(maxWidth, Math.max(h.length, ...body.map((b) => b[i].length))));
  const line = (cells) => '| ' + cells.map((c, i) => c.slice(0, widths[i]).padEnd(widths[i])).join(' | ') + ' |';
  return [line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...body.map(line)].join('\n');
}

function table(rows) {
  const head = ['fault', 'where', 'injected', 'survived', 'data lost', 'outcome', 's'];
  const body = rows.map((r) => [r.fault, r.where, r.injected ? 'yes' : 'no', r.survived ? 'yes' : 'NO', r.dataLost ? 'YES' : 'no', r.outcome.slice(0, 70), String(r.seconds)]);
  return markdownTable(head, body, 80);
}

function outcomeTable(rows) {
  const word = { input: 'accepted', secrets: 'found', tamper: 'undetected' };
  return markdownTable(['check', 'tried', 'got through'], rows.map((r) => [r.check, String(r.tried), `${r.through} ${word[r.kind]}`]));
}

/** Sums the records of one check (a test may record several rounds). */
function sumOutcomes(records) {
  const byCheck = new Map();
  for (const r of records) {
    const prev = byCheck.get(r.check) || { kind: r.kind, check: r.check, tried: 0, through: 0, examples: [] };
    prev.tried += r.tried;
    prev.through += r.through;
    prev.examples.push(...(r.examples || []));
    byCheck.set(r.check, prev);
  }
  return [...byCheck.values()];
}

function readJsonl(file) {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
}

async function main() {
  const env = { ...process.env, STEWARD_TEST: '1', ...(quick ? { STEWARD_REL_QUICK: '1' } : {}) };
  const stack = require('../src/dev/stack.ts');
  const home = path.resolve(env.STEWARD_HOME);
  const relDir = path.join(home, 'reliability');
  const faultsFile = path.join(relDir, 'faults.jsonl');
  const outcomesFile = path.join(relDir, 'outcomes.jsonl');
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
    rmSync(outcomesFile, { force: true });
    const dir = path.join(ROOT, 'test', 'reliability');
    // worker-kill first (the bulk), then the riskiest points, then input and tampering, the secrets scan last.
    const files = [
      ...readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().reverse().map((f) => path.join('test', 'reliability', f)),
      ...(outcomesFrom ? [] : OUTCOME_TESTS),
    ];
    log(`${quick ? 'quick' : 'full'} run: ${files.join(', ')}, then ${SECRETS_SCAN}`);
    const testEnv = { ...env, STEWARD_REL_RECORD: outcomesFile, ...(process.env.CI ? {} : { STEWARD_FUZZ_RUNS: '10000' }) };
    // Two runs, because node:test orders the files it is given by path: the scan must come after every history.
    const r = [runNodeTests(files, testEnv, ['--test-timeout=1800000']), runNodeTests([SECRETS_SCAN], testEnv, ['--test-timeout=1800000'])].reduce((a, b) => ({
      passed: a.passed + b.passed,
      failed: a.failed + b.failed,
      skipped: a.skipped + b.skipped,
      code: a.code || b.code,
      failures: [...a.failures, ...b.failures],
      durations: [...a.durations, ...b.durations],
    }));
    const rows = readJsonl(faultsFile);
    const testsMs = Date.now() - t0; // without the wait below
    if (outcomesFrom && waitOutcomes) await outcomesComplete(path.resolve(outcomesFrom));
    const earlier = outcomesFrom ? readJsonl(path.resolve(outcomesFrom)) : [];
    const outcomes = sumOutcomes([...earlier, ...readJsonl(outcomesFile)]);
    const missing = ['input', 'secrets', 'tamper'].filter((k) => !outcomes.some((o) => o.kind === k && o.tried > 0));
    const sum = (kind, key) => outcomes.filter((o) => o.kind === kind).reduce((n, o) => n + o[key], 0);
    const totals = {
      injected: rows.filter((x) => x.injected).length,
      survived: rows.filter((x) => x.survived).length,
      dataLost: rows.filter((x) => x.dataLost).length,
      inputsTried: sum('input', 'tried'),
      inputsAccepted: sum('input', 'through'),
      secretsScanned: sum('secrets', 'tried'),
      secretsFound: sum('secrets', 'through'),
      tamperTried: sum('tamper', 'tried'),
      tamperDetected: sum('tamper', 'tried') - sum('tamper', 'through'),
    };
    const summary = {
      date: new Date().toISOString(),
      mode: quick ? 'quick' : 'full',
      machine: { nproc: os.cpus().length, memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10, loadavg: os.loadavg().map((x) => Math.round(x * 10) / 10), node: process.version },
      minutes: Math.round(testsMs / 6000) / 10,
      totals,
      tests: { passed: r.passed, failed: r.failed, skipped: r.skipped },
      failures: r.failures,
      durations: r.durations.map((d) => ({ ...d, file: d.file || 'test/reliability' })),
      faults: rows,
      outcomes,
    };
    const out = path.join(home, 'reliability-summary.json');
    writeFileSync(out, JSON.stringify(summary, null, 2) + '\n');
    process.stdout.write(`\nFault injection (${summary.mode}, ${summary.minutes} min, ${summary.machine.nproc} CPUs, ${summary.machine.memoryGiB} GiB)\n`);
    process.stdout.write(table(rows) + '\n');
    process.stdout.write(`faults injected ${totals.injected} / survived ${totals.survived} / data lost ${totals.dataLost}\n`);
    process.stdout.write(`\nHostile input, secrets, tampering${outcomesFrom ? ' (input and tamper counts from the test command run before this one)' : ''}\n`);
    process.stdout.write(outcomeTable(outcomes) + '\n');
    process.stdout.write(
      `inputs tried ${totals.inputsTried} / accepted ${totals.inputsAccepted} · secrets found ${totals.secretsFound} ` +
        `(${totals.secretsScanned} histories and logs scanned) · tampering tried ${totals.tamperTried} / detected ${totals.tamperDetected}` +
        `   (JSON: ${path.relative(process.cwd(), out) || out})\n`,
    );
    let failed = r.failed;
    if (missing.length) {
      process.stdout.write(`not measured: ${missing.join(', ')} (no test recorded it; see test/helpers/outcomes.ts)\n`);
      failed += 1;
    }
    if (totals.inputsAccepted || totals.secretsFound || totals.tamperTried !== totals.tamperDetected || totals.dataLost || totals.survived !== totals.injected) {
      process.stdout.write('the table shows a defect: something got through\n');
      if (failed === 0) failed = 1;
    }
    if (r.code !== 0 && failed === 0) failed = 1;
    process.stdout.write(formatFailures(r.failures, 'reliability tests'));
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
