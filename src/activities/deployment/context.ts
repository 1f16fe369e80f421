// What every deployment activity shares: the environment's config, the host a step runs on, SSH with heartbeats.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { redact } from '../../config/redact';
import type { RepoAccess } from '../../commands/repo-access';
import type { RemoteCommand } from '../../commands/shell';
import { resolveSecret } from '../../config/secrets';
import { primaryHost, type EnvironmentConfig, type HostConfig, type StewardConfig } from '../../config/schema';
import { environmentOf } from '../environment';
import type { ExecOptions, ExecResult, SshPool } from '../remote/ssh';

export interface DeploymentDeps {
  config: StewardConfig;
  ssh: SshPool;
}

export interface HostRun {
  env: EnvironmentConfig;
  host: HostConfig;
  run(command: RemoteCommand, opts?: ExecOptions): Promise<ExecResult>;
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
  return {
    env,
    host,
    async run(command, opts = {}) {
      let lines = 0;
      // A steady heartbeat while a command runs: a dead worker is noticed within the heartbeat timeout,
      // not after the (long) start-to-close timeout.
      const beat = setInterval(() => heartbeat(`${host.name}: running, ${lines} lines of output`), 5_000);
      try {
        return await deps.ssh.exec(host, command, {
          timeoutMs: 15 * 60_000,
          signal: cancellation(),
          ...opts,
          onOutput: (stream, text) => {
            lines += text.split('\n').length - 1;
            opts.onOutput?.(stream, text);
          },
        });
      } finally {
        clearInterval(beat);
      }
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
