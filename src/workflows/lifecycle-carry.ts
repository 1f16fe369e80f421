// changeLifecycle's continue-as-new: what one run hands the next, and the checks a continued run makes before it
// believes any of it. Pure (no workflow APIs beyond the failure type), so it is tested directly.
//
// A long-lived change (days of reviews, approvals, reminders, policy reloads) would grow its history without
// bound; at a wait for people it continues as new, carrying everything that decides it. A carried state is an input
// field a hostile starter could also send, so it is accepted only on a run that the server started as the
// continue-as-new of an earlier run of this workflow (workflowInfo().continuedFromExecutionRunId, set by the server,
// never by a caller), and even then re-checked: its shape and bounds, its agreement with the proposal (re-parsed and
// re-classified) and with itself, and the start policy against the digest the worker computed. The stricter of the
// start policy and the worker's policy now applies (stricterPolicy), so not even a bad start policy could weaken the
// worker's.
import { ApplicationFailure } from '@temporalio/common';
import type { LoadedPolicy, TrustCarry } from '../contracts/policy';
import type { RecordedSignoff } from '../domain/approvals';
import { policyDigest } from '../domain/policy';
import { CARRIED_STATE_FIELDS, type CarriedChange, type CarriedStage, type ChangeLifecycleInput } from './lifecycle-api';
import { MAX_KEPT_REJECTED } from './trust';

/** The default rollover threshold: well under the server's 51,200-event limit, and rarely reached before the server suggests it. */
export const DEFAULT_MAX_HISTORY_EVENTS = 10_000;
/** Bounds of the threshold: a continued run uses fewer than 30 events before its first wait, so 50 cannot loop. */
export const MIN_MAX_HISTORY_EVENTS = 50;
export const MAX_MAX_HISTORY_EVENTS = 40_000;
/** Reminders a continued run keeps (the earlier ones are in the earlier runs' histories and the log). */
export const MAX_CARRIED_REMINDERS = 200;

const STAGE_PHASE: Record<CarriedStage, string> = {
  review: 'review',
  approval: 'approval',
  'post-deployment-review': 'post-deployment-review',
  'full-review': 'full-review',
};
const SHA = /^[0-9a-f]{40}$/;
const DIGEST = /^[0-9a-f]{64}$/;

function refuse(field: string, what: string): never {
  throw ApplicationFailure.nonRetryable(`changeLifecycle input refused: ${field} ${what}`, 'BadInput');
}

/** The validated rollover threshold of a change (input.maxHistoryEventsPerRun). */
export function maxHistoryEvents(input: Pick<ChangeLifecycleInput, 'maxHistoryEventsPerRun'>): number {
  const v = input.maxHistoryEventsPerRun;
  if (v === undefined) return DEFAULT_MAX_HISTORY_EVENTS;
  if (!Number.isSafeInteger(v) || v < MIN_MAX_HISTORY_EVENTS || v > MAX_MAX_HISTORY_EVENTS) {
    refuse('maxHistoryEventsPerRun', `must be a whole number from ${MIN_MAX_HISTORY_EVENTS} to ${MAX_MAX_HISTORY_EVENTS} (got ${JSON.stringify(v)}); leave it out for the default ${DEFAULT_MAX_HISTORY_EVENTS}`);
  }
  return v;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isTime = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0;
function list(field: string, x: unknown, max: number): unknown[] {
  if (!Array.isArray(x)) refuse(field, 'must be a list');
  if (x.length > max) refuse(field, `holds ${x.length} entries (at most ${max})`);
  return x;
}

/** What the continued run knows for itself, to compare the carried state with. */
export interface CarryContext {
  /** workflowInfo().continuedFromExecutionRunId: set by the server on a continue-as-new, never by a caller. */
  continuedFromRunId: string | undefined;
  proposer: string;
  wantsStaging: boolean;
  hotfix: boolean;
}

/**
 * The carried change, checked; undefined on a fresh start. Throws a non-retryable BadInput (the run fails, nothing
 * happens) when a carried state comes with a start that is not this change's own continue-as-new, or does not hold.
 */
export function checkedCarry(carried: unknown, ctx: CarryContext): CarriedChange | undefined {
  if (carried === undefined) return undefined;
  if (!ctx.continuedFromRunId) {
    refuse('carried', 'is only accepted on a continue-as-new of the same change (a run the change started itself); start a change with its proposal and ids only');
  }
  if (!isObject(carried)) refuse('carried', 'must be an object');
  const known = ['version', 'stage', 'state', 'signoffs', 'trust', 'auditSeq', 'attempt', 'nextReminderAtMs', 'fullReviewDueMs'];
  const extra = Object.keys(carried).filter((k) => !known.includes(k));
  if (extra.length) refuse('carried', `has unknown fields: ${extra.join(', ')}`);
  if (carried.version !== 1) refuse('carried.version', 'must be 1');
  const stage = carried.stage as CarriedStage;
  if (typeof stage !== 'string' || !(stage in STAGE_PHASE)) refuse('carried.stage', `must be one of ${Object.keys(STAGE_PHASE).join(', ')}`);

  // ---- the change's state --------------------------------------------------------------------------------
  const s = carried.state;
  if (!isObject(s)) refuse('carried.state', 'must be an object');
  const unknownState = Object.keys(s).filter((k) => !(CARRIED_STATE_FIELDS as readonly string[]).includes(k));
  if (unknownState.length) refuse('carried.state', `has fields a continued run does not take over: ${unknownState.join(', ')}`);
  if (s.phase !== STAGE_PHASE[stage]) refuse('carried.state.phase', `must be ${STAGE_PHASE[stage]} at the ${stage} stage (got ${JSON.stringify(s.phase)})`);
  if (stage === 'full-review' && !ctx.hotfix) refuse('carried.stage', 'full-review is for hotfixes only');
  if (typeof s.commit !== 'string' || !SHA.test(s.commit)) refuse('carried.state.commit', 'must be the full commit SHA the change was pinned to');
  if (typeof s.waitingFor !== 'string' || s.waitingFor.length > 2000) refuse('carried.state.waitingFor', 'must be a short text');
  if (!Number.isSafeInteger(s.rejectedAttemptCount) || (s.rejectedAttemptCount as number) < 0) refuse('carried.state.rejectedAttemptCount', 'must be a count');
  list('carried.state.rejectedAttempts', s.rejectedAttempts, MAX_KEPT_REJECTED);
  list('carried.state.auditFailures', s.auditFailures, MAX_KEPT_REJECTED);
  list('carried.state.refMoves', s.refMoves, 1000);
  list('carried.state.history', s.history, 100);
  list('carried.state.reminders', s.reminders, MAX_CARRIED_REMINDERS);
  const deployments = list('carried.state.deployments', s.deployments, 20).filter(isObject);
  for (const k of ['releaseVersion', 'reportPath'] as const) if (s[k] !== undefined && (typeof s[k] !== 'string' || (s[k] as string).length > 500)) refuse(`carried.state.${k}`, 'must be a short text');
  if (s.window !== undefined && !isObject(s.window)) refuse('carried.state.window', 'must be an object');
  if (s.postDeploymentReview !== undefined && (stage !== 'full-review' || !isObject(s.postDeploymentReview))) refuse('carried.state.postDeploymentReview', 'is only carried into a hotfix full review');
  // What each later stage stands on: the deployments that got it there, at the change's commit.
  const deployed = (env: string) => deployments.some((d) => d.environment === env && d.status === 'deployed' && d.commit === s.commit);
  if (stage !== 'review' && ctx.wantsStaging && !deployed('staging')) refuse('carried.state.deployments', `hold no staging deployment of ${s.commit} that passed (the ${stage} stage follows one)`);
  if ((stage === 'post-deployment-review' || stage === 'full-review') && !deployed('production')) refuse('carried.state.deployments', `hold no production deployment of ${s.commit} (the ${stage} stage follows one)`);

  // ---- signoffs ---------------------------------------------------------------------------------------------
  const signoffs = list('carried.signoffs', carried.signoffs, 50);
  signoffs.forEach((x, i) => {
    const f = `carried.signoffs[${i}]`;
    if (!isObject(x)) refuse(f, 'must be an object');
    const o = x as Partial<RecordedSignoff> & Record<string, unknown>;
    if (o.kind !== 'approval' && o.kind !== 'review') refuse(`${f}.kind`, 'must be approval or review');
    if (typeof o.by !== 'string' || typeof o.role !== 'string') refuse(f, 'must name who signed and in which role');
    if (o.by === ctx.proposer) refuse(`${f}.by`, 'is the proposer (maker-checker)');
    // Signoffs bind to the commit: one for another commit never counts.
    if (o.gitRef !== s.commit) refuse(`${f}.gitRef`, `must be the change's commit ${s.commit}`);
    if (!isTime(o.atMs)) refuse(`${f}.atMs`, 'must be a time');
    if (o.kind === 'approval' && !isTime(o.expiresAtMs)) refuse(`${f}.expiresAtMs`, 'must be the absolute time the approval expires');
  });

  // ---- trust --------------------------------------------------------------------------------------------------
  const t = carried.trust;
  if (!isObject(t)) refuse('carried.trust', 'must be an object');
  // The digests the worker computed (at the start, at the last load) are in the state and the audit log: the
  // policies must be those.
  const loaded = (field: string, x: unknown, digest: unknown): LoadedPolicy => {
    const p = x as LoadedPolicy;
    if (!isObject(p) || !isObject(p.policy) || typeof p.digest !== 'string' || !isObject(p.protectedTables)) refuse(field, 'must be a policy the worker loaded');
    if (policyDigest(p.policy) !== p.digest || p.digest !== digest) refuse(field, `is not the policy the change had (its digest differs from ${String(digest).slice(0, 16)})`);
    return p;
  };
  const start = loaded('carried.trust.start', t.start, s.policyDigestAtStart);
  const latest = loaded('carried.trust.latest', t.latest, s.policyDigest);
  const digests = list('carried.trust.digests', t.digests, 1000);
  if (!digests.every((d) => typeof d === 'string' && DIGEST.test(d)) || !digests.includes(start.digest) || !digests.includes(latest.digest)) refuse('carried.trust.digests', 'must be the policy digests the change has had in force');
  const nonces = list('carried.trust.nonces', t.nonces, 10_000);
  for (const n of nonces) {
    // (An entry can only refuse a statement, never admit one: the shape is all there is to check.)
    if (!isObject(n) || typeof n.nonce !== 'string' || n.nonce.length > 200 || !isTime(n.untilMs)) refuse('carried.trust.nonces', 'must be the used statements: {nonce, untilMs}');
  }

  // ---- counters and absolute times ------------------------------------------------------------------------
  if (!Number.isSafeInteger(carried.auditSeq) || (carried.auditSeq as number) < 1) refuse('carried.auditSeq', 'must be the audit sequence so far');
  if (!Number.isSafeInteger(carried.attempt) || (carried.attempt as number) < 0 || (carried.attempt as number) > 20) refuse('carried.attempt', 'must be the deployment attempts so far');
  if (carried.nextReminderAtMs !== undefined && !isTime(carried.nextReminderAtMs)) refuse('carried.nextReminderAtMs', 'must be a time');
  if (stage === 'full-review' ? !isTime(carried.fullReviewDueMs) : carried.fullReviewDueMs !== undefined) refuse('carried.fullReviewDueMs', 'must be the full review\'s due time (hotfix full review only)');
  return carried as unknown as CarriedChange;
}

/** The trust part of a carry, as createTrust restores it. */
export const restoredTrust = (c: CarriedChange | undefined): Partial<TrustCarry> | undefined => (c ? { ...c.trust } : undefined);
