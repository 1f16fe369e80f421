import type { Command } from 'commander';
import { changeWorkflowId } from '../contracts/change-id';
import type { DeploymentRecord } from '../workflows/deployment';
import type { ChangeState } from '../workflows/lifecycle-api';
import { describePending, describeState, webUiUrl } from './describe';
import { CliError } from './errors';
import { emit } from './output';
import { GrpcStatus, RpcError, withReadClient, type ReadClient } from './rpc';

/** The change's `status` query, answered by its workflow (the whole state, as the worker holds it). */
export async function queryChange(client: ReadClient, id: string): Promise<ChangeState> {
  try {
    return await client.query<ChangeState>(changeWorkflowId(id), 'status');
  } catch (err) {
    if (err instanceof RpcError && err.code === GrpcStatus.NOT_FOUND) throw new CliError(`no change ${id} (workflow ${changeWorkflowId(id)}); list changes with \`steward list\``);
    if (err instanceof RpcError) throw new CliError(`the status of ${id} could not be read: ${err.message}`);
    throw err;
  }
}

// Read-only, so it uses the light client (src/client/rpc.ts): no policy, no SDK, one query (two with a deployment).
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('the whole state of a change: phase, risk, signoffs, awaiting, deployments, rejected attempts')
    .argument('<id>', 'the change id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withReadClient(program, async ({ client, config }) => {
        const s = await queryChange(client, id);
        const url = webUiUrl(config, changeWorkflowId(id));
        // The running deployment's own state: the decision it waits for and who may give it.
        const deployment = s.runningDeployment ? await client.query<DeploymentRecord>(s.runningDeployment, 'status').catch(() => undefined) : undefined;
        emit(opts, { ...s, url, ...(deployment ? { runningDeploymentRecord: { status: deployment.status, pendingDecision: deployment.pendingDecision ?? null } } : {}) }, () =>
          [describeState(s, url), ...(deployment ? [`  ${describePending(deployment).replace(/\n/g, '\n  ')}`] : []), '  history:', ...s.history.map((h) => `    ${h.at} ${h.from} → ${h.to} by ${h.by}: ${h.reason}`)].join('\n'),
        );
      });
    });
}
