/**
 * Maker-checker (playbook §5, DESIGN "Policy defaults"): who must sign off a change, and whether a
 * review or approval may count. Nobody signs off their own change; each signoff slot is filled by a
 * distinct person; approvals expire after policy.approvalTtlHours and every signoff is void once the
 * change's gitRef moves.
 */
import { refuse, type Refusal } from './errors';
import { isTerminal, type Phase } from './lifecycle';
import { findPerson, type PolicyConfig } from './policy';
import {
  PERSON_ID_RE,
  REVIEW_CHECKLIST,
  REVIEW_MODES,
  ROLES,
  type ChangeType,
  type ChecklistItem,
  type ReviewMode,
  type RiskLevel,
  type Role,
} from './types';

export type SignoffKind = 'review' | 'approval';

/** Role that may perform a review in each mode. */
export const REVIEW_MODE_ROLE: Readonly<Record<ReviewMode, Role>> = Object.freeze({
  standard: 'reviewer',
  auditor: 'auditor',
  security: 'security-reviewer',
  dba: 'dba',
  compliance: 'compliance',
});

/** Roles that give approvals (as opposed to reviews). */
export const APPROVAL_ROLES: readonly Role[] = ['approver', 'auditor', 'emergency-approver'];

/** What requiredSignoffs needs to know about a change. */
export interface SignoffSubject {
  type: ChangeType;
  risk: RiskLevel;
  dataMigrationRequired: boolean;
  financialImpact?: boolean;
  complianceImpact?: boolean;
  hotfix?: boolean;
}

/** One slot to fill: `count` distinct people of `role` (reviews also name the mode). */
export interface SignoffSlot {
  id: string;
  kind: SignoffKind;
  role: Role;
  mode?: ReviewMode;
  count: number;
  why: string;
}

export type SignoffCode =
  | 'self-approval'
  | 'not-a-person'
  | 'wrong-role'
  | 'wrong-phase'
  | 'duplicate'
  | 'same-person-twice'
  | 'expired'
  | 'already-decided'
  | 'stale-ref'
  | 'checklist-incomplete'
  | 'not-required'
  | 'invalid';

export interface RecordedSignoff {
  kind: SignoffKind;
  by: string;
  role: Role;
  mode?: ReviewMode;
  gitRef: string;
  atMs: number;
  /** Approvals only: the instant after which the approval no longer counts. */
  expiresAtMs?: number;
  checklist?: ChecklistItem[];
  comment?: string;
}

/** The maker-checker state of one change, kept by the change workflow. */
export interface ApprovalState extends SignoffSubject {
  changeId?: string;
  proposer: string;
  implementer: string;
  phase: Phase;
  /** The commit/tag under review; signoffs on another ref do not count. */
  gitRef: string;
  signoffs: RecordedSignoff[];
  decision?: 'rejected' | 'withdrawn';
}

export interface ReviewSubmission {
  by: string;
  mode: ReviewMode;
  checklist: readonly string[];
  /** The ref the reviewer looked at; when given it must equal the change's current gitRef. */
  gitRef?: string;
  /** When the review was given (e.g. a signal sent earlier); defaults to nowMs. */
  atMs?: number;
  comment?: string;
}

export interface ApprovalSubmission {
  by: string;
  /** Which approval role to sign under; default: a still-needed role the person holds. */
  role?: Role;
  gitRef?: string;
  atMs?: number;
  comment?: string;
}

export type SignoffVerdict = { ok: true } | Refusal<SignoffCode>;

const HOTFIX_REVIEW_PRIORITY: readonly ReviewMode[] = ['auditor', 'security', 'compliance', 'dba', 'standard'];

function reviewModesFor(s: SignoffSubject): { mode: ReviewMode; why: string }[] {
  const out: { mode: ReviewMode; why: string }[] = [];
  if (s.type === 'financial-logic') out.push({ mode: 'auditor', why: 'financial logic → auditor-mode review (§5)' });
  else if (s.financialImpact) out.push({ mode: 'auditor', why: 'financial impact → auditor-mode review (§5)' });
  if (s.type === 'security') out.push({ mode: 'security', why: 'security change → security-reviewer-mode review (§5)' });
  if (s.type === 'infrastructure') out.push({ mode: 'dba', why: 'infrastructure/DB change → migrations reviewed by a DBA (§5)' });
  else if (s.dataMigrationRequired) out.push({ mode: 'dba', why: 'data migration → migrations reviewed by a DBA (§5, §6)' });
  if (s.type === 'regulatory') out.push({ mode: 'compliance', why: 'regulatory change → compliance review' });
  else if (s.complianceImpact) out.push({ mode: 'compliance', why: 'compliance impact → compliance review' });
  return out;
}

/**
 * Signoffs needed: by risk (policy.quorum, default Low 1 approver; Medium 1 reviewer + 1 approver;
 * High 2 approvers; Critical 2 approvers + 1 auditor) plus by type (auditor/security/dba/compliance reviews).
 * A hotfix needs one minimal review (in the most demanding mode its type calls for) and one emergency approval.
 */
export function requiredSignoffs(change: SignoffSubject, policy?: Pick<PolicyConfig, 'quorum'>): SignoffSlot[] {
  const typed = reviewModesFor(change);
  if (change.hotfix) {
    const modes = typed.map((t) => t.mode);
    const mode = HOTFIX_REVIEW_PRIORITY.find((m) => m === 'standard' || modes.includes(m)) ?? 'standard';
    return [
      {
        id: `review:${mode}`,
        kind: 'review',
        role: REVIEW_MODE_ROLE[mode],
        mode,
        count: 1,
        why: `hotfix: minimal ${mode}-mode review (§11)`,
      },
      {
        id: 'approval:emergency-approver',
        kind: 'approval',
        role: 'emergency-approver',
        count: 1,
        why: 'hotfix: emergency approval (§11)',
      },
    ];
  }
  const q = policy?.quorum[change.risk] ?? DEFAULTS[change.risk];
  const slots: SignoffSlot[] = [];
  if (q.reviewer > 0) {
    slots.push({ id: 'review:standard', kind: 'review', role: 'reviewer', mode: 'standard', count: q.reviewer, why: `${change.risk} risk → ${q.reviewer} standard review(s)` });
  }
  for (const t of typed) {
    slots.push({ id: `review:${t.mode}`, kind: 'review', role: REVIEW_MODE_ROLE[t.mode], mode: t.mode, count: 1, why: t.why });
  }
  if (q.approver > 0) {
    slots.push({ id: 'approval:approver', kind: 'approval', role: 'approver', count: q.approver, why: `${change.risk} risk → ${q.approver} approver(s)` });
  }
  if (q.auditor > 0) {
    slots.push({ id: 'approval:auditor', kind: 'approval', role: 'auditor', count: q.auditor, why: `${change.risk} risk → ${q.auditor} auditor approval(s)` });
  }
  return slots;
}

const DEFAULTS: Record<RiskLevel, { approver: number; reviewer: number; auditor: number }> = {
  low: { approver: 1, reviewer: 0, auditor: 0 },
  medium: { approver: 1, reviewer: 1, auditor: 0 },
  high: { approver: 2, reviewer: 0, auditor: 0 },
  critical: { approver: 2, reviewer: 0, auditor: 1 },
};

/** Signoffs that still count: on the current gitRef and (approvals) not expired at nowMs. */
export function activeSignoffs(state: Pick<ApprovalState, 'gitRef' | 'signoffs'>, nowMs: number): RecordedSignoff[] {
  return state.signoffs.filter(
    (s) => s.gitRef === state.gitRef && (s.expiresAtMs === undefined || nowMs < s.expiresAtMs),
  );
}

function slotOf(slots: SignoffSlot[], kind: SignoffKind, role: Role, mode?: ReviewMode): SignoffSlot | undefined {
  return slots.find((s) => s.kind === kind && s.role === role && (kind === 'approval' || s.mode === mode));
}

export interface QuorumResult {
  met: boolean;
  /** In words, e.g. "1 more approver", "an auditor-mode review by an auditor". */
  missing: string[];
  /** Who counted for which slot; each person at most once, never the proposer or implementer. */
  counted: { by: string; slot: string }[];
  /** Remaining count per slot id. */
  remaining: Record<string, number>;
}

function describeMissing(slot: SignoffSlot, n: number): string {
  if (slot.kind === 'approval') {
    const role = slot.role === 'emergency-approver' ? 'emergency approver' : slot.role;
    return `${n} more ${role}${n === 1 ? '' : 's'}`;
  }
  const article = slot.role === 'auditor' ? 'an' : 'a';
  const who = `${article} ${slot.role}`;
  return n === 1 ? `1 more ${slot.mode}-mode review by ${who}` : `${n} more ${slot.mode}-mode reviews (each by a different ${slot.role})`;
}

/**
 * Counts the active signoffs against the required slots. Re-validates everything (person exists with the
 * role, not proposer/implementer, one slot per person), so even a corrupted state cannot count someone twice.
 * `scope` limits the check to reviews (the gate review → staging-test) or approvals (approval → deployment).
 */
export function quorumMet(
  state: ApprovalState,
  policy: PolicyConfig,
  nowMs: number,
  scope: 'all' | 'reviews' | 'approvals' = 'all',
): QuorumResult {
  const slots = requiredSignoffs(state, policy).filter(
    (s) => scope === 'all' || (scope === 'reviews' ? s.kind === 'review' : s.kind === 'approval'),
  );
  const filled: Record<string, number> = {};
  for (const s of slots) filled[s.id] = 0;
  const used = new Set<string>([state.proposer, state.implementer]);
  const counted: { by: string; slot: string }[] = [];
  const active = [...activeSignoffs(state, nowMs)].sort((a, b) => a.atMs - b.atMs);
  for (const s of active) {
    if (used.has(s.by)) continue;
    const person = findPerson(policy, s.by);
    if (!person || !person.roles.includes(s.role)) continue;
    if (s.kind === 'review' && (s.mode === undefined || REVIEW_MODE_ROLE[s.mode] !== s.role || !checklistComplete(s.checklist ?? []))) continue;
    const slot = slotOf(slots, s.kind, s.role, s.mode);
    if (!slot || (filled[slot.id] ?? 0) >= slot.count) continue;
    filled[slot.id] = (filled[slot.id] ?? 0) + 1;
    used.add(s.by);
    counted.push({ by: s.by, slot: slot.id });
  }
  const missing: string[] = [];
  const remaining: Record<string, number> = {};
  for (const slot of slots) {
    const n = slot.count - (filled[slot.id] ?? 0);
    remaining[slot.id] = n;
    if (n > 0) missing.push(describeMissing(slot, n));
  }
  return { met: missing.length === 0, missing, counted, remaining };
}

/** Roles still needed (for the AwaitingApprovalFrom search attribute and the UI), in slot order, unique. */
export function awaitingApprovalFrom(
  state: ApprovalState,
  policy: PolicyConfig,
  nowMs: number,
  scope: 'all' | 'reviews' | 'approvals' = 'all',
): string[] {
  if (state.decision || isTerminal(state.phase)) return [];
  const q = quorumMet(state, policy, nowMs, scope);
  const slots = requiredSignoffs(state, policy);
  const roles: string[] = [];
  for (const slot of slots) {
    if ((q.remaining[slot.id] ?? 0) > 0 && !roles.includes(slot.role)) roles.push(slot.role);
  }
  return roles;
}

/** People who could still fill a missing slot (not the proposer/implementer, not already counted). */
export function eligibleSigners(state: ApprovalState, policy: PolicyConfig, nowMs: number): { slot: string; people: string[] }[] {
  const q = quorumMet(state, policy, nowMs);
  const used = new Set([state.proposer, state.implementer, ...q.counted.map((c) => c.by)]);
  return requiredSignoffs(state, policy)
    .filter((s) => (q.remaining[s.id] ?? 0) > 0)
    .map((s) => ({ slot: s.id, people: policy.people.filter((p) => p.roles.includes(s.role) && !used.has(p.id)).map((p) => p.id) }));
}

/** Which checklist items (§5) are missing. */
export function missingChecklistItems(checklist: readonly string[]): ChecklistItem[] {
  return REVIEW_CHECKLIST.filter((item) => !checklist.includes(item));
}

export function checklistComplete(checklist: readonly string[]): boolean {
  return missingChecklistItems(checklist).length === 0;
}

function ttlMs(policy: PolicyConfig): number {
  return policy.approvalTtlHours * 3_600_000;
}

function common(
  state: ApprovalState,
  by: unknown,
  policy: PolicyConfig,
  phase: Phase,
  what: string,
): Refusal<SignoffCode> | null {
  if (state.decision || isTerminal(state.phase)) {
    return refuse('already-decided', `the change is already ${state.decision ?? state.phase}; no further ${what}s are accepted`);
  }
  if (state.phase !== phase) {
    return refuse('wrong-phase', `${what}s are accepted in the ${phase} phase; the change is in ${state.phase}`);
  }
  if (typeof by !== 'string' || !PERSON_ID_RE.test(by) || !findPerson(policy, by)) {
    return refuse('not-a-person', `"${String(by)}" is not a person in policy.people; ${what}s must come from a named person listed there`);
  }
  if (by === state.proposer || by === state.implementer) {
    return refuse('self-approval', `${by} is the ${by === state.proposer ? 'proposer' : 'implementer'} of this change; nobody may ${what} their own change (maker-checker)`);
  }
  return null;
}

function refAndTime(
  state: ApprovalState,
  sub: { gitRef?: unknown; atMs?: unknown },
  policy: PolicyConfig,
  nowMs: number,
  kind: SignoffKind,
): Refusal<SignoffCode> | null {
  if (sub.gitRef !== undefined && sub.gitRef !== state.gitRef) {
    return refuse('stale-ref', `the ${kind} was given for ${String(sub.gitRef)} but the change is now at ${state.gitRef}; look at the new commit and ${kind === 'review' ? 'review' : 'approve'} again`);
  }
  if (sub.atMs !== undefined) {
    if (typeof sub.atMs !== 'number' || !Number.isFinite(sub.atMs)) return refuse('invalid', 'atMs must be epoch milliseconds');
    if (kind === 'approval' && nowMs - sub.atMs >= ttlMs(policy)) {
      return refuse('expired', `the approval was given more than ${policy.approvalTtlHours}h ago; approve again`);
    }
  }
  return null;
}

function slotConflicts(state: ApprovalState, by: string, slot: SignoffSlot, nowMs: number, policy: PolicyConfig): Refusal<SignoffCode> | null {
  const mine = activeSignoffs(state, nowMs).filter((s) => s.by === by);
  const same = mine.find((s) => slotOf([slot], s.kind, s.role, s.mode));
  if (same) return refuse('duplicate', `${by} has already given this ${slot.kind} (${slot.id}); it is counted once`);
  if (mine.length > 0) {
    const other = mine[0] as RecordedSignoff;
    return refuse('same-person-twice', `${by} already signed this change as ${other.kind === 'review' ? `${other.mode}-mode reviewer` : other.role}; each signoff must come from a different person`);
  }
  const q = quorumMet(state, policy, nowMs);
  if ((q.remaining[slot.id] ?? 0) <= 0) {
    return refuse('not-required', `no more ${slot.id.replace(':', ' by ')} is needed${q.missing.length ? `; still missing: ${q.missing.join(', ')}` : '; the quorum is complete'}`);
  }
  return null;
}

/** Whether a review may be recorded. */
export function evaluateReview(state: ApprovalState, review: ReviewSubmission, policy: PolicyConfig, nowMs: number): SignoffVerdict {
  const c = common(state, review?.by, policy, 'review', 'review');
  if (c) return c;
  if (!(REVIEW_MODES as readonly unknown[]).includes(review.mode)) {
    return refuse('invalid', `mode must be one of ${REVIEW_MODES.join(', ')}`);
  }
  const role = REVIEW_MODE_ROLE[review.mode];
  const person = findPerson(policy, review.by);
  if (!person?.roles.includes(role)) {
    return refuse('wrong-role', `${review.by} does not hold the ${role} role needed for a ${review.mode}-mode review (has: ${person?.roles.join(', ') || 'none'})`);
  }
  const checklist = Array.isArray(review.checklist) ? review.checklist : [];
  const missing = missingChecklistItems(checklist);
  if (missing.length > 0) {
    return refuse('checklist-incomplete', `the review checklist (§5) is incomplete; tick: ${missing.join(', ')}`);
  }
  const rt = refAndTime(state, review, policy, nowMs, 'review');
  if (rt) return rt;
  const slots = requiredSignoffs(state, policy);
  const slot = slotOf(slots, 'review', role, review.mode);
  if (!slot) {
    const needed = slots.filter((s) => s.kind === 'review').map((s) => `${s.mode}-mode`);
    return refuse('not-required', `this change needs no ${review.mode}-mode review (needed: ${needed.join(', ') || 'no reviews, only approvals'})`);
  }
  return slotConflicts(state, review.by, slot, nowMs, policy) ?? { ok: true };
}

/** Chooses the role an approval counts under. */
function approvalRole(state: ApprovalState, approval: ApprovalSubmission, policy: PolicyConfig, nowMs: number): Role | Refusal<SignoffCode> {
  const person = findPerson(policy, approval.by);
  const held = person?.roles ?? [];
  const slots = requiredSignoffs(state, policy).filter((s) => s.kind === 'approval');
  if (approval.role !== undefined) {
    if (!(ROLES as readonly unknown[]).includes(approval.role) || !APPROVAL_ROLES.includes(approval.role)) {
      return refuse('wrong-role', `"${String(approval.role)}" is not an approval role; use one of ${slots.map((s) => s.role).join(', ')}`);
    }
    if (!held.includes(approval.role)) {
      return refuse('wrong-role', `${approval.by} does not hold the ${approval.role} role (has: ${held.join(', ') || 'none'})`);
    }
    return approval.role;
  }
  const q = quorumMet(state, policy, nowMs);
  const open = slots.find((s) => held.includes(s.role) && (q.remaining[s.id] ?? 0) > 0);
  const any = slots.find((s) => held.includes(s.role));
  const chosen = open ?? any;
  if (!chosen) {
    return refuse('wrong-role', `${approval.by} holds none of the roles this change needs approvals from (${slots.map((s) => s.role).join(', ')})`);
  }
  return chosen.role;
}

/** Whether an approval may be recorded. */
export function evaluateApproval(state: ApprovalState, approval: ApprovalSubmission, policy: PolicyConfig, nowMs: number): SignoffVerdict {
  const c = common(state, approval?.by, policy, 'approval', 'approve');
  if (c) return c;
  const role = approvalRole(state, approval, policy, nowMs);
  if (typeof role !== 'string') return role;
  const rt = refAndTime(state, approval, policy, nowMs, 'approval');
  if (rt) return rt;
  const slots = requiredSignoffs(state, policy);
  const slot = slotOf(slots, 'approval', role);
  if (!slot) {
    return refuse('not-required', `this change needs no approval from a ${role} (needed: ${slots.filter((s) => s.kind === 'approval').map((s) => s.role).join(', ')})`);
  }
  return slotConflicts(state, approval.by, slot, nowMs, policy) ?? { ok: true };
}

/** Records a review if evaluateReview accepts it; returns the new state (the input is not mutated). */
export function applyReview(
  state: ApprovalState,
  review: ReviewSubmission,
  policy: PolicyConfig,
  nowMs: number,
): { ok: true; state: ApprovalState } | Refusal<SignoffCode> {
  const v = evaluateReview(state, review, policy, nowMs);
  if (!v.ok) return v;
  const s: RecordedSignoff = {
    kind: 'review',
    by: review.by,
    role: REVIEW_MODE_ROLE[review.mode],
    mode: review.mode,
    gitRef: state.gitRef,
    atMs: review.atMs ?? nowMs,
    checklist: [...REVIEW_CHECKLIST],
  };
  if (review.comment !== undefined) s.comment = review.comment;
  return { ok: true, state: { ...state, signoffs: [...state.signoffs, s] } };
}

/** Records an approval (with its expiry) if evaluateApproval accepts it. */
export function applyApproval(
  state: ApprovalState,
  approval: ApprovalSubmission,
  policy: PolicyConfig,
  nowMs: number,
): { ok: true; state: ApprovalState } | Refusal<SignoffCode> {
  const v = evaluateApproval(state, approval, policy, nowMs);
  if (!v.ok) return v;
  const role = approvalRole(state, approval, policy, nowMs) as Role;
  const atMs = approval.atMs ?? nowMs;
  const s: RecordedSignoff = { kind: 'approval', by: approval.by, role, gitRef: state.gitRef, atMs, expiresAtMs: atMs + ttlMs(policy) };
  if (approval.comment !== undefined) s.comment = approval.comment;
  return { ok: true, state: { ...state, signoffs: [...state.signoffs, s] } };
}

/** The change moved to a new commit: every earlier signoff stops counting. */
export function withGitRef(state: ApprovalState, gitRef: string): ApprovalState {
  return { ...state, gitRef };
}

/** Whether `by` may reject the change: a listed person, not the proposer/implementer, holding a checker role. */
export function evaluateRejection(
  state: ApprovalState,
  rejection: { by: string; reason: string },
  policy: PolicyConfig,
): SignoffVerdict {
  if (state.decision || isTerminal(state.phase)) {
    return refuse('already-decided', `the change is already ${state.decision ?? state.phase}`);
  }
  if (state.phase === 'deployment' || state.phase === 'post-deployment-review' || state.phase === 'full-review') {
    return refuse('wrong-phase', `the change is in ${state.phase}; it can no longer be rejected (roll back or open an incident instead)`);
  }
  const person = typeof rejection?.by === 'string' ? findPerson(policy, rejection.by) : undefined;
  if (!person) return refuse('not-a-person', `"${String(rejection?.by)}" is not a person in policy.people`);
  if (person.id === state.proposer || person.id === state.implementer) {
    return refuse('self-approval', `${person.id} cannot reject their own change; use withdraw instead`);
  }
  if (!person.roles.some((r) => r !== 'engineer')) {
    return refuse('wrong-role', `${person.id} holds no reviewer or approver role`);
  }
  if (typeof rejection.reason !== 'string' || rejection.reason.trim() === '') {
    return refuse('invalid', 'a rejection must give a reason (--reason)');
  }
  return { ok: true };
}

/** Whether `by` may withdraw the change: only its proposer or implementer, before deployment. */
export function evaluateWithdrawal(state: ApprovalState, by: string): SignoffVerdict {
  if (state.decision || isTerminal(state.phase)) return refuse('already-decided', `the change is already ${state.decision ?? state.phase}`);
  if (by !== state.proposer && by !== state.implementer) {
    return refuse('wrong-role', `only the proposer (${state.proposer}) or implementer may withdraw this change`);
  }
  if (!['proposal', 'planning', 'implementation', 'review', 'staging-test', 'approval'].includes(state.phase)) {
    return refuse('wrong-phase', `the change is in ${state.phase}; it can no longer be withdrawn`);
  }
  return { ok: true };
}

/** A fresh approval state for a proposal (risk from classifyRisk). */
export function initialApprovalState(input: {
  changeId?: string;
  proposal: {
    type: ChangeType;
    proposer: string;
    implementer: string;
    gitRef: string;
    dataMigrationRequired: boolean;
    financialImpact: boolean;
    complianceImpact: boolean;
    hotfixReason?: string;
  };
  risk: RiskLevel;
  phase?: Phase;
}): ApprovalState {
  const p = input.proposal;
  const st: ApprovalState = {
    type: p.type,
    risk: input.risk,
    dataMigrationRequired: p.dataMigrationRequired,
    financialImpact: p.financialImpact,
    complianceImpact: p.complianceImpact,
    hotfix: p.hotfixReason !== undefined,
    proposer: p.proposer,
    implementer: p.implementer,
    phase: input.phase ?? 'proposal',
    gitRef: p.gitRef,
    signoffs: [],
  };
  if (input.changeId !== undefined) st.changeId = input.changeId;
  return st;
}

/**
 * The instant at which a change's approvals stop making the quorum (one of them expires), or undefined when none
 * expires after nowMs. The change passes it to its production deployment, which re-checks it before every host step.
 */
export function approvalsValidUntil(state: ApprovalState, policy: PolicyConfig, nowMs: number): number | undefined {
  const ends = [...new Set(state.signoffs.map((s) => s.expiresAtMs).filter((t): t is number => typeof t === 'number' && t > nowMs))].sort((a, b) => a - b);
  return ends.find((t) => !quorumMet(state, policy, t, 'approvals').met);
}

/** A hotfix with an emergency approval (§11) may deploy in a blackout. */
export function emergencyApprovalGiven(state: Pick<ApprovalState, 'hotfix' | 'signoffs'>): boolean {
  return state.hotfix === true && state.signoffs.some((s) => s.role === 'emergency-approver');
}
