// The deployment side of the environment lock.
import { condition, getExternalWorkflowHandle, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { StewardActivities } from '../activities';
import { lockGrantedSignal, lockWorkflowId, releaseLockSignal } from './environment-lock';

const { requestEnvironmentLock } = proxyActivities<StewardActivities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 10 } });

export interface HeldLock {
  release(): Promise<void>;
}

export async function acquireEnvironmentLock(environment: string, requester: string): Promise<HeldLock> {
  let granted = false;
  setHandler(lockGrantedSignal, () => {
    granted = true;
  });
  const lockId = lockWorkflowId(environment, workflowInfo().taskQueue);
  await requestEnvironmentLock.executeWithOptions({ summary: `ask for the ${environment} deployment lock` }, [{ environment, requester, lockWorkflowId: lockId }]);
  await condition(() => granted);
  return {
    async release() {
      await getExternalWorkflowHandle(lockId).signal(releaseLockSignal, { requester });
    },
  };
}
