// The deployment side of the environment lock.
//
// Since the lock-holder-run-id patch a deployment asks with its workflow id, run id and a ticket (its n-th request),
// answers the lock's `environmentLockState` query from its own state (that is how the lock confirms a release: a
// `release` signal alone, which anybody can send, frees nothing), waits a bounded time, and may release the lock and
// ask again (around a wait for people).
import { condition, defineQuery, getExternalWorkflowHandle, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { StewardActivities } from '../activities';
import { lockGrantedSignal, lockWaitingSignal, lockWorkflowId, releaseLockSignal, type LockPartyState, type LockPartyView } from './environment-lock';

const { requestEnvironmentLock, describeEnvironmentLock } = proxyActivities<StewardActivities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 10 } });

/** Answered from the deployment's own state: does it hold (or wait for) the given lock, under which ticket? */
export const lockStateQuery = defineQuery<LockPartyView, [string]>('environmentLockState');

export interface HeldLock {
  release(): Promise<void>;
}

/** The lock as deployments of before the lock-holder-run-id patch took it (kept so that their histories replay). */
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

export interface LockWait {
  lockWorkflowId: string;
  holder: string | null;
  position: number;
}

export type AcquireOutcome = 'granted' | 'timed-out' | 'interrupted';

export interface EnvironmentLockClient {
  readonly lockWorkflowId: string;
  readonly state: () => LockPartyState;
  /** Asks for the lock and waits at most timeoutMs (or until interrupted() holds); never leaves a stale request behind. */
  acquire(opts: { timeoutMs: number; interrupted?: () => boolean; onWaiting?: (w: LockWait) => void; summary?: string }): Promise<AcquireOutcome>;
  /** Releases the lock if held (the lock confirms it by querying this workflow); a no-op otherwise. */
  release(): Promise<void>;
}

/** True when this run takes the lock the patched way (workflow id + run id + ticket, bounded, confirmed releases). */
export const lockByRunId = () => patched('lock-holder-run-id');

export function environmentLockClient(environment: string, requester: string): EnvironmentLockClient {
  const lockId = lockWorkflowId(environment, workflowInfo().taskQueue);
  let ticket = 0;
  let state: LockPartyState = 'released';
  let granted = false;
  let onWaiting: ((w: LockWait) => void) | undefined;
  setHandler(lockGrantedSignal, (g) => {
    // Only the grant of the request this run is waiting for counts (a late grant of an abandoned request does not);
    // it is then checked against the lock's own state (anybody can send this signal).
    if (g && typeof g === 'object' && state === 'waiting' && (g.ticket === undefined || g.ticket === ticket)) granted = true;
  });
  setHandler(lockWaitingSignal, (w) => {
    if (!w || typeof w !== 'object' || state !== 'waiting') return;
    const holder = typeof w.holder === 'string' ? w.holder.slice(0, 300) : null;
    onWaiting?.({ lockWorkflowId: lockId, holder: holder === requester ? null : holder, position: Number(w.position) || 0 });
  });
  setHandler(lockStateQuery, (id) => ({ lockWorkflowId: lockId, state: id === lockId ? state : 'released', ticket }));
  const sendRelease = () => getExternalWorkflowHandle(lockId).signal(releaseLockSignal, { requester, runId: workflowInfo().runId, ticket });
  return {
    lockWorkflowId: lockId,
    state: () => state,
    async acquire(opts) {
      ticket++;
      state = 'waiting';
      granted = false;
      onWaiting = opts.onWaiting;
      await requestEnvironmentLock.executeWithOptions({ summary: opts.summary ?? `ask for the ${environment} deployment lock` }, [
        { environment, requester, lockWorkflowId: lockId, runId: workflowInfo().runId, ticket },
      ]);
      const deadline = Date.now() + opts.timeoutMs;
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        await condition(() => granted || (opts.interrupted?.() ?? false), left);
        if (!granted) break;
        const seen = await describeEnvironmentLock.executeWithOptions({ summary: `is this the ${environment} lock's holder?` }, [{ lockWorkflowId: lockId }]);
        if (seen.holder === requester && seen.holderRunId === workflowInfo().runId && seen.holderTicket === ticket) {
          onWaiting = undefined;
          state = 'holding';
          return 'granted';
        }
        granted = false; // a grant the lock did not give (forged, or stale): keep waiting
      }
      onWaiting = undefined;
      // Given up: say so in this run's state first (the lock checks it), then withdraw the request.
      const why: AcquireOutcome = opts.interrupted?.() ? 'interrupted' : 'timed-out';
      state = 'released';
      await sendRelease();
      return why;
    },
    async release() {
      if (state !== 'holding') return;
      state = 'released';
      await sendRelease();
    },
  };
}
