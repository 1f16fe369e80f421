/** Shared vocabularies of the policy core. */

export const CHANGE_TYPES = [
  'cosmetic',
  'feature',
  'workflow',
  'financial-logic',
  'security',
  'infrastructure',
  'regulatory',
] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

export const ROLLBACK_COMPLEXITIES = ['low', 'medium', 'high'] as const;
export type RollbackComplexity = (typeof ROLLBACK_COMPLEXITIES)[number];

export const HOTFIX_REASONS = ['production-outage', 'financial-miscalculation', 'security-vulnerability'] as const;
export type HotfixReason = (typeof HOTFIX_REASONS)[number];

export const ENVIRONMENTS = ['staging', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export const ROLES = [
  'engineer',
  'reviewer',
  'approver',
  'auditor',
  'security-reviewer',
  'dba',
  'compliance',
  'emergency-approver',
] as const;
export type Role = (typeof ROLES)[number];

export const REVIEW_MODES = ['standard', 'auditor', 'security', 'dba', 'compliance'] as const;
export type ReviewMode = (typeof REVIEW_MODES)[number];

/** Playbook §5 checklist; all five must be ticked for a review to count. */
export const REVIEW_CHECKLIST = [
  'tenant-safe',
  'permission-safe',
  'audit-logging-intact',
  'no-silent-balance-change',
  'tests-written-or-proposed',
] as const;
export type ChecklistItem = (typeof REVIEW_CHECKLIST)[number];

/** Person ids: lower-case, 2–64 chars. */
export const PERSON_ID_RE = /^[a-z][a-z0-9._-]{1,63}$/;
/** Module identifiers. */
export const MODULE_ID_RE = /^[a-z][a-z0-9_-]{0,62}$/;

export function riskRank(r: RiskLevel): number {
  return RISK_LEVELS.indexOf(r);
}

export function maxRisk(a: RiskLevel, b: RiskLevel): RiskLevel {
  return riskRank(a) >= riskRank(b) ? a : b;
}
