// Workflows for the deployment-authority tests: the real deployment and environmentLock, and two parents that start
// a deployment as their child: `changeLifecycle`, a stand-in for the change (its `status` query answers the state
// the test gives it), and `forgedChange`, a workflow of another type under a change's workflow id.
import { defineQuery, executeChild, setHandler } from '@temporalio/workflow';
import type { ChangeView } from '../../src/domain/authority';
import type { DeploymentInput, DeploymentRecord } from '../../src/workflows/deployment';
export { environmentLock } from '../../src/workflows/environment-lock';
export { deployment } from '../../src/workflows/deployment';
export { lockHolder } from './lock-workflows';

export interface ParentInput {
  /** What the parent's `status` query answers (a change's state, as far as authority goes). */
  state: ChangeView;
  deployment: DeploymentInput;
  deploymentWorkflowId: string;
}

const statusQuery = defineQuery<ChangeView>('status');

async function parent(input: ParentInput): Promise<DeploymentRecord> {
  setHandler(statusQuery, () => input.state);
  return (await executeChild('deployment', { workflowId: input.deploymentWorkflowId, args: [input.deployment] })) as DeploymentRecord;
}

export async function changeLifecycle(input: ParentInput): Promise<DeploymentRecord> {
  return parent(input);
}

export async function forgedChange(input: ParentInput): Promise<DeploymentRecord> {
  return parent(input);
}
