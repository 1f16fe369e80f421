// What every deployment activity shares: the environment's config, its (first) host, SSH with heartbeats.
import { Context } from '@temporalio/activity';
import { redact } from '../../config/redact';
import type { RemoteCommand } from '../../commands/shell';
import type { EnvironmentConfig, HostConfig, StewardConfig } from '../../config/schema';
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

export function onHost(deps: DeploymentDeps, environment: string): HostRun {
  const env = environmentOf(deps.config, environment);
  // The dev stack and the demo have one host per environment; several hosts would run each step per host.
  const host = env.hosts[0]!;
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
