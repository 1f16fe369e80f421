// changeLifecycle's contract: input, state (the `status` query), messages and search attributes.
// Shared by the workflow, the CLI and the report activity; no workflow APIs beyond definitions here.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { ApprovalState, SignoffSlot } from '../domain/approvals';
import type { Phase } from '../domain/lifecycle';
import type { PolicyConfig } from '../domain/policy';
import type { Proposal } from '../domain/proposal';
import type { RiskLevel, Role, ReviewMode } from '../domain/types';
import type { DeploymentRecord, DestructiveApproval } from './deployment';

export interface ChangeLifecycleInput {
  changeId: string;
  proposal: Proposal;
  /** Resolved by parsePolicyConfig: no secrets. */
  policy: PolicyConfig;
  protectedTables: string[];
  proposedAtMs: number;
  /** How long a deployment child may wait for a person (destructive approval, restore decision). */
  humanDecisionTimeoutMs?: number;
}

export interface ApproveInput {
  by: string;
  role?: Role;
  comment?: string;
}
export interface RejectInput {
  by: string;
  reason: string;
}
export interface ReviewInput {
  by: string;
  mode: ReviewMode;
  checklist: string[];
  comment?: string;
}
export interface WithdrawInput {
  by: string;
  reason: string;
}
export interface PostDeploymentReviewInput {
  by: string;
  issuesEncountered: string;
  unexpectedBehavior: string;
  performanceImpact: string;
  securityImpact: string;
  followUpRequired: boolean;
}

export interface RejectedAttempt {
  message: string;
  by?: string;
  code: string;
  reason: string;
  at: string;
}

export interface PhaseChange {
  from: Phase;
  to: Phase;
  at: string;
  by: string;
  reason: string;
}

export interface ChangeState {
  changeId: string;
  workflowId: string;
  title: string;
  type: Proposal['type'];
  risk: RiskLevel;
  riskReasons: string[];
  hotfix: boolean;
  proposer: string;
  implementer: string;
  gitRef: string;
  targetEnvironments: string[];
  /** Planning = the proposal's classification; implementation = its gitRef (recorded, not performed here). */
  plan: { classification: string; affectedModules: string[]; rollbackComplexity: string; tests: string };
  phase: Phase;
  /** What the change is waiting for right now, in words. */
  waitingFor: string;
  requiredSignoffs: SignoffSlot[];
  signoffs: ApprovalState['signoffs'];
  awaiting: string[];
  missing: string[];
  deployments: DeploymentRecord[];
  runningDeployment?: string;
  rejectedAttempts: RejectedAttempt[];
  history: PhaseChange[];
  reminders: { at: string; message: string }[];
  window?: { open: boolean; reason: string; nextOpeningAt?: string };
  rejection?: RejectInput & { at: string };
  withdrawal?: WithdrawInput & { at: string };
  postDeploymentReview?: PostDeploymentReviewInput & { at: string };
  postDeploymentReportRequired: boolean;
  fullReview?: { by: string; at: string };
  releaseVersion?: string;
  reportPath?: string;
  outcome?: string;
  auditFailures: string[];
  proposedAt: string;
  finishedAt?: string;
}

export const statusQuery = defineQuery<ChangeState>('status');
export const approveUpdate = defineUpdate<ChangeState, [ApproveInput]>('approve');
export const approveSignal = defineSignal<[ApproveInput]>('approve');
export const rejectUpdate = defineUpdate<ChangeState, [RejectInput]>('reject');
export const rejectSignal = defineSignal<[RejectInput]>('reject');
export const submitReviewUpdate = defineUpdate<ChangeState, [ReviewInput]>('submitReview');
export const submitReviewSignal = defineSignal<[ReviewInput]>('submitReview');
export const withdrawUpdate = defineUpdate<ChangeState, [WithdrawInput]>('withdraw');
export const withdrawSignal = defineSignal<[WithdrawInput]>('withdraw');
export const submitPostDeploymentReviewUpdate = defineUpdate<ChangeState, [PostDeploymentReviewInput]>('submitPostDeploymentReview');
export const submitPostDeploymentReviewSignal = defineSignal<[PostDeploymentReviewInput]>('submitPostDeploymentReview');
export const forwardDestructiveUpdate = defineUpdate<ChangeState, [DestructiveApproval]>('approveDestructiveMigration');
export const forwardDestructiveSignal = defineSignal<[DestructiveApproval]>('approveDestructiveMigration');

export const SA = {
  changeId: defineSearchAttributeKey('ChangeId', SearchAttributeType.KEYWORD),
  changeType: defineSearchAttributeKey('ChangeType', SearchAttributeType.KEYWORD),
  riskLevel: defineSearchAttributeKey('RiskLevel', SearchAttributeType.KEYWORD),
  changePhase: defineSearchAttributeKey('ChangePhase', SearchAttributeType.KEYWORD),
  targetEnvironment: defineSearchAttributeKey('TargetEnvironment', SearchAttributeType.KEYWORD),
  releaseVersion: defineSearchAttributeKey('ReleaseVersion', SearchAttributeType.KEYWORD),
  awaitingApprovalFrom: defineSearchAttributeKey('AwaitingApprovalFrom', SearchAttributeType.KEYWORD_LIST),
};

export const changeWorkflowId = (changeId: string) => `change-${changeId}`;
