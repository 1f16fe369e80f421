import type { Command } from 'commander';
import { changeWorkflowId } from '../workflows/lifecycle-api';
import { describeState, update, webUiUrl, withCtx } from './lifecycle-client';
import { emit } from './output';

export function registerApprove(program: Command): void {
  program
    .command('approve')
    .description('approve a change (maker-checker: never your own; the workflow refuses with the reason)')
    .argument('<id>', 'the change id')
    .requiredOption('--as <user>', 'who approves (a person in policy.people)')
    .option('--role <role>', 'approval role to sign under (approver, auditor, emergency-approver)')
    .option('--comment <text>', 'a comment for the record')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { as: string; role?: string; comment?: string; json?: boolean }) => {
      await withCtx(program, async ({ client, config }) => {
        const s = await update(client, id, 'approve', { by: opts.as, ...(opts.role ? { role: opts.role } : {}), ...(opts.comment ? { comment: opts.comment } : {}) });
        emit(opts, s, () => `approved by ${opts.as}\n${describeState(s, webUiUrl(config, changeWorkflowId(id)))}`);
      });
    });
}
