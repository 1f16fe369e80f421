import type { Command } from 'commander';
import { changeWorkflowId } from '../workflows/lifecycle-api';
import { describeState, queryStatus, webUiUrl, withCtx } from './lifecycle-client';
import { emit } from './output';
import { describePending, runningDeployment } from './decisions';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('the whole state of a change: phase, risk, signoffs, awaiting, deployments, rejected attempts')
    .argument('<id>', 'the change id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withCtx(program, async ({ client, config }) => {
        const s = await queryStatus(client, id);
        const url = webUiUrl(config, changeWorkflowId(id));
        // The running deployment's own state: the decision it waits for and who may give it.
        const deployment = s.runningDeployment ? await runningDeployment(client, id).catch(() => undefined) : undefined;
        emit(opts, { ...s, url, ...(deployment ? { runningDeploymentRecord: { status: deployment.status, pendingDecision: deployment.pendingDecision ?? null } } : {}) }, () =>
          [describeState(s, url), ...(deployment ? [`  ${describePending(deployment).replace(/\n/g, '\n  ')}`] : []), '  history:', ...s.history.map((h) => `    ${h.at} ${h.from} → ${h.to} by ${h.by}: ${h.reason}`)].join('\n'),
        );
      });
    });
}
