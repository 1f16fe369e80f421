'use strict';
// Running node:test files and reading its TAP output: the totals, and each failed test with its error
// (scripts/test.js and scripts/test-reliability.js print these at the end of a run, where a CI log is read from).
const { spawn, spawnSync } = require('node:child_process');
const { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/**
 * Runs the files one at a time under tsx: the spec report to stdout, the TAP report to a temporary file that is
 * read for the totals and the failures. `extraArgs` go to node before the files (e.g. a test timeout).
 */
function runNodeTests(files, env, extraArgs = []) {
  if (files.length === 0) return { passed: 0, failed: 0, skipped: 0, code: 0, failures: [] };
  const tapDir = mkdtempSync(path.join(os.tmpdir(), 'steward-tap-'));
  const tapFile = path.join(tapDir, 'results.tap');
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=1', ...extraArgs, '--test-reporter=spec', '--test-reporter-destination=stdout',
      '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, ...files],
    { cwd: ROOT, stdio: 'inherit', env },
  );
  const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
  rmSync(tapDir, { recursive: true, force: true });
  return { ...tapCounts(tap), code: r.status ?? 1, failures: tapFailures(tap), durations: tapDurations(tap, files.length === 1 ? files[0] : '') };
}

/**
 * One test file in a node:test process of its own, without blocking the caller (the test command runs several
 * side by side): the spec report and anything else the file prints are appended to `logFile`; the result is read
 * from a TAP file as in runNodeTests, plus the file's wall time.
 */
function runNodeTestFile(file, env, logFile, extraArgs = []) {
  const tapDir = mkdtempSync(path.join(os.tmpdir(), 'steward-tap-'));
  const tapFile = path.join(tapDir, 'results.tap');
  const fd = openSync(logFile, 'a');
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=1', ...extraArgs, '--test-reporter=spec', '--test-reporter-destination=stdout',
        '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, file],
      { cwd: ROOT, stdio: ['ignore', fd, fd], env },
    );
    const done = (code) => {
      closeSync(fd);
      const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
      rmSync(tapDir, { recursive: true, force: true });
      resolve({ ...tapCounts(tap), code, failures: tapFailures(tap), durations: tapDurations(tap, file), ms: Date.now() - t0 });
    };
    child.once('error', () => done(1));
    child.once('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

/**
 * Every test (not suite) of a TAP report with its time: `name` is "suite > test", `file` the file it came from
 * (the TAP of one node:test run does not say which file a test is in, so the caller passes it for a one-file run).
 */
function tapDurations(tap, file = '') {
  const lines = tap.split('\n');
  const out = [];
  const names = [];
  for (let i = 0; i < lines.length; i++) {
    const sub = lines[i].match(/^(\s*)# Subtest: (.*)$/);
    if (sub) {
      names.length = sub[1].length / 4;
      names.push(sub[2]);
      continue;
    }
    const m = lines[i].match(/^(\s*)(?:not )?ok \d+ - (.*?)(?: # (?:SKIP|TODO).*)?$/);
    if (!m) continue;
    const depth = m[1].length / 4;
    let ms = NaN;
    let suite = false;
    for (let j = i + 1; j < lines.length && lines[j].trim() !== '...'; j++) {
      const d = lines[j].match(/^\s*duration_ms: ([\d.]+)/);
      if (d) ms = Number(d[1]);
      if (/^\s*type: 'suite'/.test(lines[j])) suite = true;
    }
    if (!suite && Number.isFinite(ms)) out.push({ name: [...names.slice(0, depth), m[2]].join(' > '), file, ms });
  }
  return out;
}

/** The `n` slowest tests of a run as lines, slowest first. */
function formatSlowest(durations, n = 10) {
  const top = [...durations].sort((a, b) => b.ms - a.ms).slice(0, n);
  if (!top.length) return '';
  const lines = [`\nslowest ${top.length} tests:`];
  for (const t of top) lines.push(`${(t.ms / 1000).toFixed(1).padStart(7)} s  ${t.name}${t.file ? `  (${t.file})` : ''}`);
  return `${lines.join('\n')}\n`;
}

/** The run's totals: passed, failed (failed + cancelled), skipped. */
function tapCounts(tap) {
  const count = (name) => Number((tap.match(new RegExp(`^# ${name} (\\d+)`, 'm')) || [])[1] || 0);
  return { passed: count('pass'), failed: count('fail') + count('cancelled'), skipped: count('skipped') };
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

/** The failures as lines for the end of a run's output. */
function formatFailures(failures, what) {
  if (!failures.length) return '';
  const lines = [`\nfailed ${what} (${failures.length}):`];
  for (const f of failures) lines.push(`- ${f.name}  ${f.location}`, ...f.error.map((l) => `    ${l}`));
  return `${lines.join('\n')}\n`;
}

module.exports = { runNodeTests, runNodeTestFile, tapCounts, tapFailures, tapDurations, formatFailures, formatSlowest };
