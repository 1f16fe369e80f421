import type { Command } from 'commander';
import { describeState, update, withCtx } from './lifecycle-client';
import { emit } from './output';

export function registerReject(program: Command): void {
  program
    .command('reject')
    .description('reject a change before deployment, with a reason')
    .argument('<id>', 'the change id')
    .requiredOption('--as <user>', 'who rejects')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { as: string; reason: string; json?: boolean }) => {
      await withCtx(program, async ({ client }) => {
        const s = await update(client, id, 'reject', { by: opts.as, reason: opts.reason });
        emit(opts, s, () => `rejected by ${opts.as}\n${describeState(s)}`);
      });
    });
}
