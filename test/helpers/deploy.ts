import type { Client } from '@temporalio/client';
import type { StewardConfig } from '../../src/config/schema';
import type { ChangeType } from '../../src/domain/types';
import { deploymentWorkflowId, type DeploymentInput, type DeploymentRecord } from '../../src/workflows/deployment';

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

export async function startDeployment(client: Client, config: StewardConfig, input: DeploymentInput) {
  return client.workflow.start('deployment', {
    taskQueue: config.temporal.taskQueue,
    workflowId: deploymentWorkflowId(input.changeId, input.environment, input.attempt),
    args: [input],
  });
}

export async function deploy(client: Client, config: StewardConfig, input: DeploymentInput): Promise<DeploymentRecord> {
  const handle = await startDeployment(client, config, input);
  return (await handle.result()) as DeploymentRecord;
}

export async function healthz(config: StewardConfig, environment: string): Promise<{ release: string; release_dir: string; version: string }> {
  const res = await fetch(new URL('/healthz', config.environments[environment]!.app.baseUrl));
  return (await res.json()) as { release: string; release_dir: string; version: string };
}
