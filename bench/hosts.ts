// The production host of the bench stack, and Steward deployments on it driven by an in-process worker.
// Setup and reset steps (untimed) act on the host's files directly: the dev "host" is this machine.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { StewardConfig } from '../src/config/schema';
import { loadConfig } from '../src/config/load';
import { devLayout } from '../src/dev/paths';
import { keyringDir } from '../src/dev/stack';
import type { ChangeType } from '../src/domain/types';
import { SshPool } from '../src/activities/remote/ssh';
import { deploymentWorkflowId, type DeploymentInput, type DeploymentRecord } from '../src/workflows/deployment';
import { sh, type Opts } from './lib';
import { directOrderSubject, signAction } from '../src/client/signing';
import { loadWorkerPolicy } from '../src/activities/policy';

export const ENV = 'production';
let counter = 0;

// ---- SSH round trips of Steward's activities (this process runs the worker, so the pool is this module's) ----

export interface SshCall {
  what: string;
  ms: number;
  at: number;
  /** Commands in this exec (a batch runs several in one channel). */
  commands: number;
}
export const sshCalls: SshCall[] = [];
const originalExec = SshPool.prototype.exec;
SshPool.prototype.exec = async function (this: SshPool, host, command, opts) {
  const t0 = performance.now();
  try {
    return await originalExec.call(this, host, command, opts);
  } finally {
    const argv = command.kind === 'argv' ? command.argv : command.kind === 'secretStdin' && command.command.kind === 'argv' ? command.command.argv : [command.kind];
    sshCalls.push({ what: argv.slice(0, 3).join(' '), ms: performance.now() - t0, at: Date.now(), commands: 1 });
  }
};
const originalBatch = SshPool.prototype.execBatch;
SshPool.prototype.execBatch = async function (this: SshPool, host, steps, opts) {
  const t0 = performance.now();
  try {
    return await originalBatch.call(this, host, steps, opts);
  } finally {
    const first = steps[0]!.command;
    const argv = first.kind === 'argv' ? first.argv : [first.kind];
    sshCalls.push({ what: `batch of ${steps.length}: ${argv.slice(0, 3).join(' ')}`, ms: performance.now() - t0, at: Date.now(), commands: steps.length });
  }
};

export function deployInput(gitRef: string, changeType: ChangeType = 'feature'): DeploymentInput {
  return {
    changeId: `BENCH${Date.now().toString(36)}x${++counter}`,
    environment: ENV,
    gitRef,
    changeType,
    proposer: 'alice',
    attempt: 1,
    stagingChecks: false,
    tagRelease: true,
    humanDecisionTimeoutMs: 60_000,
  };
}

export async function stewardDeploy(client: Client, config: StewardConfig, gitRef: string): Promise<{ record: DeploymentRecord; wallMs: number; sshCalls: SshCall[] }> {
  const input = deployInput(gitRef);
  const from = sshCalls.length;
  const t0 = performance.now();
  // Started outside a change: a direct order signed by the demo emergency approver (deployment-authority).
  const workflowId = deploymentWorkflowId(input.changeId, input.environment, input.attempt);
  const key = path.join(keyringDir(devLayout()), 'ivan', 'id_ed25519');
  const directOrder = signAction(key, 'ivan', directOrderSubject({ changeId: input.changeId, workflowId, environment: input.environment, gitRef: input.gitRef, policyDigest: loadWorkerPolicy(config).digest }));
  const handle = await client.workflow.start('deployment', {
    taskQueue: config.temporal.taskQueue,
    workflowId,
    args: [{ ...input, directOrder }],
  });
  const record = (await handle.result()) as DeploymentRecord;
  return { record, wallMs: performance.now() - t0, sshCalls: sshCalls.slice(from) };
}

export function stepTimes(r: DeploymentRecord, name: string): { start: number; end: number } | undefined {
  const s = r.steps.filter((x) => x.name === name).pop();
  if (!s || !s.finishedAt) return undefined;
  return { start: Date.parse(s.startedAt), end: Date.parse(s.finishedAt) };
}

export async function healthz(config: StewardConfig, hostIndex = 0): Promise<{ release?: string; release_dir?: string } | null> {
  const env = config.environments[ENV]!;
  try {
    const res = await fetch(new URL('/healthz', env.hosts[hostIndex]?.baseUrl ?? env.app.baseUrl), { signal: AbortSignal.timeout(3000) });
    return (await res.json()) as { release?: string; release_dir?: string };
  } catch {
    return null;
  }
}

// ---- host facts and resets ----------------------------------------------------------------------------------

export function hostPaths(config: StewardConfig) {
  const app = config.environments[ENV]!.app;
  const layout = devLayout();
  const host = layout.host(ENV);
  return { deployRoot: app.deployRoot, shared: host.sharedDir, backups: config.environments[ENV]!.database.backupDir, origin: layout.originRepo, benchDir: path.join(layout.home, 'bench') };
}

export function requirementsHash(origin: string, ref: string): string {
  return createHash('sha256').update(sh('git', ['--git-dir', origin, 'show', `${ref}:requirements.txt`])).digest('hex');
}

/** A checkout of r03 (knows migration 0003) with the baseline venv, to reverse the schema between runs. */
export function toolsCheckout(config: StewardConfig): { dir: string; python: string; env: NodeJS.ProcessEnv } {
  const p = hostPaths(config);
  const dir = path.join(p.benchDir, 'tools-r03');
  const venv = path.join(p.deployRoot, 'venvs', requirementsHash(p.origin, 'r03-additive-migration'));
  if (!existsSync(path.join(dir, 'manage.py'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    sh('sh', ['-c', 'git --git-dir="$1" archive --format=tar r03-additive-migration | tar -x -C "$2"', 'x', p.origin, dir]);
  }
  try {
    readlinkSync(path.join(dir, '.venv'));
  } catch {
    symlinkSync(venv, path.join(dir, '.venv'));
  }
  return { dir, python: path.join(dir, '.venv', 'bin', 'python'), env: { ...process.env, BANKAPP_ENV_FILE: path.join(p.shared, 'app.env') } };
}

export function reverseTo0002(config: StewardConfig): void {
  const t = toolsCheckout(config);
  sh(t.python, ['manage.py', 'migrate', '--noinput', 'banking', '0002_audit_log_append_only'], { cwd: t.dir, env: t.env });
}

/** Removes what a timed run must build again on every production host of the dev stack (see forgetR09On). */
export function forgetR09(config: StewardConfig): void {
  const p = hostPaths(config);
  const env = loadConfig(devLayout().configFile).environments[ENV]!;
  for (const h of env.hosts) if (h.deployRoot && h.deployRoot !== p.deployRoot) forgetR09On(config, h.deployRoot);
  forgetR09On(config, p.deployRoot);
}

/** r09's venv (Steward's, by hash), the script's venvs and releases, the last backups. */
function forgetR09On(config: StewardConfig, deployRoot: string): void {
  const p = { ...hostPaths(config), deployRoot };
  if (!existsSync(path.join(p.deployRoot, 'venvs'))) return;
  const live = (() => {
    try {
      return readlinkSync(path.join(p.deployRoot, 'current'));
    } catch {
      return '';
    }
  })();
  rmSync(path.join(p.deployRoot, 'venvs', requirementsHash(p.origin, 'r09-requirements')), { recursive: true, force: true });
  for (const v of readdirSync(path.join(p.deployRoot, 'venvs'))) if (v.startsWith('script-')) rmSync(path.join(p.deployRoot, 'venvs', v), { recursive: true, force: true });
  for (const r of readdirSync(path.join(p.deployRoot, 'releases'))) {
    const full = path.join(p.deployRoot, 'releases', r);
    if (r.startsWith('bench-script-') && full !== live) rmSync(full, { recursive: true, force: true });
  }
  if (existsSync(p.backups)) for (const f of readdirSync(p.backups)) if (f.endsWith('.dump') || f.endsWith('.partial')) rmSync(path.join(p.backups, f), { force: true });
}

/** Brings production to r02 on schema 0002 (untimed): the state every timed deploy run starts from. */
export async function resetToR02(client: Client, config: StewardConfig, opts: Opts): Promise<void> {
  reverseTo0002(config);
  const live = await Promise.all(config.environments[ENV]!.hosts.map((_, i) => healthz(config, i)));
  if (live.some((h) => h?.release !== 'r02-cosmetic')) {
    const { record } = await stewardDeploy(client, config, 'r02-cosmetic');
    if (record.status !== 'deployed') throw new Error(`reset deploy of r02 failed: ${record.status} ${record.reason ?? ''}`);
  }
  forgetR09(config);
  opts.log('  reset: production on r02-cosmetic, schema 0002, no r09 venv');
}
