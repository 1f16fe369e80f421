import type { Client } from '@temporalio/client';
import type { StewardConfig } from '../../src/config/schema';
import type { ChangeType } from '../../src/domain/types';
import { deploymentWorkflowId, type DeploymentInput, type DeploymentRecord } from '../../src/workflows/deployment';
import { lockWorkflowId } from '../../src/workflows/environment-lock';
import { recordingHistories, saveHistory } from './histories';
import { loadWorkerPolicy } from '../../src/activities/policy';
import { signDirectOrder } from './signing';

let counter = 0;

export function deployInput(over: Partial<DeploymentInput> & { gitRef: string; environment: string }): DeploymentInput {
  return {
    changeId: `T${process.pid}x${Date.now() % 100000}x${++counter}`,
    changeType: 'feature' as ChangeType,
    proposer: 'alice',
    attempt: 1,
    stagingChecks: over.environment === 'staging',
    tagRelease: over.environment === 'production',
    humanDecisionTimeoutMs: 120_000,
    ...over,
  };
}

/**
 * Starts a deployment directly (not through a change): it carries a direct order signed by a demo person whose role
 * may order one (deployment-authority), unless `unsigned` (a test of the refusal) or the input brings its own.
 */
export async function startDeployment(client: Client, config: StewardConfig, input: DeploymentInput, opts: { unsigned?: boolean } = {}) {
  const order = opts.unsigned || input.directOrder ? {} : { directOrder: signDirectOrder(input, loadWorkerPolicy(config).digest) };
  return client.workflow.start('deployment', {
    taskQueue: config.temporal.taskQueue,
    workflowId: deploymentWorkflowId(input.changeId, input.environment, input.attempt),
    args: [{ ...input, ...order }],
  });
}

/** Runs a deployment to its end; `recordAs` names its history for the replay test (when recording, see histories.ts). */
export async function deploy(client: Client, config: StewardConfig, input: DeploymentInput, recordAs?: string): Promise<DeploymentRecord> {
  const handle = await startDeployment(client, config, input);
  const record = (await handle.result()) as DeploymentRecord;
  if (recordAs && recordingHistories()) {
    saveHistory('deployment', recordAs, await handle.fetchHistory());
    // The environment's lock, as it stands after this deployment (a lock never ends: a partial history replays too).
    saveHistory('environmentLock', `${input.environment}-after-${recordAs}`, await client.workflow.getHandle(lockWorkflowId(input.environment, config.temporal.taskQueue)).fetchHistory());
  }
  return record;
}

export async function healthz(config: StewardConfig, environment: string): Promise<{ release: string; release_dir: string; version: string }> {
  const res = await fetch(new URL('/healthz', config.environments[environment]!.app.baseUrl));
  return (await res.json()) as { release: string; release_dir: string; version: string };
}
