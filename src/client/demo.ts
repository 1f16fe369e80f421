import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import { up } from '../dev/stack';
import { startWorker } from '../workers/worker';
import { runPing } from './ping';
import { CliError } from './temporal';
import { emit, progress } from './output';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('on the local stack: start everything, then run the demo end to end')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const parts = await up(progress);
      if (!parts.every((p) => p.ready)) throw new CliError('the local stack is not ready; run `steward dev status`');
      const config = loadConfig(program.opts().config);
      const worker = await startWorker(config, { identity: 'steward-demo' });
      try {
        progress('pinging the staging and production hosts through a Temporal workflow');
        const { result, url } = await runPing(program.opts().config, ['staging', 'production']);
        emit(opts, { ping: result, url }, () =>
          [...result.hosts.map((h) => `ping ${h.environment}: ${h.nodeName} as ${h.user}, deploy root ${h.deployRootOk ? 'ok' : 'MISSING'}`), `Open the Web UI: ${url}`].join('\n'),
        );
      } finally {
        await worker.shutdown();
      }
    });
}
