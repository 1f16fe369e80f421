import type { Command } from 'commander';
import { describeState, signedUpdate, withCtx } from './lifecycle-client';
import { signingOptions } from './signing';
import { emit } from './output';

export function registerReject(program: Command): void {
  signingOptions(program.command('reject').description('reject a change before deployment, with a reason').argument('<id>', 'the change id'))
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { as?: string; key?: string; reason: string; json?: boolean }) => {
      await withCtx(program, async (ctx) => {
        const { state: s, by } = await signedUpdate(ctx, id, 'reject', { reason: opts.reason }, opts);
        emit(opts, s, () => `rejected by ${by}\n${describeState(s)}`);
      });
    });
}
