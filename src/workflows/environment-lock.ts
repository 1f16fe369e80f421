// environmentLock: one deployment per environment at a time. A singleton workflow per environment
// (id env-lock-<env>) grants the lock to requesters in arrival order; waiters are visible in the Web UI.
//
// The lock trusts no signal (a Signal's sender cannot be authenticated in Temporal): the holder is a workflow id AND a
// run id; a `release` counts only once the holder's own state confirms it (an activity describes the holder and asks
// it, by query, whether it still holds this lock; a closed holder holds nothing). A release the holder denies is
// refused and audited. The holder is checked for liveness when somebody waits and every `livenessCheckMs`: a closed
// holder's lock is freed and audited. The idle exit and continue-as-new lose no acquire (handlers drained, holder
// and queue carried).
import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  allHandlersFinished,
  workflowInfo,
} from '@temporalio/workflow';
import type { StewardActivities } from '../activities';
import type { AuditActivities } from '../activities/audit/api';

export interface LockRequest {
  requester: string;
  /** The requester's run id (since the lock-holder-run-id patch); a request without one is a deployment of before. */
  runId?: string;
  /** The requester's n-th request for this lock (a deployment releases and asks again around a wait for people). */
  ticket?: number;
}

/** What a deployment tells the lock about itself when asked (the `environmentLockState` query of lock-client.ts). */
export type LockPartyState = 'waiting' | 'holding' | 'released';
export interface LockPartyView {
  lockWorkflowId: string;
  state: LockPartyState;
  ticket: number;
}

export interface LockParty {
  workflowId: string;
  runId?: string;
  ticket?: number;
}

export interface LockHolder extends LockParty {
  since: string;
}

export const acquireLockSignal = defineSignal<[LockRequest]>('acquire');
export const releaseLockSignal = defineSignal<[LockRequest]>('release');
export const lockGrantedSignal = defineSignal<[{ lockWorkflowId: string; ticket?: number }]>('lockGranted');
/** To each waiter, whenever the holder changes: who holds the lock and where the waiter stands. Display only. */
export const lockWaitingSignal = defineSignal<[{ lockWorkflowId: string; holder: string | null; position: number }]>('lockWaiting');
export const lockStatusQuery = defineQuery<LockStatus>('status');

export interface LockStatus {
  holder: string | null;
  holderRunId?: string | null;
  holderTicket?: number | null;
  queue: string[];
  refusedReleases?: number;
  lastRefused?: { requester: string; runId: string | null; at: string; reason: string }[];
  freedHolders?: number;
}

/**
 * One lock per environment of a Steward installation (its task queue): `env-lock-<env>` on the standard
 * queue `steward`; a test or a second installation on another queue gets a lock of its own.
 */
export const lockWorkflowId = (environment: string, taskQueue = 'steward') =>
  taskQueue === 'steward' ? `env-lock-${environment}` : `env-lock-${environment}@${taskQueue}`;

export interface EnvironmentLockInput {
  environment: string;
  /** A string holder (a run of before the lock-holder-run-id patch, or a continue-as-new of such a run). */
  holder?: string | LockHolder | null;
  queue?: (string | LockParty)[];
  /** How often the holder's liveness is checked while nobody waits (default 5 minutes). */
  livenessCheckMs?: number;
  /** How often while somebody waits (default 30 seconds): a holder that was terminated must not keep them waiting long. */
  waitingLivenessCheckMs?: number;
  /** How long the lock stays open with nobody holding or waiting (default 1 hour). */
  idleMs?: number;
  /** Grants after which the lock continues as new even when the server does not suggest it yet (default 500). */
  maxGrantsPerRun?: number;
  refusedReleases?: number;
  freedHolders?: number;
}

const inspect = proxyActivities<Pick<StewardActivities, 'inspectLockParty'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5 },
});
const audit = proxyActivities<AuditActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 4 },
});

/** A Temporal run id (a UUID). */
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Release claims kept waiting for confirmation at once; more are refused unread (a flood cannot grow the state). */
const MAX_CLAIMS = 20;

export async function environmentLock(input: EnvironmentLockInput): Promise<void> {
  if (!patched('lock-holder-run-id')) return legacyEnvironmentLock(input);
  const lockId = workflowInfo().workflowId;
  const party = (p: string | LockParty): LockParty =>
    typeof p === 'string' ? { workflowId: p } : { workflowId: p.workflowId, ...(p.runId ? { runId: p.runId } : {}), ...(typeof p.ticket === 'number' ? { ticket: p.ticket } : {}) };
  const fromRequest = (req: LockRequest) =>
    party({ workflowId: req.requester, runId: typeof req.runId === 'string' ? req.runId : undefined, ticket: Number.isSafeInteger(req.ticket) ? req.ticket : undefined });
  // A run id that is not one (anybody can send `acquire`) would make the server refuse the grant's signal command and
  // fail every workflow task of the lock: such a request is dropped before it is queued.
  const wellFormed = (req: LockRequest) => req.runId === undefined || req.runId === null || (typeof req.runId === 'string' && RUN_ID.test(req.runId));
  let holder: LockHolder | null = input.holder ? { since: new Date().toISOString(), ...party(input.holder), ...(typeof input.holder === 'object' ? { since: input.holder.since } : {}) } : null;
  const queue: LockParty[] = (input.queue ?? []).map(party);
  const claims: LockParty[] = [];
  const lastRefused: NonNullable<LockStatus['lastRefused']> = [];
  let refusedReleases = input.refusedReleases ?? 0;
  let freedHolders = input.freedHolders ?? 0;
  let checkHolder = holder !== null; // a carried holder is checked at once
  let notifyWaiters = queue.length > 0;
  let grants = 0;
  let auditSeq = 0;
  const livenessMs = input.livenessCheckMs ?? 5 * 60_000;
  const waitingLivenessMs = input.waitingLivenessCheckMs ?? 30_000;
  const maxGrants = input.maxGrantsPerRun ?? 500;
  const idleMs = input.idleMs ?? 3_600_000;
  const same = (a: LockParty, b: LockParty) => a.workflowId === b.workflowId && (a.runId ?? null) === (b.runId ?? null) && (a.ticket ?? null) === (b.ticket ?? null);
  const name = (p: LockParty | null) => (p ? `${p.workflowId}${p.runId ? ` (run ${p.runId.slice(0, 8)})` : ''}` : '(free)');

  const show = () =>
    setCurrentDetails(
      [
        `## ${input.environment} deployment lock`,
        '',
        `**Holder:** ${name(holder)}${holder ? ` since ${holder.since}` : ''}`,
        '',
        '**Waiting:**',
        ...(queue.length ? queue.map((q, i) => `${i + 1}. ${name(q)}`) : ['(nobody)']),
        ...(refusedReleases ? ['', `**Refused releases:** ${refusedReleases} (the holder did not confirm them)`] : []),
        ...(freedHolders ? ['', `**Freed from closed holders:** ${freedHolders}`] : []),
      ].join('\n'),
    );

  async function recordEvent(kind: 'lock-holder-gone' | 'lock-release-refused', details: Record<string, unknown>): Promise<void> {
    try {
      await audit.appendAuditEvent.executeWithOptions({ summary: `audit: ${kind}` }, [
        { eventId: `${lockId}:${workflowInfo().runId}:${++auditSeq}`, subject: `lock:${input.environment}`, kind, actor: 'steward', at: new Date().toISOString(), details: { lockWorkflowId: lockId, ...details } },
      ]);
    } catch (err) {
      log.error('audit append failed', { kind, error: (err as Error).message });
    }
  }
  const refuse = async (claim: LockParty, reason: string) => {
    refusedReleases++;
    lastRefused.push({ requester: claim.workflowId, runId: claim.runId ?? null, at: new Date().toISOString(), reason });
    if (lastRefused.length > 5) lastRefused.splice(0, lastRefused.length - 5);
    show();
    if (refusedReleases <= 100) await recordEvent('lock-release-refused', { requester: claim.workflowId, runId: claim.runId ?? null, reason, holder: holder?.workflowId ?? null, count: refusedReleases });
  };

  setHandler(acquireLockSignal, (req) => {
    if (!req || typeof req.requester !== 'string' || req.requester.length > 300 || !wellFormed(req)) return;
    const p = fromRequest(req);
    if (holder && same(holder, p)) return;
    if (!queue.some((q) => same(q, p))) {
      if (queue.length >= 1000) return; // the queue is bounded; a flood of fake requesters is dropped at grant anyway
      queue.push(p);
    }
    // Somebody waits: is the holder still there? (A reset or terminated holder must not keep them waiting.)
    if (holder) checkHolder = true;
    notifyWaiters = true;
    show();
  });
  setHandler(releaseLockSignal, async (req) => {
    if (!req || typeof req.requester !== 'string' || req.requester.length > 300) return;
    const p = fromRequest(req);
    const concerns = (holder && same(holder, p)) || queue.some((q) => same(q, p));
    if (!concerns) {
      // It names the holder (or a waiter) but not its run and request: nobody could confirm it.
      const names = holder?.workflowId === p.workflowId || queue.some((q) => q.workflowId === p.workflowId);
      if (names) await refuse(p, `${p.workflowId} holds or waits under another run or request than the release names`);
      return;
    }
    if (claims.some((c) => same(c, p))) return;
    if (claims.length >= MAX_CLAIMS) {
      refusedReleases++;
      return;
    }
    claims.push(p);
  });
  setHandler(lockStatusQuery, () => ({ holder: holder?.workflowId ?? null, holderRunId: holder?.runId ?? null, holderTicket: holder?.ticket ?? null, queue: queue.map((q) => q.workflowId), refusedReleases, lastRefused: [...lastRefused], freedHolders }));
  show();

  /** A release claim counts only when the party's own state confirms it (or the party is closed). */
  async function settleClaim(claim: LockParty): Promise<void> {
    const matches = (p: LockParty) => p.workflowId === claim.workflowId && (p.runId ?? null) === (claim.runId ?? null) && (p.ticket ?? null) === (claim.ticket ?? null);
    const isHolder = holder !== null && matches(holder);
    const queued = queue.findIndex(matches);
    if (!isHolder && queued < 0) return; // already settled
    const target: LockParty = isHolder ? holder! : queue[queued]!;
    const seen = await inspect.inspectLockParty.executeWithOptions({ summary: `does ${target.workflowId} still ${isHolder ? 'hold' : 'wait for'} the lock?` }, [{ workflowId: target.workflowId, runId: target.runId, lockWorkflowId: lockId }]);
    // A holder of before the patch (no run id, no query) cannot confirm: its release is taken as it always was.
    const legacy = target.runId === undefined && seen.state === 'unknown';
    const movedOn = seen.ticket !== undefined && seen.ticket !== target.ticket;
    const confirmed = !seen.open || legacy || movedOn || (isHolder ? seen.state === 'released' : seen.state !== 'waiting');
    if (!confirmed) {
      await refuse(claim, `${target.workflowId} says it still ${isHolder ? 'holds' : 'waits for'} the lock (${seen.status}, ${seen.state})`);
      return;
    }
    if (isHolder && holder && same(holder, target)) holder = null;
    else {
      const i = queue.findIndex((q) => same(q, target));
      if (i >= 0) queue.splice(i, 1);
    }
    notifyWaiters = true;
    show();
  }

  async function checkLiveness(): Promise<void> {
    checkHolder = false;
    const h = holder;
    if (!h) return;
    const seen = await inspect.inspectLockParty.executeWithOptions({ summary: `is the lock holder ${h.workflowId} still running?` }, [{ workflowId: h.workflowId, runId: h.runId, lockWorkflowId: lockId }]);
    if (holder !== h) return;
    const movedOn = h.ticket !== undefined && seen.ticket !== undefined && seen.ticket !== h.ticket;
    const gone = !seen.open || movedOn || (h.runId !== undefined && seen.state === 'released' && seen.ticket === h.ticket);
    if (!gone) return;
    holder = null;
    freedHolders++;
    notifyWaiters = true;
    show();
    await recordEvent('lock-holder-gone', { holder: h.workflowId, runId: h.runId ?? null, since: h.since, status: seen.status, state: seen.state });
  }

  async function tellWaiters(): Promise<void> {
    notifyWaiters = false;
    await Promise.allSettled(
      queue.slice(0, 50).map((q, i) =>
        getExternalWorkflowHandle(q.workflowId, q.runId).signal(lockWaitingSignal, { lockWorkflowId: lockId, holder: holder?.workflowId ?? null, position: i + 1 }),
      ),
    );
  }

  for (;;) {
    if (claims.length) {
      await settleClaim(claims.shift()!);
      continue;
    }
    if (checkHolder) {
      await checkLiveness();
      continue;
    }
    if (holder === null && queue.length > 0) {
      const next = queue.shift()!;
      holder = { ...next, since: new Date().toISOString() };
      show();
      try {
        await getExternalWorkflowHandle(next.workflowId, next.runId).signal(lockGrantedSignal, { lockWorkflowId: lockId, ...(next.ticket !== undefined ? { ticket: next.ticket } : {}) });
        grants++;
      } catch (err) {
        holder = null; // the requester is gone
        // Its grant could not be delivered (it closed between asking and being granted): say so in the audit trail.
        if (patched('lock-grant-undelivered-audited')) {
          freedHolders++;
          show();
          await recordEvent('lock-holder-gone', { holder: next.workflowId, runId: next.runId ?? null, since: null, status: 'GRANT_UNDELIVERED', state: 'unknown', error: (err as Error).message?.slice(0, 300) ?? null });
        }
      }
      notifyWaiters = true;
      continue;
    }
    if (notifyWaiters) {
      await tellWaiters();
      continue;
    }
    if (workflowInfo().continueAsNewSuggested || grants >= maxGrants) {
      await condition(allHandlersFinished);
      if (claims.length === 0 && !checkHolder) {
        await continueAsNew<typeof environmentLock>({ ...input, holder, queue, refusedReleases, freedHolders });
      }
      continue;
    }
    const wake = () => claims.length > 0 || checkHolder || notifyWaiters || (holder === null && queue.length > 0);
    if (holder === null) {
      const woke = await condition(wake, idleMs);
      if (woke) continue;
      // Idle: drain the handlers, then look again in this same task, so an acquire that arrived meanwhile is kept.
      await condition(allHandlersFinished);
      if (holder === null && queue.length === 0 && claims.length === 0) return;
      continue;
    }
    const woke = await condition(wake, queue.length > 0 ? waitingLivenessMs : livenessMs);
    if (!woke) checkHolder = true;
  }
}

/** The lock as it was before the lock-holder-run-id patch: kept so that the runs it started still replay. */
async function legacyEnvironmentLock(input: EnvironmentLockInput): Promise<void> {
  let holder: string | null = typeof input.holder === 'object' && input.holder ? input.holder.workflowId : (input.holder ?? null);
  const queue: string[] = (input.queue ?? []).map((q) => (typeof q === 'string' ? q : q.workflowId));
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
