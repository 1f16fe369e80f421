// Workflows for the lifecycle tests: the real changeLifecycle and a fake `deployment` child.
import { sleep, workflowInfo } from '@temporalio/workflow';
import type { DeploymentInput, DeploymentRecord } from '../../src/workflows/deployment';
export { changeLifecycle } from '../../src/workflows/change-lifecycle';

export async function deployment(input: DeploymentInput): Promise<DeploymentRecord> {
  const startedAt = new Date().toISOString();
  await sleep(50);
  // The change passes the commit (see test/helpers/signing.ts commitOf: refs with "fails" resolve to fa11…).
  const fails = input.gitRef.startsWith('fa11');
  return {
    workflowId: workflowInfo().workflowId,
    changeId: input.changeId,
    environment: input.environment,
    releaseId: workflowInfo().workflowId.replace(/^deploy-/, ''),
    gitRef: input.gitRef,
    commit: input.gitRef,
    previousReleaseId: 'prev',
    status: fails ? 'rolled-back' : 'deployed',
    reason: fails ? 'smoke tests failed: balance: 500' : undefined,
    startedAt,
    finishedAt: new Date().toISOString(),
    steps: [{ name: 'smoke tests', startedAt, finishedAt: new Date().toISOString(), durationMs: 50, outcome: fails ? 'failed' : 'ok' }],
    smoke: { ok: !fails, checks: [{ name: 'healthz', ok: !fails, ms: 5, detail: '' }], durationMs: 5 },
    releaseTag: input.tagRelease && !fails ? 'v1.0.1' : undefined,
    rejectedAttempts: [],
  } as DeploymentRecord;
}
