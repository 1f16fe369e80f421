// Workflows for the lock and cancellation tests: the real environmentLock and deployment, and `lockHolder`, a small
// workflow that takes the lock through the real lock client (as a deployment does) and holds it until told.
import { condition, defineSignal, setHandler, workflowInfo } from '@temporalio/workflow';
import { environmentLockClient, type AcquireOutcome, type LockWait } from '../../src/workflows/lock-client';
export { environmentLock } from '../../src/workflows/environment-lock';
export { deployment } from '../../src/workflows/deployment';

export const doneSignal = defineSignal('done');

export async function lockHolder(input: { environment: string; timeoutMs: number }): Promise<{ outcome: AcquireOutcome; waits: LockWait[] }> {
  const lock = environmentLockClient(input.environment, workflowInfo().workflowId);
  let done = false;
  setHandler(doneSignal, () => {
    done = true;
  });
  const waits: LockWait[] = [];
  const outcome = await lock.acquire({ timeoutMs: input.timeoutMs, onWaiting: (w) => waits.push(w) });
  if (outcome === 'granted') {
    await condition(() => done);
    await lock.release();
  }
  return { outcome, waits };
}
