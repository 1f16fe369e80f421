// Who may start a deployment (src/domain/authority.ts) and who may order one directly (policy.decisionRoles).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPolicy, parsePolicyConfig } from '../../../src/domain';
import { approvalsValidUntil, emergencyApprovalGiven, type ApprovalState } from '../../../src/domain/approvals';
import { judgeChangeAuthority, type ChangeView } from '../../../src/domain/authority';
import { mayDecide, stricterPolicy, type PolicyConfig } from '../../../src/domain/policy';
import type { ChangeState } from '../../../src/workflows/lifecycle-api';
import { testPeople } from '../../helpers/signing';

// The change's `status` query answers a ChangeState: it carries every field the authority reads (checked by tsc).
const asView = (s: ChangeState): ChangeView => s;
void asView;

const policy = defaultPolicy({ people: testPeople() as never });
const NOW = Date.parse('2026-12-02T10:00:00Z');
const COMMIT = 'c'.repeat(40);
const expect = { changeId: 'CHG-9', environment: 'production', gitRef: COMMIT, deploymentWorkflowId: 'deploy-CHG-9-production-1' };
const approval = (by: string, role: 'approver' | 'emergency-approver', expiresAtMs: number) => ({ kind: 'approval' as const, by, role, gitRef: COMMIT, atMs: NOW - 1000, expiresAtMs });
function view(over: Partial<ChangeView> = {}): ChangeView {
  return {
    changeId: 'CHG-9', workflowId: 'change-CHG-9', phase: 'deployment', commit: COMMIT, runningDeployment: expect.deploymentWorkflowId,
    type: 'feature', risk: 'high', hotfix: false, proposer: 'alice', implementer: 'bob',
    signoffs: [approval('carol', 'approver', NOW + 3_600_000), approval('dave', 'approver', NOW + 7_200_000)],
    ...over,
  };
}

describe('deployment authority (domain)', () => {
  it("confirms a change deploying this commit now, with its own approvals' expiry (the first one that breaks the quorum)", () => {
    assert.deepEqual(judgeChangeAuthority(view(), expect, policy, NOW), { ok: true, phase: 'deployment', emergencyApproved: false, approvalsValidUntilMs: NOW + 3_600_000 });
    assert.deepEqual(judgeChangeAuthority(view({ phase: 'staging-test' }), { ...expect, environment: 'staging' }, policy, NOW), { ok: true, phase: 'staging-test', emergencyApproved: false });
  });
  it('refuses another change, another phase, another deployment, another commit, expired approvals, an unknown environment', () => {
    const reason = (v: Partial<ChangeView>, e: Partial<typeof expect> = {}, now = NOW) => {
      const r = judgeChangeAuthority(view(v), { ...expect, ...e }, policy, now);
      assert.equal(r.ok, false);
      return (r as { reason: string }).reason;
    };
    assert.match(reason({ changeId: 'CHG-8', workflowId: 'change-CHG-8' }), /is the change CHG-8/);
    assert.match(reason({ phase: 'approval' }), /in its approval phase, not deployment/);
    assert.match(reason({ phase: 'deployment' }, { environment: 'staging' }), /not staging-test/);
    assert.match(reason({ runningDeployment: undefined }), /running no deployment/);
    assert.match(reason({ commit: 'd'.repeat(40) }), /approved commit d{40}, not c{40}/);
    assert.match(reason({}, {}, NOW + 3_600_000), /no longer make the quorum \(1 more approver\)/);
    assert.match(reason({}, { environment: 'qa' }), /no change deploys to "qa"/);
    // An approval by the proposer never counts, whatever the caller's input says.
    assert.match(reason({ signoffs: [approval('alice', 'approver', NOW + 3_600_000), approval('dave', 'approver', NOW + 3_600_000)] }), /quorum/);
  });
  it('an emergency approval counts for a hotfix only, as the change counts it', () => {
    const hot = view({ hotfix: true, signoffs: [approval('ivan', 'emergency-approver', NOW + 3_600_000)] });
    assert.deepEqual(judgeChangeAuthority(hot, expect, policy, NOW), { ok: true, phase: 'deployment', emergencyApproved: true, approvalsValidUntilMs: NOW + 3_600_000 });
    const state = { hotfix: false, signoffs: hot.signoffs } as Pick<ApprovalState, 'hotfix' | 'signoffs'>;
    assert.equal(emergencyApprovalGiven(state), false);
    assert.equal(approvalsValidUntil({ ...(view() as unknown as ApprovalState), gitRef: COMMIT, dataMigrationRequired: false }, policy, NOW + 7_200_001), undefined, 'nothing left to expire');
  });
  it('a direct order is for emergency approvers by default, configurable, never weakened by an old policy without the kind', () => {
    assert.equal(mayDecide(policy, 'ivan', 'orderDeployment'), true);
    assert.equal(mayDecide(policy, 'carol', 'orderDeployment'), false);
    assert.equal(mayDecide(policy, 'alice', 'orderDeployment'), false);
    const ops = parsePolicyConfig({ people: testPeople(), decisionRoles: { orderDeployment: ['dba'] } } as never);
    assert.equal(mayDecide(ops, 'grace', 'orderDeployment'), true);
    assert.equal(mayDecide(ops, 'ivan', 'orderDeployment'), false);
    // A policy recorded before the kind existed (an old history's loadPolicy result) has no list for it.
    const old = { ...policy, decisionRoles: { destructiveMigration: ['dba'], restore: ['approver'], manualStep: ['approver'] } } as unknown as PolicyConfig;
    assert.deepEqual(stricterPolicy(old, policy).decisionRoles.orderDeployment, ['emergency-approver']);
    assert.deepEqual(stricterPolicy(old, ops).decisionRoles.orderDeployment, ['dba']);
    assert.equal(mayDecide(old, 'ivan', 'orderDeployment'), true);
  });
});
