import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import type { PingResult } from '../workflows/ping';
import { connectClient } from './temporal';
import { emit } from './output';

export async function runPing(configFile: string | undefined, environments: string[]): Promise<{ result: PingResult; url: string }> {
  const config = loadConfig(configFile);
  const client = await connectClient(config);
  try {
    const workflowId = `ping-${environments.join('-')}-${Date.now()}`;
    const handle = await client.workflow.start('ping', {
      taskQueue: config.temporal.taskQueue,
      workflowId,
      args: [{ environments }],
      staticSummary: `Ping ${environments.join(' and ')} over SSH`,
    });
    const result = (await handle.result()) as PingResult;
    const url = `${config.temporal.webUiUrl}/namespaces/${config.temporal.namespace}/workflows/${workflowId}`;
    return { result, url };
  } finally {
    await client.connection.close();
  }
}

export function registerPing(program: Command): void {
  program
    .command('ping')
    .description('run a command on each host of the environments over SSH, through a Temporal workflow')
    .argument('[environments...]', 'environments to ping', ['staging', 'production'])
    .option('--json', 'machine-readable output')
    .action(async (environments: string[], opts: { json?: boolean }) => {
      const { result, url } = await runPing(program.opts().config, environments);
      emit(opts, { ...result, url }, () =>
        [...result.hosts.map((h) => `${h.environment.padEnd(11)} ${h.host.padEnd(14)} ${h.nodeName} as ${h.user}, deploy root ${h.deployRootOk ? 'ok' : 'MISSING'} (${h.durationMs} ms)`), `Web UI: ${url}`].join('\n'),
      );
    });
}
