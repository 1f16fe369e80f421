import type { Command } from 'commander';
import { describeState, update, withCtx } from './lifecycle-client';
import { emit } from './output';

export function registerWithdraw(program: Command): void {
  program
    .command('withdraw')
    .description('withdraw your change before deployment')
    .argument('<id>', 'the change id')
    .requiredOption('--as <user>', 'the proposer or implementer')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { as: string; reason: string; json?: boolean }) => {
      await withCtx(program, async ({ client }) => {
        const s = await update(client, id, 'withdraw', { by: opts.as, reason: opts.reason });
        emit(opts, s, () => `withdrawn by ${opts.as}\n${describeState(s)}`);
      });
    });
}
