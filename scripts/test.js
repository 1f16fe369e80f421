#!/usr/bin/env node
// The project's test command (`npm test`): installs or builds what the tests need, starts the local stack
// (or reuses a running one), runs the TypeScript suites and the demo app's Python suite, stops what it
// started, and ends with one line "N passed, N failed".
'use strict';
require('tsx/cjs');
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync, statSync, mkdtempSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const args = new Set(process.argv.slice(2));
const unitOnly = args.has('--unit');
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

function runNodeTests(files, env) {
  if (files.length === 0) return { passed: 0, failed: 0, code: 0 };
  const tapDir = mkdtempSync(path.join(os.tmpdir(), 'steward-tap-'));
  const tapFile = path.join(tapDir, 'results.tap');
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout',
      '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, ...files],
    { cwd: ROOT, stdio: 'inherit', env },
  );
  const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
  const count = (name) => Number((tap.match(new RegExp(`^# ${name} (\\d+)`, 'm')) || [])[1] || 0);
  return { passed: count('pass'), failed: count('fail') + count('cancelled'), code: r.status ?? 1, failures: tapFailures(tap) };
}

/**
 * Each failed test with the first lines of its error and location, from the TAP file. Printed again at the very
 * end of the run, because a CI log is often read from its tail, where the Python suite's output would hide them.
 */
function tapFailures(tap) {
  const lines = tap.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/^(\s*)not ok \d+ - (.*)$/);
    if (!m) continue;
    const indent = m[1].length + 2;
    const block = [];
    for (let j = i + 1; j < lines.length && lines[j].slice(indent).trim() !== '...'; j++) block.push(lines[j].slice(indent));
    if (block.some((l) => l.includes("failureType: 'subtestsFailed'"))) continue; // its failed tests are listed themselves
    const location = (block.find((l) => l.startsWith('location:')) || '').replace(/^location: /, '');
    const start = block.findIndex((l) => l.startsWith('error:'));
    const error = [];
    if (start >= 0) {
      const first = block[start].replace(/^error: ?/, '');
      if (first && first !== '|-') error.push(first);
      for (let k = start + 1; k < block.length && /^\s/.test(block[k]); k++) error.push(block[k].trim());
    }
    out.push({ name: m[2], location, error: error.filter(Boolean).slice(0, 14) });
  }
  return out;
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
  const env = { ...process.env, STEWARD_TEST: '1' };
  const suites = [];
  let startedStack = false;
  const stack = require('../src/dev/stack.ts');
  try {
    suites.push(['unit', findTests('test/unit')]);
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
    if (!unitOnly) {
      const py = runPythonTests(env);
      passed += py.passed;
      failed += py.failed;
    }
    if (failures.length) {
      process.stdout.write(`\nfailed TypeScript tests (${failures.length}):\n`);
      for (const f of failures) {
        process.stdout.write(`- ${f.name}  ${f.location}\n${f.error.map((l) => `    ${l}\n`).join('')}`);
      }
    }
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
