import type { Command } from 'commander';
import { defaultConfigPath, loadConfig } from '../config/load';
import { startWorker } from '../workers/worker';
import { progress } from './output';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run the Steward worker (task queue "steward") until interrupted')
    .option('--json', 'machine-readable output')
    .action(async () => {
      const file = defaultConfigPath();
      const config = loadConfig(program.opts().config ?? file);
      const w = await startWorker(config, { configFile: program.opts().config ?? file, checkpointSchedule: true });
      progress(`steward worker polling ${config.temporal.taskQueue} on ${config.temporal.address}`);
      const stop = () => void w.shutdown();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await w.run;
    });
}
