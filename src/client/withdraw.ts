import type { Command } from 'commander';
import { describeState, signedUpdate, withCtx } from './lifecycle-client';
import { signingOptions } from './signing';
import { emit } from './output';

export function registerWithdraw(program: Command): void {
  signingOptions(program.command('withdraw').description('withdraw your change before deployment').argument('<id>', 'the change id'))
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { as?: string; key?: string; reason: string; json?: boolean }) => {
      await withCtx(program, async (ctx) => {
        const { state: s, by } = await signedUpdate(ctx, id, 'withdraw', { reason: opts.reason }, opts);
        emit(opts, s, () => `withdrawn by ${by}\n${describeState(s)}`);
      });
    });
}
