import type { Command } from 'commander';
import { isPhase, PHASES } from '../domain';
import { webUiUrl, withCtx } from './lifecycle-client';
import { emit } from './output';
import { CliError } from './temporal';

/** A search attribute as the server stores it: JSON in the payload's data (never codec-encoded: the server reads it). */
function attr(fields: Record<string, { data?: Uint8Array | null } | undefined> | null | undefined, key: string): unknown {
  const data = fields?.[key]?.data;
  if (!data || data.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** "3d 4h", "2h 5m", "4m": how long ago a change was proposed, for the person deciding what to look at first. */
export function age(ms: number): string {
  const m = Math.max(0, Math.floor(ms / 60_000));
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const STATUS = ['UNSPECIFIED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT', 'PAUSED'];

export function registerList(program: Command): void {
  program
    .command('list')
    .description('changes, newest first, with phase, risk, whom each awaits and its age (one visibility query)')
    .option('--phase <phase>', `only changes in this phase (${PHASES.join(', ')})`)
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'machine-readable output')
    .action(async (opts: { phase?: string; limit: string; json?: boolean }) => {
      if (opts.phase !== undefined && !isPhase(opts.phase)) throw new CliError(`unknown phase "${opts.phase}"; use one of ${PHASES.join(', ')}`, 2);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new CliError(`--limit must be a whole number of at least 1 (got "${opts.limit}")`, 2);
      await withCtx(program, async ({ client, config }) => {
        const query = `WorkflowType = "changeLifecycle"${opts.phase ? ` AND ChangePhase = "${opts.phase}"` : ''}`;
        const now = Date.now();
        const rows: { changeId: string; phase: string; risk: string; type: string; awaiting: string[]; title: string; status: string; startedAt: string; age: string; url: string }[] = [];
        // The visibility API page by page, reading only the fields shown (the SDK's list decodes every field of
        // every row twice over): the columns come from search attributes, no per-change query.
        let nextPageToken: Uint8Array | undefined;
        do {
          const page = await client.workflowService.listWorkflowExecutions({ namespace: config.temporal.namespace, query, pageSize: Math.min(limit, 1000), nextPageToken });
          for (const w of page.executions ?? []) {
            const sa = w.searchAttributes?.indexedFields;
            const workflowId = w.execution?.workflowId ?? '';
            const startMs = Number(w.startTime?.seconds ?? 0) * 1000 + Math.floor((w.startTime?.nanos ?? 0) / 1e6);
            const awaiting = attr(sa, 'AwaitingApprovalFrom');
            rows.push({
              changeId: String(attr(sa, 'ChangeId') ?? '') || workflowId.replace(/^change-/, ''),
              phase: String(attr(sa, 'ChangePhase') ?? ''),
              risk: String(attr(sa, 'RiskLevel') ?? ''),
              type: String(attr(sa, 'ChangeType') ?? ''),
              awaiting: Array.isArray(awaiting) ? awaiting.map(String) : awaiting === undefined ? [] : [String(awaiting)],
              title: '',
              status: STATUS[w.status ?? 0] ?? 'UNSPECIFIED',
              startedAt: new Date(startMs).toISOString(),
              age: age(now - startMs),
              url: webUiUrl(config, workflowId),
            });
            if (rows.length >= limit) break;
          }
          nextPageToken = page.nextPageToken && page.nextPageToken.length ? page.nextPageToken : undefined;
        } while (nextPageToken && rows.length < limit);
        emit(opts, { query, changes: rows }, () =>
          rows.length
            ? [
                `${'CHANGE'.padEnd(22)} ${'PHASE'.padEnd(24)} ${'RISK'.padEnd(9)} ${'AGE'.padEnd(8)} AWAITING`,
                ...rows.map((r) => `${r.changeId.padEnd(22)} ${r.phase.padEnd(24)} ${r.risk.padEnd(9)} ${r.age.padEnd(8)} ${r.awaiting.join(', ') || '—'}`),
              ].join('\n')
            : `no changes match ${query}`,
        );
      });
    });
}
