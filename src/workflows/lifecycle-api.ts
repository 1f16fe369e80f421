// changeLifecycle's contract: input, state (the `status` query), messages and search attributes.
// Shared by the workflow, the CLI and the report activity; no workflow APIs beyond definitions here.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { ApprovalState, SignoffSlot } from '../domain/approvals';
import type { Phase } from '../domain/lifecycle';
import type { Proposal } from '../domain/proposal';
import type { SignedAction } from '../domain/statement';
import type { RiskLevel, Role, ReviewMode } from '../domain/types';
import type { DeploymentRecord } from './deployment';

/**
 * The proposal and ids only (DESIGN "Trust model"): the policy comes from the worker, the classification is done
 * again inside the workflow, and the proposer's signature over the proposal is the only proof of who proposed it.
 */
export interface ChangeLifecycleInput {
  changeId: string;
  proposal: Proposal;
  proposedAtMs: number;
  /** The proposer's signed "propose" (or "hotfix", or the incident's "proposeCorrectivePatch") statement. */
  signedProposal: SignedAction;
  /** May only shorten how long a deployment waits for a person (the worker's default is 7 days). */
  humanDecisionTimeoutMs?: number;
}
export const CHANGE_INPUT_FIELDS = ['changeId', 'proposal', 'proposedAtMs', 'signedProposal', 'humanDecisionTimeoutMs'] as const;

/**
 * The decision fields a person signs for each change action (statement.decision); `by` is never taken from a
 * payload: it is the owner of the signing key.
 */
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

export interface RefMove {
  gitRef: string;
  from: string;
  to: string;
  at: string;
  /** What Steward did about it. */
  effect: string;
}

export interface ChangeState {
  changeId: string;
  workflowId: string;
  /** The full commit SHA the change's reviews and approvals are for (resolved when it enters review). */
  commit?: string;
  /** sha256 of the canonical proposal: what the proposer signed. */
  proposalDigest: string;
  /** The worker's policy digest when the change started, and the one in force now (the stricter of both applies). */
  policyDigestAtStart?: string;
  policyDigest?: string;
  /** When the ref moved after the commit was resolved. */
  refMoves: RefMove[];
  /** How many attempts were rejected in all (rejectedAttempts keeps the last few). */
  rejectedAttemptCount: number;
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
  /** What the running deployment waits for a person to decide, as that deployment reports it (display only). */
  deploymentDecision?: { action: string; what: string; roles: string[]; notBy: string[]; command: string };
  /** While the running deployment waits for the environment lock: who holds it (display only, from the deployment). */
  deploymentLockWait?: { environment: string; holder: string | null; position: number };
  /** When the change was cancelled during a deployment: how that deployment ended (it finishes or rolls back first). */
  cancelled?: { at: string; deployment: string; status: string; reason?: string };
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

/** Every human message carries a SignedAction; its statement.decision holds the fields of the *Input types. */
export const statusQuery = defineQuery<ChangeState>('status');
export const approveUpdate = defineUpdate<ChangeState, [SignedAction]>('approve');
export const approveSignal = defineSignal<[SignedAction]>('approve');
export const rejectUpdate = defineUpdate<ChangeState, [SignedAction]>('reject');
export const rejectSignal = defineSignal<[SignedAction]>('reject');
export const submitReviewUpdate = defineUpdate<ChangeState, [SignedAction]>('submitReview');
export const submitReviewSignal = defineSignal<[SignedAction]>('submitReview');
export const withdrawUpdate = defineUpdate<ChangeState, [SignedAction]>('withdraw');
export const withdrawSignal = defineSignal<[SignedAction]>('withdraw');
export const submitPostDeploymentReviewUpdate = defineUpdate<ChangeState, [SignedAction]>('submitPostDeploymentReview');
export const submitPostDeploymentReviewSignal = defineSignal<[SignedAction]>('submitPostDeploymentReview');
/** Forwarded unchanged to the running deployment, which verifies it (the statement names the deployment's workflow). */
export const forwardDestructiveUpdate = defineUpdate<ChangeState, [SignedAction]>('approveDestructiveMigration');
export const forwardDestructiveSignal = defineSignal<[SignedAction]>('approveDestructiveMigration');
/** From the running deployment to its change: the decision it waits for (null when none). Display only. */
export const deploymentWaitingSignal = defineSignal<[ChangeState['deploymentDecision'] | DeploymentLockNotice | null]>('deploymentWaiting');
/** The same signal, while the deployment waits for the environment lock (see LockWaitNotice in deployment.ts). */
export interface DeploymentLockNotice {
  lock: { environment: string; holder: string | null; position: number };
  what: string;
}

export const SA = {
  changeId: defineSearchAttributeKey('ChangeId', SearchAttributeType.KEYWORD),
  changeType: defineSearchAttributeKey('ChangeType', SearchAttributeType.KEYWORD),
  riskLevel: defineSearchAttributeKey('RiskLevel', SearchAttributeType.KEYWORD),
  changePhase: defineSearchAttributeKey('ChangePhase', SearchAttributeType.KEYWORD),
  targetEnvironment: defineSearchAttributeKey('TargetEnvironment', SearchAttributeType.KEYWORD),
  releaseVersion: defineSearchAttributeKey('ReleaseVersion', SearchAttributeType.KEYWORD),
  policyDigest: defineSearchAttributeKey('PolicyDigest', SearchAttributeType.KEYWORD),
  awaitingApprovalFrom: defineSearchAttributeKey('AwaitingApprovalFrom', SearchAttributeType.KEYWORD_LIST),
  /** The proposer and the implementer: maker-checker keeps them from deciding, so `list --awaiting-me` leaves their changes out. */
  changeMakers: defineSearchAttributeKey('ChangeMakers', SearchAttributeType.KEYWORD_LIST),
};

/** The ChangeMakers search attribute's value for a proposal. */
export const changeMakers = (p: { proposer: string; implementer?: string }): string[] => [...new Set([p.proposer, p.implementer ?? p.proposer])];

export { changeWorkflowId } from '../contracts/change-id';
