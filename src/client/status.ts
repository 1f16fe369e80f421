import type { Command } from 'commander';
import { changeWorkflowId } from '../workflows/lifecycle-api';
import { describeState, queryStatus, webUiUrl, withCtx } from './lifecycle-client';
import { emit } from './output';

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
        emit(opts, { ...s, url }, () =>
          [describeState(s, url), '  history:', ...s.history.map((h) => `    ${h.at} ${h.from} → ${h.to} by ${h.by}: ${h.reason}`)].join('\n'),
        );
      });
    });
}
