import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hotfixEligibility, hotfixRequirements, rollbackPlan, nextVersion, bumpFor, parseVersion, formatVersion, CHANGE_TYPES } from '../../../src/domain';
import { basePolicy } from './helpers';

test('hotfix eligibility (§11): only outage, financial miscalculation, security vulnerability', () => {
  for (const r of ['production-outage', 'financial-miscalculation', 'security-vulnerability']) assert.equal(hotfixEligibility({ hotfixReason: r }).eligible, true);
  for (const r of [undefined, 'impatience', 'deadline']) {
    const e = hotfixEligibility({ hotfixReason: r });
    assert.equal(e.eligible, false);
    assert.match(e.reasons[0] ?? '', /production-outage, financial-miscalculation, security-vulnerability/);
  }
  assert.equal(hotfixEligibility({ hotfixReason: 'production-outage', targetEnvironments: ['staging'] }).eligible, false);
});

test('hotfix requirements: minimal review, emergency approval, smoke, docs, full review scheduled', () => {
  const policy = basePolicy({ hotfixFullReviewDays: 3 });
  const r = hotfixRequirements({ type: 'financial-logic', hotfixReason: 'financial-miscalculation', dataMigrationRequired: false }, policy, 1_000);
  assert.equal(r.fullReviewDueMs, 1_000 + 3 * 86_400_000);
  assert.equal(r.smokeTestImmediately, true);
  assert.equal(r.incidentRequired, true);
  assert.deepEqual(r.signoffs.map((s) => s.id), ['review:auditor', 'approval:emergency-approver']);
});

const rb = (input: Partial<Parameters<typeof rollbackPlan>[0]>) =>
  rollbackPlan({ changeType: 'feature', migrationsApplied: [], releaseSwitched: true, ...input }).steps.map((s) => s.action);

test('rollback §10.1 code only', () => assert.deepEqual(rb({}), ['switch-to-previous-release', 'restart']));
test('rollback §10.2 reversible migrations: reverse (newest first) before switching code', () => {
  const plan = rollbackPlan({ changeType: 'feature', releaseSwitched: true, migrationsApplied: [{ app: 'loans', name: '0004_a', reversible: true }, { app: 'loans', name: '0005_b', reversible: true }] });
  assert.deepEqual(plan.steps.map((s) => s.action), ['reverse-migrations', 'switch-to-previous-release', 'restart']);
  assert.deepEqual(plan.steps[0]?.migrations?.map((m) => m.name), ['0005_b', '0004_a']);
  assert.equal(plan.requiresHuman, false);
});
test('rollback: irreversible migration stops for a human decision', () => {
  const plan = rollbackPlan({ changeType: 'infrastructure', releaseSwitched: true, migrationsApplied: [{ app: 'fin', name: '0009', reversible: false }] });
  assert.equal(plan.steps[0]?.action, 'await-restore-decision');
  assert.equal(plan.steps[0]?.requiresHuman, true);
  assert.ok(!plan.steps.some((s) => s.action === 'reverse-migrations'));
});
test('rollback §10.3 financial logic', () => {
  assert.deepEqual(rb({ changeType: 'financial-logic' }), ['disable-feature', 'switch-to-previous-release', 'restart', 'await-restore-decision', 'manual-reversal-steps', 'open-incident']);
  assert.deepEqual(rb({ changeType: 'feature', financialImpact: true, releaseSwitched: false }), ['disable-feature', 'await-restore-decision', 'manual-reversal-steps', 'open-incident']);
});
test('rollback: nothing switched, nothing applied → nothing to do', () => assert.deepEqual(rb({ releaseSwitched: false }), []));

test('semver (§14)', () => {
  assert.deepEqual(parseVersion('v1.4.2'), { major: 1, minor: 4, patch: 2 });
  for (const bad of ['1.4.2', 'v1.4', 'v01.2.3', 'v1.2.3-rc1', 'release-5', 'v1.2.3.4']) assert.equal(parseVersion(bad), null);
  assert.equal(formatVersion({ major: 2, minor: 0, patch: 1 }), 'v2.0.1');
  const tags = ['v1.4.2', 'v1.10.0', 'junk', 'v1.9.9', 'v2.0.0-beta'];
  assert.equal(nextVersion(tags, 'cosmetic'), 'v1.10.1');
  assert.equal(nextVersion(tags, 'feature'), 'v1.11.0');
  assert.equal(nextVersion(tags, 'regulatory'), 'v2.0.0');
  assert.equal(nextVersion(tags, 'infrastructure'), 'v2.0.0');
  assert.equal(nextVersion(tags, 'financial-logic', { hotfix: true }), 'v1.10.1');
  assert.equal(nextVersion([], 'feature'), 'v0.1.0');
  for (const t of CHANGE_TYPES) assert.ok(['major', 'minor', 'patch'].includes(bumpFor(t)));
});
