/** Change classification (playbook §1): risk from type, raised (never lowered) by impact flags and the proposer. */
import type { Proposal } from './proposal';
import { maxRisk, riskRank, type ChangeType, type RiskLevel } from './types';

/** Playbook §1 table. */
export const BASE_RISK: Readonly<Record<ChangeType, RiskLevel>> = Object.freeze({
  cosmetic: 'low',
  feature: 'medium',
  workflow: 'high',
  'financial-logic': 'critical',
  security: 'high',
  infrastructure: 'high',
  regulatory: 'critical',
});

export interface RiskClassification {
  risk: RiskLevel;
  reasons: string[];
}

type ClassifiableProposal = Pick<
  Proposal,
  'type' | 'riskLevel' | 'financialImpact' | 'complianceImpact' | 'dataMigrationRequired' | 'rollbackComplexity' | 'declaredBalanceChanges'
>;

/**
 * Risk = max(base risk of the type, every raising rule, the proposer's own level). Each rule that applies
 * adds a reason, whether or not it changed the result.
 */
export function classifyRisk(p: ClassifiableProposal): RiskClassification {
  const base = BASE_RISK[p.type];
  let risk: RiskLevel = base;
  const reasons: string[] = [`type "${p.type}" is ${base} risk (playbook §1)`];
  const raise = (to: RiskLevel, why: string) => {
    const before = risk;
    risk = maxRisk(risk, to);
    reasons.push(before === risk ? `${why}: at least ${to} (already ${risk})` : `${why}: raised from ${before} to ${risk}`);
  };
  if (p.financialImpact) raise('critical', 'financial impact declared');
  if (p.declaredBalanceChanges && p.declaredBalanceChanges.length > 0) {
    raise('critical', `${p.declaredBalanceChanges.length} balance change(s) declared`);
  }
  if (p.complianceImpact) raise('critical', 'compliance impact declared');
  if (p.dataMigrationRequired) raise('high', 'data migration required (a DB change, like infrastructure)');
  if (p.rollbackComplexity === 'high') raise('high', 'rollback complexity is high');
  else if (p.rollbackComplexity === 'medium') raise('medium', 'rollback complexity is medium');
  if (p.riskLevel !== undefined) {
    if (riskRank(p.riskLevel) > riskRank(risk)) {
      const before = risk;
      risk = p.riskLevel;
      reasons.push(`proposer assessed ${p.riskLevel}: raised from ${before} to ${risk}`);
    } else if (riskRank(p.riskLevel) < riskRank(risk)) {
      reasons.push(`proposer assessed ${p.riskLevel}: ignored, risk is never lowered below ${risk}`);
    } else {
      reasons.push(`proposer assessed ${p.riskLevel}: agrees`);
    }
  }
  return { risk, reasons };
}
