// Bench-only workflows (bundled by the bench's own worker; never registered by the steward worker).
import { condition, defineSignal, defineUpdate, proxyActivities, setHandler, ApplicationFailure } from '@temporalio/workflow';

export interface MarkActivities {
  mark(seq: number): Promise<number>;
}

const { mark } = proxyActivities<MarkActivities>({ startToCloseTimeout: '10 seconds', retry: { maximumAttempts: 1 } });

export const approveUpdate = defineUpdate<number, [{ by: string; seq: number }]>('approve');
export const approveSignal = defineSignal<[{ by: string; seq: number }]>('approveSignal');
export const stopSignal = defineSignal('stop');

/**
 * Waits for a human action (an `approve` Update with a validator, or a plain Signal), then runs the next
 * activity; `n` times in one execution. The activity records when it started.
 */
export async function approvalLatency(n: number): Promise<number> {
  const pending: number[] = [];
  let stopped = false;
  setHandler(
    approveUpdate,
    (a) => {
      pending.push(a.seq);
      return a.seq;
    },
    {
      validator: (a) => {
        if (!a || typeof a.by !== 'string' || a.by === 'alice') throw ApplicationFailure.nonRetryable('maker-checker: not this approver', 'Rejected');
      },
    },
  );
  setHandler(approveSignal, (a) => void pending.push(a.seq));
  setHandler(stopSignal, () => void (stopped = true));
  let done = 0;
  while (done < n) {
    await condition(() => pending.length > 0 || stopped);
    if (stopped) break;
    await mark(pending.shift()!);
    done++;
  }
  return done;
}

/** The trivial waiting workflow: the baseline for start rates. */
export async function idleWait(): Promise<void> {
  await condition(() => false);
}
