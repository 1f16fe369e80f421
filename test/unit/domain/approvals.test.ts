import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  requiredSignoffs,
  evaluateReview,
  evaluateApproval,
  applyReview,
  applyApproval,
  quorumMet,
  activeSignoffs,
  awaitingApprovalFrom,
  withGitRef,
  initialApprovalState,
  evaluateRejection,
  evaluateWithdrawal,
  classifyRisk,
  CHANGE_TYPES,
  RISK_LEVELS,
  ROLES,
  REVIEW_MODES,
  type ApprovalState,
  type RecordedSignoff,
  type Phase,
} from '../../../src/domain';
import { ALL_CHECKS, RUNS, basePolicy, proposal } from './helpers';

const policy = basePolicy();
const T0 = Date.parse('2025-06-02T09:00:00Z');
const H = 3_600_000;

function state(over: Record<string, unknown> = {}, phase: Phase = 'approval'): ApprovalState {
  const p = proposal(over);
  return initialApprovalState({ proposal: p, risk: classifyRisk(p).risk, phase });
}

function slots(over: Record<string, unknown>) {
  const s = state(over);
  return requiredSignoffs(s, policy).map((x) => `${x.id}x${x.count}`).sort();
}

test('requiredSignoffs by risk and type (table)', () => {
  assert.deepEqual(slots({ type: 'cosmetic' }), ['approval:approverx1']);
  assert.deepEqual(slots({ type: 'feature' }), ['approval:approverx1', 'review:standardx1']);
  assert.deepEqual(slots({ type: 'workflow' }), ['approval:approverx2']);
  assert.deepEqual(slots({ type: 'financial-logic' }), ['approval:approverx2', 'approval:auditorx1', 'review:auditorx1']);
  assert.deepEqual(slots({ type: 'security' }), ['approval:approverx2', 'review:securityx1']);
  assert.deepEqual(slots({ type: 'infrastructure' }), ['approval:approverx2', 'review:dbax1']);
  assert.deepEqual(slots({ type: 'feature', dataMigrationRequired: true }), ['approval:approverx2', 'review:dbax1']);
  assert.deepEqual(slots({ type: 'regulatory' }), ['approval:approverx2', 'approval:auditorx1', 'review:compliancex1']);
  assert.deepEqual(slots({ type: 'cosmetic', hotfixReason: 'production-outage' }), ['approval:emergency-approverx1', 'review:standardx1']);
  assert.deepEqual(slots({ type: 'financial-logic', hotfixReason: 'financial-miscalculation' }), ['approval:emergency-approverx1', 'review:auditorx1']);
});

test('quorum overrides can only be stricter and are used', () => {
  const strict = basePolicy({ quorum: { low: { approver: 2 } } });
  const s = state({ type: 'cosmetic' });
  assert.equal(requiredSignoffs(s, strict)[0]?.count, 2);
});

const reviewCases: [string, Partial<Parameters<typeof evaluateReview>[1]>, Record<string, unknown>, Phase, string | null][] = [
  ['standard review by reviewer ok', { by: 'bob', mode: 'standard' }, { type: 'feature' }, 'review', null],
  ['proposer may not review', { by: 'alice', mode: 'standard' }, { type: 'feature', proposer: 'alice' }, 'review', 'self-approval'],
  ['implementer may not review', { by: 'bob', mode: 'standard' }, { type: 'feature', implementer: 'bob' }, 'review', 'self-approval'],
  ['unknown person', { by: 'zed', mode: 'standard' }, { type: 'feature' }, 'review', 'not-a-person'],
  ['wrong role for auditor mode', { by: 'bob', mode: 'auditor' }, { type: 'financial-logic' }, 'review', 'wrong-role'],
  ['wrong phase', { by: 'bob', mode: 'standard' }, { type: 'feature' }, 'approval', 'wrong-phase'],
  ['terminal', { by: 'bob', mode: 'standard' }, { type: 'feature' }, 'completed', 'already-decided'],
  ['checklist incomplete', { by: 'bob', mode: 'standard', checklist: ALL_CHECKS.slice(1) }, { type: 'feature' }, 'review', 'checklist-incomplete'],
  ['stale ref', { by: 'bob', mode: 'standard', gitRef: 'other' }, { type: 'feature' }, 'review', 'stale-ref'],
  ['mode not required', { by: 'grace', mode: 'security' }, { type: 'feature' }, 'review', 'not-required'],
  ['auditor review ok for financial logic', { by: 'erin', mode: 'auditor' }, { type: 'financial-logic' }, 'review', null],
];
for (const [name, rev, over, phase, code] of reviewCases) {
  test(`evaluateReview: ${name}`, () => {
    const v = evaluateReview(state(over, phase), { checklist: ALL_CHECKS, ...rev } as Parameters<typeof evaluateReview>[1], policy, T0);
    if (code === null) assert.deepEqual(v, { ok: true });
    else {
      assert.equal(v.ok, false);
      if (!v.ok) {
        assert.equal(v.code, code, v.reason);
        assert.ok(v.reason.length > 10);
      }
    }
  });
}

test('checklist refusal names the missing items', () => {
  const v = evaluateReview(state({ type: 'feature' }, 'review'), { by: 'bob', mode: 'standard', checklist: ['tenant-safe'] }, policy, T0);
  assert.equal(v.ok, false);
  if (!v.ok) assert.match(v.reason, /permission-safe, audit-logging-intact, no-silent-balance-change, tests-written-or-proposed/);
});

test('approvals: duplicate, same-person-twice, expiry, gitRef invalidation, quorum in words', () => {
  let s = state({ type: 'financial-logic' }, 'review');
  const r = applyReview(s, { by: 'erin', mode: 'auditor', checklist: ALL_CHECKS }, policy, T0);
  assert.ok(r.ok);
  s = { ...(r as { state: ApprovalState }).state, phase: 'approval' };
  assert.deepEqual(quorumMet(s, policy, T0).missing, ['2 more approvers', '1 more auditor']);
  assert.deepEqual(awaitingApprovalFrom(s, policy, T0), ['approver', 'auditor']);
  // erin already reviewed: cannot also approve as auditor
  const twice = evaluateApproval(s, { by: 'erin', role: 'auditor' }, policy, T0);
  assert.equal(twice.ok, false);
  if (!twice.ok) assert.equal(twice.code, 'same-person-twice');
  const a1 = applyApproval(s, { by: 'carol' }, policy, T0);
  assert.ok(a1.ok);
  s = (a1 as { state: ApprovalState }).state;
  const dup = evaluateApproval(s, { by: 'carol' }, policy, T0 + 1);
  assert.equal(dup.ok, false);
  if (!dup.ok) assert.equal(dup.code, 'duplicate');
  // frank is auditor+approver: one slot only
  s = (applyApproval(s, { by: 'frank', role: 'auditor' }, policy, T0) as { state: ApprovalState }).state;
  const frank2 = evaluateApproval(s, { by: 'frank', role: 'approver' }, policy, T0);
  assert.equal(frank2.ok, false);
  if (!frank2.ok) assert.equal(frank2.code, 'same-person-twice');
  s = (applyApproval(s, { by: 'dave' }, policy, T0 + H) as { state: ApprovalState }).state;
  assert.deepEqual(quorumMet(s, policy, T0 + 2 * H), { met: true, missing: [], counted: quorumMet(s, policy, T0 + 2 * H).counted, remaining: { 'review:auditor': 0, 'approval:approver': 0, 'approval:auditor': 0 } });
  // expiry after 72h
  const later = T0 + 72 * H;
  assert.equal(quorumMet(s, policy, later).met, false);
  assert.ok(quorumMet(s, policy, later).missing.includes('1 more approver'));
  assert.equal(activeSignoffs(s, later).length, 2); // review (no TTL) + dave
  // new commit voids everything
  const moved = withGitRef(s, 'feature/label-2');
  assert.deepEqual(activeSignoffs(moved, T0 + 2 * H), []);
  const stale = evaluateApproval(moved, { by: 'heidi', gitRef: 'feature/label-1' }, policy, T0);
  assert.equal(stale.ok, false);
  if (!stale.ok) assert.equal(stale.code, 'stale-ref');
});

const approvalCases: [string, Record<string, unknown>, Record<string, unknown>, Phase, string | null][] = [
  ['approver ok', { by: 'carol' }, {}, 'approval', null],
  ['self approval (proposer)', { by: 'carol' }, { proposer: 'carol' }, 'approval', 'self-approval'],
  ['self approval (implementer)', { by: 'carol' }, { implementer: 'carol' }, 'approval', 'self-approval'],
  ['not a person', { by: 'nobody' }, {}, 'approval', 'not-a-person'],
  ['malformed person', { by: 'DROP TABLE' }, {}, 'approval', 'not-a-person'],
  ['reviewer-only person', { by: 'bob' }, {}, 'approval', 'wrong-role'],
  ['role not held', { by: 'carol', role: 'auditor' }, {}, 'approval', 'wrong-role'],
  ['wrong phase', { by: 'carol' }, {}, 'review', 'wrong-phase'],
  ['rejected', { by: 'carol' }, {}, 'rejected', 'already-decided'],
  ['expired payload', { by: 'carol', atMs: T0 - 73 * H }, {}, 'approval', 'expired'],
  ['auditor not needed for low', { by: 'erin', role: 'auditor' }, {}, 'approval', 'not-required'],
  ['emergency approver for hotfix', { by: 'judy', role: 'emergency-approver' }, { hotfixReason: 'production-outage' }, 'approval', null],
  ['plain approver for hotfix', { by: 'carol' }, { hotfixReason: 'production-outage' }, 'approval', 'wrong-role'],
];
for (const [name, appr, over, phase, code] of approvalCases) {
  test(`evaluateApproval: ${name}`, () => {
    const v = evaluateApproval(state(over, phase), appr as unknown as Parameters<typeof evaluateApproval>[1], policy, T0);
    if (code === null) assert.deepEqual(v, { ok: true });
    else {
      assert.equal(v.ok, false);
      if (!v.ok) assert.equal(v.code, code, v.reason);
    }
  });
}

test('rejection and withdrawal', () => {
  const s = state({}, 'approval');
  assert.equal(evaluateRejection(s, { by: 'carol', reason: 'no' }, policy).ok, true);
  assert.equal(evaluateRejection(s, { by: 'alice', reason: 'no' }, policy).ok, false);
  assert.equal(evaluateRejection(s, { by: 'carol', reason: ' ' }, policy).ok, false);
  assert.equal(evaluateWithdrawal(s, 'alice').ok, true);
  assert.equal(evaluateWithdrawal(s, 'carol').ok, false);
  assert.equal(evaluateWithdrawal({ ...s, phase: 'deployment' }, 'alice').ok, false);
});

const people = policy.people.map((p) => p.id).concat(['nobody', 'alice']);
const signoffArb = fc.record({
  kind: fc.constantFrom('review' as const, 'approval' as const),
  by: fc.constantFrom(...people),
  role: fc.constantFrom(...ROLES),
  mode: fc.option(fc.constantFrom(...REVIEW_MODES), { nil: undefined }),
  gitRef: fc.constantFrom('r1', 'r2'),
  atMs: fc.integer({ min: T0 - 100 * H, max: T0 }),
  expiresAtMs: fc.option(fc.integer({ min: T0 - 50 * H, max: T0 + 100 * H }), { nil: undefined }),
  checklist: fc.constant(ALL_CHECKS as RecordedSignoff['checklist']),
});
const stateArb = fc.record({
  type: fc.constantFrom(...CHANGE_TYPES),
  risk: fc.constantFrom(...RISK_LEVELS),
  dataMigrationRequired: fc.boolean(),
  financialImpact: fc.boolean(),
  complianceImpact: fc.boolean(),
  hotfix: fc.boolean(),
  proposer: fc.constantFrom(...people),
  implementer: fc.constantFrom(...people),
  phase: fc.constantFrom<Phase>('review', 'approval', 'deployment'),
  gitRef: fc.constantFrom('r1', 'r2'),
  signoffs: fc.array(signoffArb, { maxLength: 12 }),
});

test('property: no self-approval and no person counted twice under any state', () => {
  fc.assert(
    fc.property(stateArb, (s) => {
      const st = s as ApprovalState;
      const q = quorumMet(st, policy, T0);
      const who = q.counted.map((c) => c.by);
      if (new Set(who).size !== who.length) return false;
      if (who.includes(st.proposer) || who.includes(st.implementer)) return false;
      if (who.some((w) => !policy.people.some((p) => p.id === w))) return false;
      return true;
    }),
    { numRuns: RUNS },
  );
});

test('property: applying any sequence of reviews/approvals never records the proposer/implementer nor one person twice', () => {
  const actionArb = fc.record({
    kind: fc.constantFrom('review', 'approval'),
    by: fc.constantFrom(...people),
    role: fc.option(fc.constantFrom(...ROLES), { nil: undefined }),
    mode: fc.constantFrom(...REVIEW_MODES),
    dt: fc.integer({ min: 0, max: 10 * H }),
  });
  fc.assert(
    fc.property(stateArb, fc.array(actionArb, { maxLength: 15 }), (s0, actions) => {
      let st = { ...(s0 as ApprovalState), signoffs: [] as RecordedSignoff[], phase: 'review' as Phase };
      let now = T0;
      for (const a of actions) {
        now += a.dt;
        if (a.kind === 'approval') st = { ...st, phase: 'approval' };
        const r =
          a.kind === 'review'
            ? applyReview(st, { by: a.by, mode: a.mode, checklist: ALL_CHECKS }, policy, now)
            : applyApproval(st, a.role ? { by: a.by, role: a.role } : { by: a.by }, policy, now);
        if (r.ok) st = r.state;
      }
      const by = activeSignoffs(st, now).map((x) => x.by);
      if (new Set(by).size !== by.length) return false;
      return !st.signoffs.some((x) => x.by === st.proposer || x.by === st.implementer);
    }),
    { numRuns: RUNS },
  );
});
