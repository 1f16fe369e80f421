import type { Command } from 'commander';
import { changeWorkflowId } from '../workflows/lifecycle-api';
import { describeState, signedUpdate, webUiUrl, withCtx } from './lifecycle-client';
import { emit } from './output';
import { signingOptions } from './signing';

export function registerApprove(program: Command): void {
  signingOptions(
    program
      .command('approve')
      .description('approve a change, signed with your SSH key (maker-checker: never your own; the workflow refuses with the reason)')
      .argument('<id>', 'the change id'),
  )
    .option('--role <role>', 'approval role to sign under (approver, auditor, emergency-approver)')
    .option('--comment <text>', 'a comment for the record')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { as?: string; key?: string; role?: string; comment?: string; json?: boolean }) => {
      await withCtx(program, async (ctx) => {
        const { state: s, by } = await signedUpdate(ctx, id, 'approve', { ...(opts.role ? { role: opts.role } : {}), ...(opts.comment ? { comment: opts.comment } : {}) }, opts);
        emit(opts, s, () => `approved by ${by}\n${describeState(s, webUiUrl(ctx.config, changeWorkflowId(id)))}`);
      });
    });
}
