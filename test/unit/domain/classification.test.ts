import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyRisk, riskRank, BASE_RISK, CHANGE_TYPES, RISK_LEVELS, ROLLBACK_COMPLEXITIES, type Proposal } from '../../../src/domain';
import { RUNS, proposal } from './helpers';

const table: [string, Record<string, unknown>, string, RegExp][] = [
  ['cosmetic is low', { type: 'cosmetic' }, 'low', /cosmetic.*low/],
  ['feature is medium', { type: 'feature' }, 'medium', /§1/],
  ['workflow is high', { type: 'workflow' }, 'high', /§1/],
  ['financial-logic is critical', { type: 'financial-logic' }, 'critical', /§1/],
  ['security is high', { type: 'security' }, 'high', /§1/],
  ['infrastructure is high', { type: 'infrastructure' }, 'high', /§1/],
  ['regulatory is critical', { type: 'regulatory' }, 'critical', /§1/],
  ['financial impact raises to critical', { financialImpact: true }, 'critical', /financial impact/],
  ['compliance impact raises to critical', { complianceImpact: true }, 'critical', /compliance impact/],
  ['data migration raises to high', { dataMigrationRequired: true }, 'high', /data migration/],
  ['high rollback complexity raises to high', { rollbackComplexity: 'high' }, 'high', /rollback complexity is high/],
  ['medium rollback complexity raises to medium', { rollbackComplexity: 'medium' }, 'medium', /rollback complexity is medium/],
  ['declared balance changes raise to critical', { declaredBalanceChanges: [{ tenant: 't1', metric: 'gl', reason: 'fee' }] }, 'critical', /balance change/],
  ['empty declared balance changes do not raise', { declaredBalanceChanges: [] }, 'low', /cosmetic/],
  ['proposer may raise', { riskLevel: 'high' }, 'high', /proposer assessed high: raised/],
  ['proposer may not lower', { type: 'financial-logic', riskLevel: 'low' }, 'critical', /never lowered/],
];
for (const [name, over, risk, re] of table) {
  test(`classifyRisk: ${name}`, () => {
    const r = classifyRisk(proposal(over));
    assert.equal(r.risk, risk);
    assert.ok(r.reasons.some((x) => re.test(x)), JSON.stringify(r.reasons));
  });
}

test('property: risk is never below the type, any raising flag, or the proposer', () => {
  fc.assert(
    fc.property(
      fc.record({
        type: fc.constantFrom(...CHANGE_TYPES),
        riskLevel: fc.option(fc.constantFrom(...RISK_LEVELS), { nil: undefined }),
        financialImpact: fc.boolean(),
        complianceImpact: fc.boolean(),
        dataMigrationRequired: fc.boolean(),
        rollbackComplexity: fc.constantFrom(...ROLLBACK_COMPLEXITIES),
      }),
      (p) => {
        const r = classifyRisk(p as Pick<Proposal, 'type' | 'riskLevel' | 'financialImpact' | 'complianceImpact' | 'dataMigrationRequired' | 'rollbackComplexity'>);
        const rank = riskRank(r.risk);
        if (rank < riskRank(BASE_RISK[p.type])) return false;
        if (p.riskLevel && rank < riskRank(p.riskLevel)) return false;
        if ((p.financialImpact || p.complianceImpact) && r.risk !== 'critical') return false;
        if ((p.dataMigrationRequired || p.rollbackComplexity === 'high') && rank < riskRank('high')) return false;
        // turning a flag off never raises the risk (monotone)
        const lower = classifyRisk({ ...p, financialImpact: false, complianceImpact: false, dataMigrationRequired: false, rollbackComplexity: 'low', riskLevel: undefined });
        if (riskRank(lower.risk) > rank) return false;
        return r.reasons.length >= 1;
      },
    ),
    { numRuns: RUNS },
  );
});
