#!/usr/bin/env node
// The project's test command (`npm test`): installs or builds what the tests need, starts the local stack
// (or reuses a running one), runs the TypeScript suites and the demo app's Python suite, stops what it
// started, and ends with one line "N passed, N failed". After the integration tests it runs the reliability
// suite's quick subset (scripts/test-reliability.js --quick) on a stack of its own; `--no-reliability` skips it.
'use strict';
require('tsx/cjs');
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync, rmSync, statSync, mkdtempSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { formatFailures, runNodeTests } = require('./tap');

const ROOT = path.resolve(__dirname, '..');
const args = new Set(process.argv.slice(2));
const unitOnly = args.has('--unit');
const withReliability = !unitOnly && !args.has('--no-reliability');
const log = (line) => process.stderr.write(`[test] ${line}\n`);

function findTests(dir) {
  const abs = path.join(ROOT, dir);
  if (!existsSync(abs)) return [];
  const out = [];
  for (const entry of readdirSync(abs)) {
    const p = path.join(abs, entry);
    if (statSync(p).isDirectory()) out.push(...findTests(path.join(dir, entry)));
    else if (entry.endsWith('.test.ts')) out.push(path.join(dir, entry));
  }
  return out.sort();
}

/**
 * The reliability suite's quick subset, on a stack beside the test stack (home "<home>-rel", ports +600): it kills
 * and restarts processes, so it never touches the stack the developer may be using. The hostile-input, human-action
 * and tamper counts come from the tests that just ran here (outcomesFile); the faults and the secrets scan run there.
 */
function runReliability(env, outcomesFile) {
  const { devPorts, portOffset, stewardHome } = require('../src/dev/paths.ts');
  const home = `${stewardHome(env)}-rel`;
  const relEnv = { ...env, STEWARD_HOME: home, STEWARD_PORT_OFFSET: String(portOffset(env) + 600), STEWARD_CONFIG: path.join(home, 'steward.config.yaml') };
  log(`reliability (quick): STEWARD_HOME=${home}, Temporal on ${devPorts(relEnv).temporal}`);
  const summaryFile = path.join(home, 'reliability-summary.json');
  rmSync(summaryFile, { force: true });
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'test-reliability.js'), '--quick', `--outcomes-from=${outcomesFile}`], { cwd: ROOT, stdio: 'inherit', env: relEnv });
  const summary = existsSync(summaryFile) ? JSON.parse(readFileSync(summaryFile, 'utf8')) : undefined;
  const passed = summary ? summary.tests.passed : 0;
  let failed = summary ? summary.tests.failed : 1;
  if ((r.status ?? 1) !== 0 && failed === 0) failed = 1;
  return { passed, failed };
}

function runPythonTests(env) {
  const script = path.join(ROOT, 'examples', 'banking-app', 'scripts', 'test.sh');
  if (!existsSync(script)) return { passed: 0, failed: 0, code: 0 };
  log('demo app: pytest');
  const r = spawnSync('bash', [script], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  process.stdout.write(r.stdout || '');
  process.stderr.write(r.stderr || '');
  const text = `${r.stdout}\n${r.stderr}`;
  const m = (word) => { const all = [...text.matchAll(new RegExp(`(\\d+) ${word}`, 'g'))]; return all.length ? Number(all[all.length - 1][1]) : 0; };
  let failed = m('failed') + m('error') + m('errors');
  if ((r.status ?? 1) !== 0 && failed === 0) failed = 1;
  return { passed: m('passed'), failed, code: r.status ?? 1 };
}

async function main() {
  const outcomesFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'steward-outcomes-')), 'outcomes.jsonl');
  const env = { ...process.env, STEWARD_TEST: '1', STEWARD_REL_RECORD: outcomesFile };
  const suites = [];
  let startedStack = false;
  const stack = require('../src/dev/stack.ts');
  try {
    // The replay of recorded histories needs no stack: a determinism guard in every run.
    suites.push(['unit', [...findTests('test/unit'), ...findTests('test/replay')]]);
    if (!unitOnly) {
      const compose = path.join(ROOT, 'scripts', 'build-compose.sh');
      if (existsSync(compose)) {
        log('building the Compose CLI for validation (reused when present)');
        spawnSync('bash', [compose], { cwd: ROOT, stdio: 'inherit', env });
      }
      const before = await stack.status(env);
      startedStack = !before.every((p) => p.ready);
      log(startedStack ? 'starting the local stack' : 'reusing the running local stack');
      const parts = await stack.up((l) => log(l), env);
      if (!parts.every((p) => p.ready)) throw new Error('the local stack did not come up; see .steward/logs');
      suites.push(['workflows', findTests('test/workflows')]);
      suites.push(['integration', findTests('test/integration')]);
    }
    let passed = 0;
    let failed = 0;
    const failures = [];
    for (const [name, files] of suites) {
      log(`suite ${name}: ${files.length} files`);
      const r = runNodeTests(files, env);
      passed += r.passed;
      failed += r.failed;
      failures.push(...r.failures);
      if (r.code !== 0 && r.failed === 0) failed += 1;
    }
    if (withReliability) {
      const rel = runReliability(env, outcomesFile);
      passed += rel.passed;
      failed += rel.failed;
    }
    if (!unitOnly) {
      const py = runPythonTests(env);
      passed += py.passed;
      failed += py.failed;
    }
    process.stdout.write(formatFailures(failures, 'TypeScript tests'));
    process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
    process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
  } finally {
    if (startedStack) {
      log('stopping the local stack this run started');
      await stack.down((l) => log(l), env);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`[test] ${err.stack || err}\n`);
  process.stdout.write('\n0 passed, 1 failed\n');
  process.exit(1);
});
