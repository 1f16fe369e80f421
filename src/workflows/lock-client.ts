// The deployment side of the environment lock.
import { condition, getExternalWorkflowHandle, proxyActivities, setHandler } from '@temporalio/workflow';
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
  await requestEnvironmentLock.executeWithOptions({ summary: `ask for the ${environment} deployment lock` }, [{ environment, requester }]);
  await condition(() => granted);
  return {
    async release() {
      await getExternalWorkflowHandle(lockWorkflowId(environment)).signal(releaseLockSignal, { requester });
    },
  };
}
