import type { Command } from 'commander';
import { isTerminal } from '../domain';
import type { ChangeState } from '../workflows/lifecycle-api';
import { queryStatus, withCtx } from './lifecycle-client';
import type { Client } from '@temporalio/client';

/** Prints phase and deployment-step changes until the change ends (or stops waiting on a person, with --until-waiting). */
export async function watchChange(client: Client, id: string, out: (line: string) => void, opts: { json?: boolean; intervalMs?: number; until?: (s: ChangeState) => boolean } = {}): Promise<ChangeState> {
  const seen = new Set<string>();
  for (;;) {
    const s = await queryStatus(client, id);
    const lines: [string, unknown][] = [];
    lines.push([`phase ${s.phase}: waiting for ${s.waitingFor}`, { phase: s.phase, waitingFor: s.waitingFor }]);
    if (s.runningDeployment) {
      try {
        const d = (await client.workflow.getHandle(s.runningDeployment).query('status')) as { status: string; steps: { name: string; outcome: string; detail?: string }[] };
        for (const st of d.steps) lines.push([`  ${s.runningDeployment} ${st.name}: ${st.outcome}${st.detail && st.outcome !== 'running' ? ` (${st.detail})` : ''}`, { deployment: s.runningDeployment, step: st.name, outcome: st.outcome }]);
      } catch {
        /* not started yet */
      }
    }
    for (const d of s.deployments) lines.push([`  ${d.workflowId}: ${d.status}${d.releaseTag ? ` ${d.releaseTag}` : ''}`, { deployment: d.workflowId, status: d.status }]);
    for (const [text, obj] of lines) {
      if (seen.has(text)) continue;
      seen.add(text);
      out(opts.json ? JSON.stringify({ at: new Date().toISOString(), ...(obj as object) }) : text);
    }
    if (isTerminal(s.phase) || s.outcome !== undefined || opts.until?.(s)) return s;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
  }
}

export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description('print phase and deployment-step changes of a change until it ends')
    .argument('<id>', 'the change id')
    .option('--json', 'one JSON object per line')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withCtx(program, async ({ client }) => {
        const s = await watchChange(client, id, (l) => process.stdout.write(`${l}\n`), opts);
        if (!opts.json) process.stdout.write(`${id} ended: ${s.phase}${s.outcome ? ` (${s.outcome})` : ''}\n`);
      });
    });
}
