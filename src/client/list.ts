import type { Command } from 'commander';
import { isPhase, PHASES } from '../domain';
import { webUiUrl, withCtx } from './lifecycle-client';
import { emit } from './output';
import { CliError } from './temporal';

export function registerList(program: Command): void {
  program
    .command('list')
    .description('changes, newest first (visibility query on the search attributes)')
    .option('--phase <phase>', `only changes in this phase (${PHASES.join(', ')})`)
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'machine-readable output')
    .action(async (opts: { phase?: string; limit: string; json?: boolean }) => {
      if (opts.phase !== undefined && !isPhase(opts.phase)) throw new CliError(`unknown phase "${opts.phase}"; use one of ${PHASES.join(', ')}`, 2);
      await withCtx(program, async ({ client, config }) => {
        const query = `WorkflowType = "changeLifecycle"${opts.phase ? ` AND ChangePhase = "${opts.phase}"` : ''}`;
        const rows: { changeId: string; phase: string; risk: string; type: string; awaiting: string[]; title: string; status: string; url: string }[] = [];
        for await (const w of client.workflow.list({ query })) {
          const sa = w.searchAttributes as Record<string, unknown[] | undefined>;
          const first = (k: string) => String(sa[k]?.[0] ?? '');
          rows.push({
            changeId: first('ChangeId') || w.workflowId.replace(/^change-/, ''),
            phase: first('ChangePhase'),
            risk: first('RiskLevel'),
            type: first('ChangeType'),
            awaiting: (sa.AwaitingApprovalFrom ?? []).map(String),
            title: '',
            status: w.status.name,
            url: webUiUrl(config, w.workflowId),
          });
          if (rows.length >= Number(opts.limit)) break;
        }
        emit(opts, { query, changes: rows }, () =>
          rows.length
            ? rows.map((r) => `${r.changeId.padEnd(22)} ${r.phase.padEnd(24)} ${r.risk.padEnd(9)} ${r.type.padEnd(16)} ${r.awaiting.length ? `awaiting ${r.awaiting.join(',')} ` : ''}${r.title}`).join('\n')
            : `no changes match ${query}`,
        );
      });
    });
}
