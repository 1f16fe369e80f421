import { defaultPolicy, parseProposal, type PolicyConfig, type Proposal } from '../../../src/domain';

export const RUNS = Math.max(1000, Number(process.env.STEWARD_FUZZ_RUNS) || 1000);

export function basePolicy(over: Parameters<typeof defaultPolicy>[0] = {}): PolicyConfig {
  return defaultPolicy({
    timeZone: 'Europe/London',
    people: [
      { id: 'alice', name: 'Alice (engineer)', roles: ['engineer'] },
      { id: 'bob', name: 'Bob', roles: ['engineer', 'reviewer'] },
      { id: 'carol', name: 'Carol', roles: ['approver'] },
      { id: 'dave', name: 'Dave', roles: ['approver', 'reviewer'] },
      { id: 'erin', name: 'Erin', roles: ['auditor'] },
      { id: 'frank', name: 'Frank', roles: ['auditor', 'approver'] },
      { id: 'grace', name: 'Grace', roles: ['security-reviewer'] },
      { id: 'heidi', name: 'Heidi', roles: ['dba', 'approver'] },
      { id: 'ivan', name: 'Ivan', roles: ['compliance'] },
      { id: 'judy', name: 'Judy', roles: ['emergency-approver', 'approver'] },
      { id: 'mallory', name: 'Mallory', roles: ['reviewer', 'approver', 'auditor', 'emergency-approver'] },
    ],
    ...over,
  });
}

export function validProposalInput(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: 'Rename the dashboard label',
    type: 'cosmetic',
    affectedModules: ['dashboard'],
    description: 'Changes a label.',
    reason: 'Users asked.',
    financialImpact: false,
    complianceImpact: false,
    dataMigrationRequired: false,
    rollbackComplexity: 'low',
    proposer: 'alice',
    gitRef: 'feature/label-1',
    tests: 'written',
    ...over,
  };
}

export function proposal(over: Record<string, unknown> = {}): Proposal {
  return parseProposal(validProposalInput(over));
}

export const ALL_CHECKS = ['tenant-safe', 'permission-safe', 'audit-logging-intact', 'no-silent-balance-change', 'tests-written-or-proposed'];
