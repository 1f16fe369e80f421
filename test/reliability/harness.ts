// Fault injection against the real local stack (its own: STEWARD_HOME=.steward-rel, ports +600).
// Worker processes are spawned and killed by pid; the stack's own processes are stopped and started by their pid
// files. Every assertion looks at the host, the database and HTTP — never only at Steward's own record.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
// Defaults for running a file directly; scripts/test-reliability.js sets the same ones.
process.env.STEWARD_HOME ??= path.join(ROOT, '.steward-rel');
process.env.STEWARD_PORT_OFFSET ??= '600';
process.env.STEWARD_CONFIG ??= path.join(process.env.STEWARD_HOME, 'steward.config.yaml');

import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { stringify } from 'yaml';
import { createDeploymentActivities } from '../../src/activities/deployment';
import { HttpSession } from '../../src/activities/http/client';
import { SshPool } from '../../src/activities/remote/ssh';
import { migrateTo } from '../../src/commands/python';
import { releasePaths } from '../../src/commands/release';
import { cmd } from '../../src/commands/shell';
import { loadConfig } from '../../src/config/load';
import { primaryHost, type StewardConfig } from '../../src/config/schema';
import { resolveSecret } from '../../src/config/secrets';
import { devLayout, devPorts } from '../../src/dev/paths';
import { isAlive, readPid } from '../../src/dev/processes';
import { deploymentWorkflowId, type DeploymentInput, type DeploymentRecord } from '../../src/workflows/deployment';
import { loadWorkerPolicy } from '../../src/activities/policy';
import { signDirectOrder } from '../helpers/signing';

export { ROOT };
export const ENV = 'production';
export const QUICK = process.env.STEWARD_REL_QUICK === '1';
export const BASELINE_RELEASE = 'relbase-r02';
export const MIGRATOR_RELEASE = 'relbase-r03';
export const STATE_ZERO_3 = '0002_audit_log_append_only';

export const layout = () => devLayout();
export const relDir = () => path.join(layout().home, 'reliability');
export const faultsFile = () => path.join(relDir(), 'faults.jsonl');
export const log = (line: string) => process.stderr.write(`[reliability] ${new Date().toISOString().slice(11, 19)} ${line}\n`);
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The generated config of the reliability stack, with a task queue of its own. */
export function relConfig(queue: string): StewardConfig {
  const config = loadConfig(layout().configFile);
  config.temporal.taskQueue = `steward-rel-${queue}`;
  return config;
}

export function writeConfigCopy(config: StewardConfig, name: string): string {
  mkdirSync(relDir(), { recursive: true });
  const file = path.join(relDir(), `${name}.config.yaml`);
  writeFileSync(file, stringify(config));
  return file;
}

// ---- worker processes ---------------------------------------------------------------------------------------

const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** `node bin/steward.js worker` with its own config file; killed and restarted by pid. */
export class WorkerProcess {
  child!: ChildProcess;
  exited!: Promise<void>;
  starts = 0;
  constructor(readonly name: string, readonly configFile: string) {
    this.logFile = path.join(layout().logs, `rel-worker-${name}.log`);
  }

  readonly logFile: string;
  #logOffset = 0;

  start(): this {
    mkdirSync(path.dirname(this.logFile), { recursive: true });
    const out = openSync(this.logFile, 'a');
    this.#logOffset = statSync(this.logFile).size;
    this.child = spawn(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), 'worker'], {
      env: { ...process.env, STEWARD_CONFIG: this.configFile },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    started.add(this.child);
    this.starts += 1;
    const child = this.child;
    this.exited = new Promise((r) => child.once('exit', () => r()));
    log(`worker ${this.name} started (pid ${child.pid})`);
    return this;
  }

  /** Resolves once this start has printed "steward worker polling" (workflow bundle built, polling). */
  async ready(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (readFileSync(this.logFile, 'utf8').slice(this.#logOffset).includes('steward worker polling')) return;
      if (!this.alive) throw new Error(`worker ${this.name} exited: ${readFileSync(this.logFile, 'utf8').slice(this.#logOffset).slice(-800)}`);
      await sleep(100);
    }
    throw new Error(`worker ${this.name} not polling after ${timeoutMs / 1000} s`);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill9(): Promise<number> {
    const pid = this.child.pid!;
    process.kill(pid, 'SIGKILL');
    await this.exited;
    started.delete(this.child);
    log(`worker ${this.name} killed with SIGKILL (pid ${pid})`);
    return pid;
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(20_000).then(() => false)]);
    if (!done) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    started.delete(this.child);
  }
}

// ---- Temporal client --------------------------------------------------------------------------------------

export async function connectClient(config: StewardConfig): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: config.temporal.address });
  return { client: new Client({ connection, namespace: config.temporal.namespace }), close: () => connection.close() };
}

let counter = 0;
export function relInput(gitRef: string, over: Partial<DeploymentInput> = {}): DeploymentInput {
  return {
    changeId: `REL${Date.now().toString(36).toUpperCase()}${++counter}`,
    environment: ENV,
    gitRef,
    changeType: 'feature',
    proposer: 'alice',
    attempt: 1,
    stagingChecks: false,
    tagRelease: true,
    humanDecisionTimeoutMs: 120_000,
    ...over,
  };
}

/** Starts a deployment directly, with a signed direct order by a demo emergency approver (deployment-authority). */
export async function startDeployment(client: Client, config: StewardConfig, input: DeploymentInput): Promise<WorkflowHandle> {
  const directOrder = input.directOrder ?? signDirectOrder(input, loadWorkerPolicy(config).digest);
  return client.workflow.start('deployment', {
    taskQueue: config.temporal.taskQueue,
    workflowId: deploymentWorkflowId(input.changeId, input.environment, input.attempt),
    args: [{ ...input, directOrder }],
  });
}

/** Polls the `status` query until `pick` returns something (queries fail while a worker or the server is down). */
export async function pollStatus<T>(handle: WorkflowHandle, pick: (r: DeploymentRecord) => T | undefined, timeoutMs = 240_000, everyMs = 40): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: DeploymentRecord | undefined;
  let lastErr = '';
  for (;;) {
    try {
      last = (await handle.query('status')) as DeploymentRecord;
      const got = pick(last);
      if (got !== undefined) return got;
      if (last.finishedAt) throw new Error(`deployment ended ${last.status} (${last.reason ?? ''}) first; steps: ${stepsText(last)}`);
    } catch (err) {
      if ((err as Error).message.startsWith('deployment ended')) throw err;
      lastErr = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out polling ${handle.workflowId}: ${last ? `${last.status}; ${stepsText(last)}` : lastErr}`);
    await sleep(everyMs);
  }
}

/** The workflow's result, retried across a server outage. */
export async function resultOf(handle: WorkflowHandle, timeoutMs = 600_000): Promise<DeploymentRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return (await handle.result()) as DeploymentRecord;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      const msg = (err as Error).message;
      if (!/UNAVAILABLE|connect|deadline|transport|Connection|unavailable/i.test(msg)) throw err;
      await sleep(1000);
    }
  }
}

export const stepsText = (r: DeploymentRecord) => r.steps.map((s) => `${s.name}=${s.outcome}`).join(', ');
export const timeline = (r: DeploymentRecord) =>
  r.steps.map((s) => `${s.name}:${s.outcome}:${((s.durationMs ?? 0) / 1000).toFixed(1)}`).join(' | ') +
  ` | total ${r.finishedAt ? ((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(0) : '?'} s`;

// ---- the host, the database, HTTP -------------------------------------------------------------------------

export class Host {
  readonly pool = new SshPool();
  readonly acts;
  constructor(readonly config: StewardConfig) {
    this.acts = createDeploymentActivities({ config, ssh: this.pool });
  }
  get env() {
    return this.config.environments[ENV]!;
  }
  async sh(argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    return this.pool.exec(primaryHost(this.env), cmd(argv), { allowFailure: true, timeoutMs: 120_000 });
  }
  close(): void {
    this.pool.close();
  }
}

export async function dbQuery<T = Record<string, unknown>>(config: StewardConfig, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new PgClient({ connectionString: resolveSecret(config.environments[ENV]!.database.url).reveal() });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

export async function bankingMigrations(config: StewardConfig): Promise<{ name: string; n: number }[]> {
  return dbQuery(config, `SELECT name, count(*)::int AS n FROM django_migrations WHERE app = 'banking' GROUP BY name ORDER BY name`);
}

/** The live release's `financial_invariants`, without the smoke tenant (smoke tests post there on purpose). */
export async function invariants(host: Host): Promise<Record<string, unknown>> {
  const cur = `${host.env.app.deployRoot}/current`;
  const r = await host.sh([`${cur}/.venv/bin/python`, `${cur}/manage.py`, 'financial_invariants']);
  if (r.exitCode !== 0) throw new Error(`financial_invariants failed: ${r.stderr.slice(-500)}`);
  const tenants = (JSON.parse(r.stdout) as { tenants: Record<string, unknown> }).tenants;
  const smoke = host.env.app.smokeUsers?.tenant ?? 'smoke';
  return Object.fromEntries(Object.entries(tenants).filter(([k]) => k !== smoke).sort(([a], [b]) => a.localeCompare(b)));
}

export async function currentRelease(host: Host): Promise<string | null> {
  return (await host.acts.readCurrentRelease({ environment: ENV })).releaseId;
}

export async function healthz(config: StewardConfig): Promise<{ release: string; release_dir: string }> {
  const res = await fetch(new URL('/healthz', config.environments[ENV]!.app.baseUrl), { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as { release: string; release_dir: string };
}

/** HTTP against the app: /healthz names the release; a smoke maker logs in and the dashboard loads. */
export async function appGreen(config: StewardConfig, expect: { release: string; releaseDir: string }): Promise<string[]> {
  const problems: string[] = [];
  try {
    const h = await healthz(config);
    if (h.release !== expect.release) problems.push(`/healthz release ${h.release}, expected ${expect.release}`);
    if (h.release_dir !== expect.releaseDir) problems.push(`/healthz release_dir ${h.release_dir}, expected ${expect.releaseDir}`);
    const users = config.environments[ENV]!.app.smokeUsers!;
    const s = new HttpSession(config.environments[ENV]!.app.baseUrl);
    const login = await s.submit('/login/', { username: users.maker, password: resolveSecret(users.password).reveal() });
    if (login.status !== 302 || (login.location ?? '').includes('/login')) problems.push(`login answered ${login.status}`);
    const dash = await s.get('/dashboard/');
    if (dash.status !== 200 || !dash.body.includes('data-smoke')) problems.push(`/dashboard/ answered ${dash.status}`);
  } catch (err) {
    problems.push(`HTTP: ${(err as Error).message}`);
  }
  return problems;
}

export function auditVerify(): { ok: boolean; output: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), 'audit', 'verify'], { encoding: 'utf8', env: process.env, timeout: 120_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim().split('\n').slice(-2).join(' ') };
}

export interface Expectation {
  releaseId: string;
  /** Where `current` must point: a single release id, or several acceptable ones (either the old or the new). */
  current: string[];
  /** The release tag each acceptable `current` serves (same order). */
  serves: string[];
  /** A verified backup for this release id must exist (exactly one file, no partial). */
  backup: 'one' | 'none' | 'any';
  /** The backup file the deployment recorded (since backups are named by run: `<release id>-<run id>.dump`). */
  backupFile?: string;
  /** A kill during the restore check may leave its scratch database until the retry drops it. */
  scratchMayRemain?: boolean;
  /** The release dir of this id: exactly one, or none (removed after a refused/failed deployment). */
  releaseDir: 'one' | 'none' | 'any';
  /** Banking migrations that must be applied, each exactly once; for several `current`, per `current`. */
  migrations: string[][];
  invariantsBefore: Record<string, unknown>;
}

export interface Verdict {
  problems: string[];
  dataLost: string[];
  current: string | null;
}

/** Every check against the host and the database, collected (not thrown) so a fault record can be written first. */
export async function checkHost(host: Host, config: StewardConfig, e: Expectation): Promise<Verdict> {
  const problems: string[] = [];
  const dataLost: string[] = [];
  const root = host.env.app.deployRoot;
  const backupDir = host.env.database.backupDir;
  const current = await currentRelease(host);
  const which = e.current.indexOf(current ?? '');
  if (which < 0) problems.push(`current → ${current}, expected ${e.current.join(' or ')}`);
  const dirs = (await host.sh(['sh', '-c', 'ls -1a -- "$1" | grep -F -- "$2" || true', 'ls', `${root}/releases`, e.releaseId])).stdout.split('\n').filter(Boolean);
  if (e.releaseDir === 'one' && (dirs.length !== 1 || dirs[0] !== e.releaseId)) problems.push(`release dirs for ${e.releaseId}: [${dirs.join(', ')}], expected exactly one`);
  if (e.releaseDir === 'none' && dirs.length) problems.push(`release dirs left for ${e.releaseId}: [${dirs.join(', ')}]`);
  const backups = (await host.sh(['sh', '-c', 'ls -1 -- "$1" | grep -F -- "$2" || true', 'ls', backupDir, e.releaseId])).stdout.split('\n').filter(Boolean);
  if (e.backup === 'one') {
    const want = e.backupFile ? path.basename(e.backupFile) : `${e.releaseId}.dump`;
    if (backups.length !== 1 || backups[0] !== want) problems.push(`backup files for ${e.releaseId}: [${backups.join(', ')}], expected exactly ${want}`);
    const list = await host.sh(['pg_restore', '--list', `${backupDir}/${want}`]);
    if (list.exitCode !== 0) {
      problems.push(`pg_restore --list of the backup exited ${list.exitCode}`);
      dataLost.push('no verified backup of a deployment that migrated');
    }
  } else if (e.backup === 'none' && backups.length) {
    problems.push(`backup files left for a deployment whose backup failed: [${backups.join(', ')}]`);
  }
  // The restore check drops its scratch database, whatever happened to the worker in between (retries drop a
  // leftover one first).
  const scratch = await dbQuery<{ datname: string }>(config, `SELECT datname FROM pg_database WHERE datname LIKE 'steward_verify_%'`);
  if (scratch.length && !e.scratchMayRemain) problems.push(`scratch databases left: ${scratch.map((d) => d.datname).join(', ')}`);
  const rows = await bankingMigrations(config);
  const dup = rows.filter((r) => r.n !== 1);
  if (dup.length) {
    problems.push(`django_migrations duplicates: ${dup.map((d) => `${d.name}×${d.n}`).join(', ')}`);
    dataLost.push('duplicate migration rows');
  }
  const applied = rows.map((r) => r.name);
  const wanted = e.migrations[Math.max(0, which)] ?? e.migrations[0]!;
  if (JSON.stringify(applied) !== JSON.stringify(wanted)) problems.push(`banking migrations applied [${applied.join(', ')}], expected [${wanted.join(', ')}]`);
  const show = await host.sh([`${root}/current/.venv/bin/python`, `${root}/current/manage.py`, 'showmigrations', 'banking']);
  if (show.exitCode !== 0 || /\[ \]/.test(show.stdout)) problems.push(`showmigrations banking: ${show.stdout.replace(/\s+/g, ' ').trim()} ${show.stderr.slice(-200)}`);
  if (which >= 0) problems.push(...(await appGreen(config, { release: e.serves[which]!, releaseDir: current! })));
  try {
    const after = await invariants(host);
    if (JSON.stringify(after) !== JSON.stringify(e.invariantsBefore)) {
      problems.push(`invariants of the non-smoke tenants changed: ${JSON.stringify(e.invariantsBefore)} → ${JSON.stringify(after)}`);
      dataLost.push('non-smoke balances changed');
    }
  } catch (err) {
    problems.push((err as Error).message);
  }
  const audit = auditVerify();
  if (!audit.ok) {
    problems.push(`steward audit verify: ${audit.output}`);
    dataLost.push('audit chain broken');
  }
  return { problems, dataLost, current };
}

// ---- baseline: production serving r02 at migration 0002, reached without Steward's workflow ------------------

export function requirementsHash(tag: string): string {
  const text = spawnSync('git', ['--git-dir', layout().originRepo, 'show', `${tag}:requirements.txt`], { encoding: 'utf8' });
  if (text.status !== 0) throw new Error(`cannot read requirements.txt of ${tag}: ${text.stderr}`);
  return createHash('sha256').update(text.stdout).digest('hex');
}

/** A step of the deployment by its name; on a fleet the per-host steps are named "<step> on <host>". */
export const isStep = (name: string, step: string) => name === step || name.startsWith(`${step} on `);

/** Every host of the environment (production is a fleet of two on the local stack). */
const hostNames = (host: Host) => host.env.hosts.map((h) => h.name);

async function prepareFixed(host: Host, releaseId: string, gitRef: string, statics: boolean, only?: string): Promise<void> {
  for (const name of only ? [only] : hostNames(host)) {
    const p = await host.acts.prepareRelease({ environment: ENV, host: name, releaseId, gitRef });
    await host.acts.prepareVirtualenv({ environment: ENV, host: name, releaseId, requirementsHash: p.requirementsHash });
    if (statics) await host.acts.collectStatic({ environment: ENV, host: name, releaseId });
  }
}

/**
 * Puts production back to r02 (code only) at banking 0002, serving and green, so that the next deployment of
 * r09 does every step for real: a new venv (when `dropVenvOf` names it), migration 0003, a full restart.
 */
export async function resetBaseline(host: Host, config: StewardConfig, opts: { dropVenvOf?: string } = {}): Promise<void> {
  const t0 = Date.now();
  await prepareFixed(host, BASELINE_RELEASE, 'r02-cosmetic', true);
  for (const name of hostNames(host)) {
    await host.acts.switchRelease({ environment: ENV, host: name, releaseId: BASELINE_RELEASE });
    await host.acts.restartApp({ environment: ENV, host: name, releaseId: BASELINE_RELEASE });
  }
  const applied = (await bankingMigrations(config)).map((r) => r.name);
  if (applied.some((n) => n > STATE_ZERO_3)) {
    await prepareFixed(host, MIGRATOR_RELEASE, 'r03-additive-migration', false, primaryHost(host.env).name);
    const dir = releasePaths(host.env.app.deployRoot, MIGRATOR_RELEASE).release;
    await host.pool.exec(primaryHost(host.env), migrateTo(dir, 'banking', STATE_ZERO_3), { timeoutMs: 120_000 });
  }
  // A run interrupted half-way may have left posting frozen.
  const cur = `${host.env.app.deployRoot}/current`;
  await host.sh([`${cur}/.venv/bin/python`, `${cur}/manage.py`, 'feature_flag', 'posting', 'on', '--reason', 'reliability baseline']);
  if (opts.dropVenvOf) {
    const venv = `${host.env.app.deployRoot}/venvs/${requirementsHash(opts.dropVenvOf)}`;
    if (venv.endsWith(requirementsHash('r02-cosmetic'))) throw new Error('refusing to drop the live venv');
    await host.sh(['rm', '-rf', '--', venv]);
  }
  log(`baseline: ${BASELINE_RELEASE} (r02) at banking ${STATE_ZERO_3}, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

export const MIGRATIONS_R02 = ['0001_initial', '0002_audit_log_append_only'];
export const MIGRATIONS_R03 = [...MIGRATIONS_R02, '0003_deposit_channel'];

// ---- fault records ---------------------------------------------------------------------------------------

export interface FaultRecord {
  id: string;
  group: 'worker-kill' | 'risky' | 'operator';
  fault: string;
  where: string;
  injected: boolean;
  survived: boolean;
  dataLost: boolean;
  outcome: string;
  detail: string;
  seconds: number;
  /** Step durations of the deployment, "name:outcome:seconds". */
  timeline?: string;
}

export function recordFault(r: FaultRecord): void {
  mkdirSync(relDir(), { recursive: true });
  appendFileSync(faultsFile(), `${JSON.stringify(r)}\n`);
  log(`${r.survived ? 'SURVIVED' : 'FAILED'} ${r.id}: ${r.outcome}${r.detail ? ` — ${r.detail}` : ''}`);
}

// ---- the stack's own processes, by pid file --------------------------------------------------------------

export function pidOf(part: string): number | undefined {
  const pid = readPid(path.join(layout().pids, `${part}.pid`));
  return isAlive(pid) ? pid : undefined;
}

/** Direct children of a process (e.g. sshd's per-connection session processes), from /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

export const ports = () => devPorts();

// ---- Killing a worker at a step (worker-kill, two-workers, risky-points) -------------------------------------

/** A step by name (per-host steps "<step> on <host>" match too), or any step the predicate accepts. */
export type StepMatch = string | ((name: string) => boolean);
const matches = (m: StepMatch, name: string) => (typeof m === 'string' ? isStep(name, m) : m(name));

export interface KillPoint {
  step: StepMatch;
  /** "during": while the step runs; "after": once it is done. */
  when: 'during' | 'after';
  /** Wait this long after seeing the step running, to be well inside it. */
  delayMs?: number;
  timeoutMs?: number;
  everyMs?: number;
}

/** The worker whose identity ("<pid>@<host>") the workflow's pending activity names; polled for up to ~5 s. */
export async function workerHolding(handle: WorkflowHandle, workers: readonly WorkerProcess[]): Promise<WorkerProcess | undefined> {
  for (let i = 0; i < 100; i++) {
    const d = await handle.describe();
    const identity = d.raw.pendingActivities?.find((a) => a.lastWorkerIdentity)?.lastWorkerIdentity ?? '';
    const holder = workers.find((w) => identity.startsWith(`${w.child.pid}@`));
    if (holder) return holder;
    await sleep(50);
  }
  return undefined;
}

/**
 * Waits for the step (a step that fails first throws, with `injected: false`), then SIGKILLs the worker running it —
 * the only one, or, of several, the one the pending activity names — and starts it again when `restart` (what its
 * supervisor would do). Returns the step's outcome as the status query saw it at the kill.
 */
export async function killWorkerAtStep(
  handle: WorkflowHandle,
  workers: readonly WorkerProcess[],
  point: KillPoint,
  opts: { restart: boolean },
): Promise<{ killed: WorkerProcess; pid: number; step: string; at: string }> {
  let seen: { step: string; outcome: string };
  try {
    seen = await pollStatus(
      handle,
      (r) => {
        const s = r.steps.find((x) => matches(point.step, x.name));
        if (!s) return undefined;
        if (point.when === 'during' && s.outcome === 'running') return { step: s.name, outcome: 'running' };
        if (s.outcome === 'ok') return { step: s.name, outcome: 'ok' };
        if (s.outcome === 'failed') throw new Error(`deployment ended: step ${s.name} failed before the kill: ${s.detail}`);
        return undefined;
      },
      point.timeoutMs,
      point.everyMs,
    );
  } catch (err) {
    throw Object.assign(err as Error, { injected: false });
  }
  if (seen.outcome === 'running' && point.delayMs) await sleep(point.delayMs);
  const killed = workers.length === 1 ? workers[0] : await workerHolding(handle, workers);
  if (!killed) throw Object.assign(new Error(`none of the workers ${workers.map((w) => w.name).join(', ')} holds the running activity`), { injected: false });
  const state = (await handle.query('status').catch(() => undefined)) as DeploymentRecord | undefined;
  const pid = await killed.kill9();
  const at = state?.steps.find((s) => s.name === seen.step)?.outcome ?? seen.outcome;
  log(`killed worker ${killed.name} (pid ${pid}) with "${seen.step}" ${at}`);
  if (opts.restart) killed.start();
  return { killed, pid, step: seen.step, at };
}

/**
 * After a kill: waits for the deployment's end and checks the host against `expect(record)` (plus `more(record)`);
 * never throws, so the caller can record the fault either way.
 */
export async function outcomeAfterKill(
  handle: WorkflowHandle,
  host: Host,
  config: StewardConfig,
  expect: (r: DeploymentRecord) => Expectation,
  more: (r: DeploymentRecord) => string[] = () => [],
): Promise<{ outcome: string; steps: string; problems: string[]; dataLost: string[] }> {
  const problems: string[] = [];
  let outcome = 'did not finish';
  let steps = '';
  let dataLost: string[] = [];
  try {
    const r = await resultOf(handle);
    steps = timeline(r);
    outcome = `${r.status}${r.reason ? ` (${r.reason.slice(0, 160)})` : ''}`;
    if (r.status !== 'deployed') problems.push(`deployment ended ${r.status}: ${r.reason ?? ''}; ${stepsText(r)}`);
    const v = await checkHost(host, config, expect(r));
    problems.push(...v.problems, ...more(r));
    dataLost = v.dataLost;
  } catch (err) {
    problems.push(`error: ${(err as Error).message}`);
  }
  return { outcome, steps, problems, dataLost };
}
