// Public API of the policy core. Pure: no I/O, no clock, no Node built-ins. See README.md.
export { ProposalError, PolicyConfigError, PolicyViolation, refuse, assertOk } from './errors';
export type { FieldIssue, Refusal, Verdict } from './errors';

export {
  CHANGE_TYPES,
  RISK_LEVELS,
  ROLLBACK_COMPLEXITIES,
  HOTFIX_REASONS,
  ENVIRONMENTS,
  ROLES,
  REVIEW_MODES,
  REVIEW_CHECKLIST,
  PERSON_ID_RE,
  MODULE_ID_RE,
  riskRank,
  maxRisk,
} from './types';
export type { ChangeType, RiskLevel, RollbackComplexity, HotfixReason, Environment, Role, ReviewMode, ChecklistItem } from './types';

export { gitRefProblem, isSafeGitRef, MAX_GIT_REF_LENGTH } from './gitref';

export {
  policyConfigSchema,
  parsePolicyConfig,
  defaultPolicy,
  findPerson,
  hasRole,
  resolveFreezeTime,
  DEFAULT_PROTECTED_TABLES,
  DEFAULT_QUORUM,
  DEFAULT_BLACKOUT,
  WEEKDAYS,
} from './policy';
export type { PolicyConfig, PolicyConfigInput, PersonConfig, BlackoutRule, FreezePeriod, QuorumRule, QuorumTable, Weekday } from './policy';

export { parseProposal, parseProposalYaml, proposalSchema, PROPOSAL_FIELDS, MAX_TITLE_LENGTH, MAX_TEXT_LENGTH, MAX_YAML_LENGTH } from './proposal';
export type { Proposal, DeclaredBalanceChange } from './proposal';

export { classifyRisk, BASE_RISK } from './classification';
export type { RiskClassification } from './classification';

export {
  PHASES,
  TERMINAL_PHASES,
  GATES,
  EDGES,
  isPhase,
  isTerminal,
  canTransition,
  assertTransition,
  allowedNext,
  nextPhase,
  postDeploymentReportRequired,
} from './lifecycle';
export type { Phase, Gate, TransitionContext, TransitionVerdict, NextPhase } from './lifecycle';

export {
  REVIEW_MODE_ROLE,
  APPROVAL_ROLES,
  requiredSignoffs,
  activeSignoffs,
  quorumMet,
  awaitingApprovalFrom,
  eligibleSigners,
  missingChecklistItems,
  checklistComplete,
  evaluateReview,
  evaluateApproval,
  applyReview,
  applyApproval,
  withGitRef,
  evaluateRejection,
  evaluateWithdrawal,
  initialApprovalState,
} from './approvals';
export type {
  SignoffKind,
  SignoffSubject,
  SignoffSlot,
  SignoffCode,
  SignoffVerdict,
  RecordedSignoff,
  ApprovalState,
  ReviewSubmission,
  ApprovalSubmission,
  QuorumResult,
} from './approvals';

export { deploymentWindow, isWindowOpen, nextWindowOpening, WINDOW_HORIZON_MS } from './windows';
export type { WindowOptions, WindowVerdict } from './windows';

export { hotfixEligibility, hotfixRequirements } from './hotfix';
export type { HotfixEligibility, HotfixRequirements } from './hotfix';

export { rollbackPlan, ROLLBACK_ACTIONS } from './rollback';
export type { RollbackAction, AppliedMigration, RollbackInput, RollbackStep, RollbackPlan } from './rollback';

export { parseVersion, formatVersion, compareVersions, bump, bumpFor, latestVersion, nextVersion, BUMP_BY_TYPE } from './semver';
export type { SemVer, Bump } from './semver';

export {
  classifyMigrationSql,
  migrationControlsFor,
  destructiveMigrationControls,
  DESTRUCTIVE_MIGRATION_APPROVER_ROLES,
} from './migrations';
export type {
  MigrationLevel,
  MigrationFinding,
  MigrationClassification,
  DestructiveMigrationApproval,
  DestructiveControlCode,
} from './migrations';

export { isValidTimeZone, isValidInstant, offsetMs, wallMs, wallToInstant } from './time';

export { judgeMigrations, describeFindings, RISK_RANK, LARGE_TABLE_BYTES, LARGE_TABLE_ROWS, MAX_SAFE_FINDINGS } from './migration-facts';
export type { MigrationFacts, MigrationSqlFacts, StatementFacts, SqlOp, LockMode, TableSize, MigrationRisk, RiskFinding, RiskClassification as MigrationRiskClassification, JudgeContext } from './migration-facts';
