// Message checks of changeLifecycle: the payload's shape first (a Signal from the Web UI may carry anything),
// then the domain's verdict. Pure; used by both the Update validators and the Signal handlers.
import type { ApprovalState, SignoffVerdict, ApprovalSubmission, ReviewSubmission } from '../domain/approvals';
import type { PolicyConfig } from '../domain/policy';
import type { ApproveInput, ChangeState, PostDeploymentReviewInput, RejectInput, ReviewInput, WithdrawInput } from './lifecycle-api';

export interface Problem {
  code: string;
  reason: string;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (x: unknown) => typeof x === 'string' && x.trim().length > 0;
const optStr = (x: unknown) => x === undefined || x === null || typeof x === 'string';
const invalid = (reason: string): Problem => ({ code: 'invalid', reason });
const fromVerdict = (v: SignoffVerdict): Problem | null => (v.ok ? null : { code: v.code, reason: v.reason });

export function approveProblem(
  state: ApprovalState,
  a: ApproveInput,
  policy: PolicyConfig,
  nowMs: number,
  evaluate: (s: ApprovalState, a: ApprovalSubmission, p: PolicyConfig, n: number) => SignoffVerdict,
): Problem | null {
  if (!isObj(a)) return invalid('the payload must be an object {by, role?, comment?}');
  if (!str(a.by)) return invalid('by must be a person id (a non-empty string)');
  if (!optStr(a.role) || !optStr(a.comment)) return invalid('role and comment must be strings when given');
  return fromVerdict(evaluate(state, { by: a.by, role: a.role ?? undefined, comment: a.comment ?? undefined }, policy, nowMs));
}

export function reviewProblem(
  state: ApprovalState,
  r: ReviewInput,
  policy: PolicyConfig,
  nowMs: number,
  evaluate: (s: ApprovalState, r: ReviewSubmission, p: PolicyConfig, n: number) => SignoffVerdict,
): Problem | null {
  if (!isObj(r)) return invalid('the payload must be an object {by, mode, checklist, comment?}');
  if (!str(r.by)) return invalid('by must be a person id (a non-empty string)');
  if (typeof r.mode !== 'string') return invalid('mode must be one of standard, auditor, security, dba, compliance');
  if (!Array.isArray(r.checklist) || !r.checklist.every((c) => typeof c === 'string')) return invalid('checklist must be a list of checklist item names');
  if (!optStr(r.comment)) return invalid('comment must be a string when given');
  return fromVerdict(evaluate(state, { by: r.by, mode: r.mode, checklist: r.checklist, comment: r.comment ?? undefined }, policy, nowMs));
}

export function rejectProblem(
  state: ApprovalState,
  r: RejectInput,
  policy: PolicyConfig,
  evaluate: (s: ApprovalState, r: { by: string; reason: string }, p: PolicyConfig) => SignoffVerdict,
): Problem | null {
  if (!isObj(r)) return invalid('the payload must be an object {by, reason}');
  if (!str(r.by)) return invalid('by must be a person id (a non-empty string)');
  if (!str(r.reason)) return invalid('a rejection must give a reason (--reason)');
  return fromVerdict(evaluate(state, { by: r.by, reason: r.reason }, policy));
}

export function withdrawProblem(state: ApprovalState, w: WithdrawInput, evaluate: (s: ApprovalState, by: string) => SignoffVerdict): Problem | null {
  if (!isObj(w)) return invalid('the payload must be an object {by, reason}');
  if (!str(w.by)) return invalid('by must be a person id (a non-empty string)');
  if (!str(w.reason)) return invalid('a withdrawal must give a reason (--reason)');
  return fromVerdict(evaluate(state, w.by));
}

export function pdrProblem(state: ChangeState, r: PostDeploymentReviewInput, isPerson: (id: string) => boolean): Problem | null {
  if (state.phase !== 'post-deployment-review') {
    return { code: 'wrong-phase', reason: `a post-deployment review is accepted in the post-deployment-review phase; the change is in ${state.phase}` };
  }
  if (state.postDeploymentReview) return { code: 'duplicate', reason: `the post-deployment review was already given by ${state.postDeploymentReview.by}` };
  if (!isObj(r)) return invalid('the payload must be an object {by, issuesEncountered, unexpectedBehavior, performanceImpact, securityImpact, followUpRequired}');
  if (!str(r.by) || !isPerson(r.by)) return { code: 'not-a-person', reason: `"${String(r.by)}" is not a person in policy.people` };
  for (const f of ['issuesEncountered', 'unexpectedBehavior', 'performanceImpact', 'securityImpact'] as const) {
    if (!str(r[f])) return invalid(`${f} must be given (write "none" if there was none) (§12)`);
  }
  if (typeof r.followUpRequired !== 'boolean') return invalid('followUpRequired must be true or false');
  return null;
}
