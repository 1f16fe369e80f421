// What every deployment activity shares: the environment's config, the host a step runs on, SSH with heartbeats.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { redact } from '../../config/redact';
import type { RepoAccess } from '../../commands/repo-access';
import type { BatchStep, RemoteCommand } from '../../commands/shell';
import { resolveSecret } from '../../config/secrets';
import { primaryHost, type EnvironmentConfig, type HostConfig, type StewardConfig } from '../../config/schema';
import { environmentOf } from '../environment';
import type { BatchOptions, BatchResult, ExecOptions, ExecResult, SshPool } from '../remote/ssh';

export interface DeploymentDeps {
  config: StewardConfig;
  ssh: SshPool;
}

export interface HostRun {
  env: EnvironmentConfig;
  host: HostConfig;
  run(command: RemoteCommand, opts?: ExecOptions): Promise<ExecResult>;
  /** A step's commands in one exec (one channel, one remote shell). */
  batch(steps: readonly BatchStep[], opts?: BatchOptions): Promise<BatchResult>;
}

/** Heartbeats carry only progress text, never command output that could hold a secret. */
export function heartbeat(detail: string): void {
  try {
    Context.current().heartbeat(redact(detail));
  } catch {
    // Not inside an activity (unit use): nothing to report to.
  }
}

/** The running activity's cancellation (a cancelled or timed-out activity kills its remote command's group). */
function cancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/**
 * The named host of the environment, or its primary when no host is named (the database steps, and every step of
 * a deployment recorded before hosts were named). `env.app` is the host's view of the app: its own deploy root,
 * bind and base URL where the host config sets them.
 */
export function onHost(deps: DeploymentDeps, environment: string, hostName?: string): HostRun {
  const base = environmentOf(deps.config, environment);
  const host = hostName === undefined ? primaryHost(base) : base.hosts.find((h) => h.name === hostName);
  if (!host) {
    throw ApplicationFailure.nonRetryable(
      `host ${JSON.stringify(hostName)} is not in environment ${environment} (hosts: ${base.hosts.map((h) => h.name).join(', ')})`,
      'UnknownHost',
    );
  }
  const env: EnvironmentConfig = {
    ...base,
    app: {
      ...base.app,
      deployRoot: host.deployRoot ?? base.app.deployRoot,
      bind: host.bind ?? base.app.bind,
      baseUrl: host.baseUrl ?? base.app.baseUrl,
    },
  };
  type OnOutput = ExecOptions['onOutput'];
  async function withBeat<T>(fn: (onOutput: (inner: OnOutput) => OnOutput) => Promise<T>): Promise<T> {
    let lines = 0;
    // A steady heartbeat while a command runs: a dead worker is noticed within the heartbeat timeout,
    // not after the (long) start-to-close timeout.
    const beat = setInterval(() => heartbeat(`${host!.name}: running, ${lines} lines of output`), 5_000);
    try {
      return await fn((inner) => (stream, text) => {
        lines += text.split('\n').length - 1;
        inner?.(stream, text);
      });
    } finally {
      clearInterval(beat);
    }
  }
  return {
    env,
    host,
    run(command, opts = {}) {
      return withBeat((onOutput) => deps.ssh.exec(host, command, { timeoutMs: 15 * 60_000, signal: cancellation(), ...opts, onOutput: onOutput(opts.onOutput) }));
    },
    batch(steps, opts = {}) {
      return withBeat((onOutput) => deps.ssh.execBatch(host, steps, { timeoutMs: 15 * 60_000, signal: cancellation(), ...opts, onOutput: onOutput(opts.onOutput) }));
    },
  };
}

/**
 * The app repo's access for git commands on the host: the user name for the command, the token (resolved here, in
 * the activity, and registered for redaction) for the SSH channel's stdin. None when the repo needs no credentials.
 */
export function repoAccessOf(env: EnvironmentConfig): { access?: RepoAccess; stdin?: string } {
  const c = env.app.repoCredentials;
  if (!c) return {};
  return { access: { username: c.username }, stdin: `${resolveSecret(c.token).reveal()}\n` };
}

/**
 * The exec's stdin for a batch in which `steps` commands each read the token (one line each, by `read`, which takes
 * exactly one line from a pipe): the token line once per reader. None when the repo needs no credentials.
 */
export function tokenLines(stdin: string | undefined, steps: number): string | undefined {
  return stdin === undefined ? undefined : stdin.repeat(steps);
}
