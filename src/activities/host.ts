// Activities that look at a target host. Built by a factory with injected dependencies (config, SSH pool).
import { pingHost as pingHostCommand } from '../commands/host';
import type { StewardConfig } from '../config/schema';
import type { SshPool } from './remote/ssh';
import { environmentOf } from './environment';

export interface HostPing {
  environment: string;
  host: string;
  nodeName: string;
  user: string;
  deployRootOk: boolean;
  durationMs: number;
}

export function createHostActivities(deps: { config: StewardConfig; ssh: SshPool }) {
  return {
    async pingHosts(input: { environment: string }): Promise<HostPing[]> {
      const env = environmentOf(deps.config, input.environment);
      const results: HostPing[] = [];
      for (const host of env.hosts) {
        const r = await deps.ssh.exec(host, pingHostCommand(env.app.deployRoot), { timeoutMs: 30_000 });
        const [nodeName = '', user = '', marker = ''] = r.stdout.trim().split('\n');
        results.push({
          environment: input.environment,
          host: host.name,
          nodeName,
          user,
          deployRootOk: marker === 'deploy-root-ok',
          durationMs: r.durationMs,
        });
      }
      return results;
    },
  };
}
