#!/usr/bin/env node
// The project's test command (`npm test`): installs or builds what the tests need, starts the local stack
// (or reuses a running one), runs the TypeScript suites and the demo app's Python suite, stops what it
// started, and ends with one line "N passed, N failed". Beside the integration tests it runs the reliability
// suite's quick subset (scripts/test-reliability.js --quick) on a stack of its own; `--no-reliability` skips it.
//
// What runs side by side (a job starts when what it needs is done; at most STEWARD_TEST_JOBS, default 3, at once):
//   tools (Temporal CLI, PostgreSQL, sshd, git) → the shared stack → test/integration/* on it, one file after
//     another in file order (they share hosts and databases; the secrets scan, zz-*, comes last)
//   tools → a second shared stack ("<home>-b", ports +400) → the SECOND_STACK files, then the secrets scan there
//   Compose CLI → test/unit/* and test/replay/*
//   tools → test/workflows/* (each file starts a Temporal dev server of its own)
//   tools → OWN_STACK files (each starts a stack of its own, on its own home and ports)
//   tools → the reliability quick suite (stack "<home>-rel", ports +600); its summary waits for the unit and
//     integration tests, whose hostile-input and tamper counts it reports
//   the demo app's pytest (a throwaway PostgreSQL of its own)
// Each job's output goes to a log file and is printed whole when the job ends, so reports do not interleave.
// New test files are picked up by directory as before; a new file under test/integration shares the stack
// unless it is listed in OWN_STACK.
'use strict';
require('tsx/cjs');
const { spawn } = require('node:child_process');
const { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { formatFailures, formatSlowest, runNodeTestFile } = require('./tap');

const ROOT = path.resolve(__dirname, '..');
const args = new Set(process.argv.slice(2));
const unitOnly = args.has('--unit');
const withReliability = !unitOnly && !args.has('--no-reliability');
// --plan: print the jobs and their files, run nothing.
const maxJobs = Math.max(1, Number(process.env.STEWARD_TEST_JOBS || 3));
const t0 = Date.now();
const clock = () => `${((Date.now() - t0) / 60000).toFixed(1)} min`;
const log = (line) => process.stderr.write(`[test ${clock()}] ${line}\n`);

/**
 * Integration files that start a stack of their own (own STEWARD_HOME and ports) instead of using the shared one:
 * they run beside the shared-stack files. Anything not listed here is assumed to share the stack.
 */
const OWN_STACK = ['test/integration/bench-quick.test.ts', 'test/integration/dev-stack.test.ts'];
/**
 * Shared-stack files that run on a second shared stack ("<home>-b", ports +400) beside the first: the deployment
 * suite alone takes as long as all the other shared-stack files together (9–12 min on 2 cores), and the Gunicorn
 * handover under load (wrk) takes 5–10 more. Each stack's
 * group ends with the secrets scan (zz-*), so every history is scanned on the stack that holds it.
 */
const SECOND_STACK = ['test/integration/deployment.test.ts', 'test/integration/gunicorn-handover.test.ts', 'test/integration/change-continue-as-new.test.ts'];
const isScan = (f) => path.basename(f).startsWith('zz-');

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

/** A child process whose output is appended to `logFile`; resolves with its exit code. */
function runLogged(command, argv, env, logFile) {
  const fd = openSync(logFile, 'a');
  return new Promise((resolve) => {
    const child = spawn(command, argv, { cwd: ROOT, stdio: ['ignore', fd, fd], env });
    const done = (code) => {
      closeSync(fd);
      resolve(code);
    };
    child.once('error', (err) => {
      writeFileSync(logFile, `${err.stack || err}\n`, { flag: 'a' });
      done(1);
    });
    child.once('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

const empty = () => ({ passed: 0, failed: 0, failures: [], durations: [], files: [] });

/** The files one after another, each in a node:test process of its own (so each file's time is known). */
async function runFiles(files, env, logFile) {
  const r = empty();
  for (const file of files) {
    const f = await runNodeTestFile(file, env, logFile);
    r.passed += f.passed;
    r.failed += f.failed;
    if (f.code !== 0 && f.failed === 0) {
      r.failed += 1;
      r.failures.push({ name: `${file} exited ${f.code} with no failed test reported`, location: file, error: [] });
    }
    r.failures.push(...f.failures);
    r.durations.push(...f.durations);
    r.files.push({ file, ms: f.ms, passed: f.passed, failed: f.failed });
  }
  return r;
}

/** A step that must succeed for what depends on it (tools, the stack): a failure counts once and is named. */
async function runStep(name, command, argv, env, logFile) {
  const code = await runLogged(command, argv, env, logFile);
  if (code === 0) return empty();
  return { ...empty(), failed: 1, failures: [{ name: `${name} failed (exit ${code}); its output is above`, location: '', error: [] }], fatal: true };
}

/** Runs a TypeScript helper from src/dev in a child (its builds and installs are synchronous). */
function devStep(name, code, env, logFile) {
  return runStep(name, process.execPath, ['-e', `require('tsx/cjs');(async()=>{${code}})().catch((e)=>{console.error(e.stack||e);process.exit(1)})`], env, logFile);
}

/**
 * The reliability suite's quick subset, on a stack beside the test stack (home "<home>-rel", ports +600): it kills
 * and restarts processes, so it never touches the stack the developer may be using. The hostile-input, human-action
 * and tamper counts come from the tests of this run (outcomesFile, complete when outcomesFile.done exists); the
 * faults and the secrets scan run there.
 */
async function runReliability(env, outcomesFile, logFile) {
  const { devPorts, portOffset, stewardHome } = require('../src/dev/paths.ts');
  const home = `${stewardHome(env)}-rel`;
  const relEnv = { ...env, STEWARD_HOME: home, STEWARD_PORT_OFFSET: String(portOffset(env) + 600), STEWARD_CONFIG: path.join(home, 'steward.config.yaml') };
  writeFileSync(logFile, `reliability (quick): STEWARD_HOME=${home}, Temporal on ${devPorts(relEnv).temporal}\n`, { flag: 'a' });
  const summaryFile = path.join(home, 'reliability-summary.json');
  rmSync(summaryFile, { force: true });
  const code = await runLogged(process.execPath, [path.join(ROOT, 'scripts', 'test-reliability.js'), '--quick', `--outcomes-from=${outcomesFile}`, '--wait-outcomes'], relEnv, logFile);
  const summary = existsSync(summaryFile) ? JSON.parse(readFileSync(summaryFile, 'utf8')) : undefined;
  const r = empty();
  r.passed = summary ? summary.tests.passed : 0;
  r.failed = summary ? summary.tests.failed : 1;
  if (code !== 0 && r.failed === 0) r.failed = 1;
  r.failures = summary ? summary.failures || [] : [{ name: 'the reliability suite wrote no summary', location: logFile, error: [] }];
  r.durations = summary ? (summary.durations || []) : [];
  return r;
}

async function runPythonTests(env, logFile) {
  const script = path.join(ROOT, 'examples', 'banking-app', 'scripts', 'test.sh');
  if (!existsSync(script)) return empty();
  const code = await runLogged('bash', [script], env, logFile);
  const text = readFileSync(logFile, 'utf8');
  const m = (word) => { const all = [...text.matchAll(new RegExp(`(\\d+) ${word}`, 'g'))]; return all.length ? Number(all[all.length - 1][1]) : 0; };
  const r = empty();
  r.passed = m('passed');
  r.failed = m('failed') + m('error') + m('errors');
  if (code !== 0 && r.failed === 0) r.failed = 1;
  if (r.failed) r.failures.push({ name: `demo app pytest: ${r.failed} failed`, location: 'examples/banking-app', error: [] });
  return r;
}

/**
 * Runs jobs as soon as the jobs they need are done, at most `limit` at once, in list order among the ready ones.
 * A job whose need failed fatally (tools, the stack) is not run and counts as one failure.
 */
async function schedule(jobs, limit, logDir) {
  const state = new Map(jobs.map((j) => [j.name, { job: j, status: 'waiting', result: undefined, ms: 0 }]));
  let running = 0;
  return new Promise((resolve) => {
    const tick = () => {
      for (const s of state.values()) {
        if (s.status !== 'waiting' || running >= limit) continue;
        const needs = (s.job.after || []).map((n) => state.get(n)).filter(Boolean);
        if (needs.some((n) => n.status !== 'done')) continue;
        const broken = needs.find((n) => n.result && n.result.fatal);
        s.status = 'running';
        if (broken) {
          s.status = 'done';
          s.result = { ...empty(), failed: 1, failures: [{ name: `${s.job.name}: not run, because ${broken.job.name} failed`, location: '', error: [] }], fatal: true };
          log(`${s.job.name}: not run (${broken.job.name} failed)`);
          if (s.job.onDone) s.job.onDone();
          continue;
        }
        running++;
        const logFile = path.join(logDir, `${s.job.name.replace(/[^\w.-]+/g, '_')}.log`);
        writeFileSync(logFile, '');
        const started = Date.now();
        log(`${s.job.name}: started`);
        Promise.resolve()
          .then(() => s.job.run(logFile))
          .catch((err) => ({ ...empty(), failed: 1, failures: [{ name: `${s.job.name}: ${err.message}`, location: '', error: [] }], fatal: true }))
          .then((result) => {
            s.result = result;
            s.ms = Date.now() - started;
            s.status = 'done';
            running--;
            process.stdout.write(`\n===== ${s.job.name} (${(s.ms / 1000).toFixed(0)} s) =====\n`);
            process.stdout.write(readFileSync(logFile, 'utf8'));
            log(`${s.job.name}: ${result.passed} passed, ${result.failed} failed in ${(s.ms / 1000).toFixed(0)} s`);
            if (s.job.onDone) s.job.onDone();
            tick();
          });
      }
      if ([...state.values()].every((x) => x.status === 'done')) resolve([...state.values()]);
    };
    tick();
  });
}

async function main() {
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'steward-test-'));
  const outcomesFile = path.join(logDir, 'outcomes.jsonl');
  const { portOffset, MAX_PORT_OFFSET } = require('../src/dev/paths.ts');
  const env = { ...process.env, STEWARD_TEST: '1', STEWARD_REL_RECORD: outcomesFile };
  // The benchmarks' quick run gets a stack of its own, 1300 ports above this run's (not 1000: the Web UI port is
  // the gRPC port + 1000), so two developers' runs do not collide.
  const benchOffset = portOffset(env) + 1300;
  env.STEWARD_BENCH_PORT_OFFSET ||= String(benchOffset <= MAX_PORT_OFFSET ? benchOffset : 1300);
  const stack = require('../src/dev/stack.ts');
  const stackScript = (fn) => `await require(${JSON.stringify(path.join(ROOT, 'src', 'dev', 'stack.ts'))}).${fn}`;
  const started = [];
  const unitFiles = [...findTests('test/unit'), ...findTests('test/replay')];
  const jobs = [];
  const outcomeJobs = new Set(['unit', 'integration', 'integration-b']);
  const outcomesDone = () => {
    if ([...outcomeJobs].every((n) => finished.has(n))) writeFileSync(`${outcomesFile}.done`, '');
  };
  const finished = new Set();
  const job = (j) => jobs.push({ ...j, onDone: () => { finished.add(j.name); outcomesDone(); } });
  if (unitOnly) {
    outcomeJobs.clear();
    job({ name: 'unit', files: unitFiles, run: (lf) => runFiles(unitFiles, env, lf) });
  } else {
    const integration = findTests('test/integration');
    const own = integration.filter((f) => OWN_STACK.includes(f));
    const scans = integration.filter((f) => isScan(f) && !OWN_STACK.includes(f));
    const first = integration.filter((f) => !OWN_STACK.includes(f) && !SECOND_STACK.includes(f) && !isScan(f));
    const second = integration.filter((f) => SECOND_STACK.includes(f));
    const { stewardHome } = require('../src/dev/paths.ts');
    const bOffset = portOffset(env) + 400 <= MAX_PORT_OFFSET ? portOffset(env) + 400 : portOffset(env) - 400;
    const bHome = `${stewardHome(env)}-b`;
    const envB = { ...env, STEWARD_HOME: bHome, STEWARD_PORT_OFFSET: String(bOffset), STEWARD_CONFIG: path.join(bHome, 'steward.config.yaml') };
    const stackJob = (name, stackEnv) => ({
      name,
      after: ['tools'],
      run: async (lf) => {
        const before = await stack.status(stackEnv);
        const starting = !before.every((p) => p.ready);
        if (starting) started.push(stackEnv);
        writeFileSync(lf, `${starting ? 'starting' : 'reusing'} the stack at ${stewardHome(stackEnv)}\n`, { flag: 'a' });
        return devStep(name, `const p=${stackScript('up')}((l)=>console.error(l));if(!p.every((x)=>x.ready)){console.error(JSON.stringify(p));process.exit(1)}`, stackEnv, lf);
      },
    });
    job({ name: 'tools', run: (lf) => devStep('tools', `${stackScript('ensureTools')}((l)=>console.error(l))`, env, lf) });
    job({
      name: 'compose',
      run: (lf) => (existsSync(path.join(ROOT, 'scripts', 'build-compose.sh')) ? runStep('Compose CLI build', 'bash', [path.join(ROOT, 'scripts', 'build-compose.sh')], env, lf) : empty()),
    });
    job(stackJob('stack', env));
    if (second.length) job(stackJob('stack-b', envB));
    job({ name: 'integration', after: ['stack'], files: [...first, ...scans], run: (lf) => runFiles([...first, ...scans], env, lf) });
    if (second.length) job({ name: 'integration-b', after: ['stack-b'], files: [...second, ...scans], run: (lf) => runFiles([...second, ...scans], envB, lf) });
    if (withReliability) job({ name: 'reliability', after: ['tools'], run: (lf) => runReliability(env, outcomesFile, lf) });
    for (const f of own) job({ name: path.basename(f, '.test.ts'), after: ['tools'], files: [f], run: (lf) => runFiles([f], env, lf) });
    job({ name: 'workflows', after: ['tools'], files: findTests('test/workflows'), run: (lf) => runFiles(findTests('test/workflows'), env, lf) });
    job({ name: 'unit', after: ['compose'], files: unitFiles, run: (lf) => runFiles(unitFiles, env, lf) });
    // After the tools: its throwaway PostgreSQL needs the server binaries the tools step installs when missing.
    job({ name: 'pytest', after: ['tools'], run: (lf) => runPythonTests(env, lf) });
  }
  // STEWARD_TEST_ONLY=a,b: only those jobs and the jobs they need (to try one part of the run).
  const only = (process.env.STEWARD_TEST_ONLY || '').split(',').filter(Boolean);
  if (only.length) {
    const keep = new Set();
    const add = (n) => {
      const j = jobs.find((x) => x.name === n);
      if (!j || keep.has(n)) return;
      keep.add(n);
      (j.after || []).forEach(add);
    };
    only.forEach(add);
    for (let i = jobs.length - 1; i >= 0; i--) if (!keep.has(jobs[i].name)) jobs.splice(i, 1);
  }
  // The reliability summary waits only for the outcome-recording jobs this run has.
  for (const n of [...outcomeJobs]) if (!jobs.some((j) => j.name === n)) outcomeJobs.delete(n);
  outcomesDone();
  if (args.has('--plan')) {
    // What would run, and where, without running it.
    for (const j of jobs) process.stdout.write(`${j.name}${j.after ? ` (after ${j.after.join(', ')})` : ''}${j.files ? `: ${j.files.join(' ')}` : ''}\n`);
    rmSync(logDir, { recursive: true, force: true });
    return;
  }
  log(`${jobs.length} jobs, at most ${maxJobs} at once; logs in ${logDir}`);
  const heartbeat = setInterval(() => log(`still running: ${jobs.filter((j) => !finished.has(j.name)).map((j) => j.name).join(', ')}`), 120_000);
  let results;
  try {
    results = await schedule(jobs, maxJobs, logDir);
  } finally {
    clearInterval(heartbeat);
    for (const stackEnv of started) {
      log(`stopping the stack this run started (${stackEnv.STEWARD_HOME || 'the default home'})`);
      await stack.down((l) => log(l), stackEnv);
    }
  }
  let passed = 0;
  let failed = 0;
  const failures = [];
  const durations = [];
  const files = [];
  for (const s of results) {
    passed += s.result.passed;
    failed += s.result.failed;
    failures.push(...s.result.failures);
    durations.push(...s.result.durations);
    files.push(...(s.result.files || []));
  }
  const jobLines = results.map((s) => `${(s.ms / 1000).toFixed(0).padStart(6)} s  ${s.job.name} (${s.result.passed} passed, ${s.result.failed} failed)`);
  process.stdout.write(`\njobs (wall time ${clock()} in all):\n${jobLines.join('\n')}\n`);
  const slowFiles = [...files].sort((a, b) => b.ms - a.ms).slice(0, 10).map((f) => `${(f.ms / 1000).toFixed(0).padStart(6)} s  ${f.file}`);
  if (slowFiles.length) process.stdout.write(`\nslowest files:\n${slowFiles.join('\n')}\n`);
  process.stdout.write(formatSlowest(durations, 10));
  process.stdout.write(formatFailures(failures, 'tests'));
  rmSync(logDir, { recursive: true, force: true });
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}

main().catch((err) => {
  process.stderr.write(`[test] ${err.stack || err}\n`);
  process.stdout.write('\n0 passed, 1 failed\n');
  process.exit(1);
});
