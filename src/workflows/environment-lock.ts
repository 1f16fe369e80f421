// environmentLock: one deployment per environment at a time. A singleton workflow per environment
// (id env-lock-<env>) grants the lock to requesters in arrival order; waiters are visible in the Web UI.
import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  setCurrentDetails,
  setHandler,
  allHandlersFinished,
  workflowInfo,
} from '@temporalio/workflow';

export interface LockRequest {
  requester: string;
}

export const acquireLockSignal = defineSignal<[LockRequest]>('acquire');
export const releaseLockSignal = defineSignal<[LockRequest]>('release');
export const lockGrantedSignal = defineSignal<[{ lockWorkflowId: string }]>('lockGranted');
export const lockStatusQuery = defineQuery<{ holder: string | null; queue: string[] }>('status');

/**
 * One lock per environment of a Steward installation (its task queue): `env-lock-<env>` on the standard
 * queue `steward`; a test or a second installation on another queue gets a lock of its own.
 */
export const lockWorkflowId = (environment: string, taskQueue = 'steward') =>
  taskQueue === 'steward' ? `env-lock-${environment}` : `env-lock-${environment}@${taskQueue}`;

export interface EnvironmentLockInput {
  environment: string;
  holder?: string | null;
  queue?: string[];
}

export async function environmentLock(input: EnvironmentLockInput): Promise<void> {
  let holder: string | null = input.holder ?? null;
  const queue: string[] = [...(input.queue ?? [])];
  let grants = 0;
  const show = () =>
    setCurrentDetails(
      [`## ${input.environment} deployment lock`, '', `**Holder:** ${holder ?? '(free)'}`, '', '**Waiting:**', ...(queue.length ? queue.map((q, i) => `${i + 1}. ${q}`) : ['(nobody)'])].join('\n'),
    );
  setHandler(acquireLockSignal, ({ requester }) => {
    if (requester !== holder && !queue.includes(requester)) queue.push(requester);
    show();
  });
  setHandler(releaseLockSignal, ({ requester }) => {
    if (holder === requester) holder = null;
    else {
      const i = queue.indexOf(requester);
      if (i >= 0) queue.splice(i, 1);
    }
    show();
  });
  setHandler(lockStatusQuery, () => ({ holder, queue: [...queue] }));
  show();
  for (;;) {
    if (holder === null) {
      const next = await condition(() => queue.length > 0, '1 hour');
      if (!next) break;
      holder = queue.shift()!;
      show();
      try {
        await getExternalWorkflowHandle(holder).signal(lockGrantedSignal, { lockWorkflowId: workflowInfo().workflowId });
        grants++;
      } catch {
        holder = null; // the requester is gone
        continue;
      }
    }
    await condition(() => holder === null);
    if (grants >= 500) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof environmentLock>({ environment: input.environment, holder, queue });
    }
  }
  await condition(allHandlersFinished);
}
