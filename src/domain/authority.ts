/**
 * Who may start a deployment (DESIGN "Trust model": trust no caller). A deployment runs for a change, started by
 * that change's own changeLifecycle while it is in the phase that deploys to this environment, for the commit it
 * approved; or on a person's signed direct order. The change's approvals expiry and emergency approval are read from
 * the change's own state, never from the deployment's input. Pure: the I/O (describe and query the parent) is in
 * src/activities/authority.ts.
 */
import { approvalsValidUntil, emergencyApprovalGiven, quorumMet, type ApprovalState, type RecordedSignoff } from './approvals';
import { changeWorkflowId } from '../contracts/change-id';
import type { Phase } from './lifecycle';
import type { PolicyConfig } from './policy';
import type { ChangeType, RiskLevel } from './types';

/** The workflow type that starts deployments; the only one whose word counts. */
export const CHANGE_WORKFLOW_TYPE = 'changeLifecycle';

/** The phase of a change in which it deploys to each environment. */
export const DEPLOYING_PHASE: Readonly<Record<string, Phase>> = Object.freeze({ staging: 'staging-test', production: 'deployment' });

/** What to do when a deployment has no authority (the refusal names it). */
export const HOW_TO_DEPLOY =
  'a deployment runs for an approved change: propose it with `steward propose`; or a signed direct order (statement action "orderDeployment" naming this workflow id, the environment and the gitRef, signed by a person whose role policy.decisionRoles.orderDeployment allows)';

/** The part of a change's state (its `status` query) that decides a deployment's authority. */
export interface ChangeView {
  changeId: string;
  workflowId: string;
  phase: Phase;
  commit?: string;
  runningDeployment?: string;
  type: ChangeType;
  risk: RiskLevel;
  hotfix: boolean;
  proposer: string;
  implementer: string;
  signoffs: RecordedSignoff[];
}

/** What the deployment asks about its parent. */
export interface AuthorityExpectation {
  changeId: string;
  environment: string;
  gitRef: string;
  deploymentWorkflowId: string;
}

/** The change's word: its approvals' expiry (epoch ms, undefined when none expires) and its emergency approval. */
export interface ChangeAuthority {
  ok: true;
  phase: Phase;
  approvalsValidUntilMs?: number;
  emergencyApproved: boolean;
}
export interface AuthorityRefusal {
  ok: false;
  reason: string;
}

/** How a deployment was authorised (kept in its record and the audit log). */
export type DeploymentAuthority =
  | { kind: 'change'; changeWorkflowId: string; changeRunId: string; phase: Phase; approvalsValidUntil: string | null; emergencyApproved: boolean }
  | { kind: 'direct-order'; orderedBy: string; issuedAt: string; nonce: string };

/**
 * Judges the parent's state: the change named by the deployment, in the phase that deploys to this environment, at
 * the commit being deployed, running this very deployment; for production, its approvals still make the quorum now.
 * The approvals' expiry and the emergency approval are computed as the change computes them (src/domain/approvals).
 */
export function judgeChangeAuthority(view: ChangeView, expect: AuthorityExpectation, policy: PolicyConfig, nowMs: number): ChangeAuthority | AuthorityRefusal {
  const no = (reason: string): AuthorityRefusal => ({ ok: false, reason });
  if (view.changeId !== expect.changeId || view.workflowId !== changeWorkflowId(expect.changeId)) {
    return no(`the parent workflow is the change ${view.changeId} (${view.workflowId}), not ${expect.changeId}`);
  }
  const phase = DEPLOYING_PHASE[expect.environment];
  if (!phase) return no(`no change deploys to "${expect.environment}"`);
  if (view.phase !== phase) return no(`the change ${expect.changeId} is in its ${view.phase} phase, not ${phase} (the phase that deploys to ${expect.environment})`);
  if (view.runningDeployment !== expect.deploymentWorkflowId) {
    return no(`the change ${expect.changeId} is running ${view.runningDeployment ?? 'no deployment'}, not ${expect.deploymentWorkflowId}`);
  }
  if (!view.commit || view.commit !== expect.gitRef) {
    return no(`the change ${expect.changeId} approved commit ${view.commit ?? '(none yet)'}, not ${expect.gitRef}`);
  }
  if (expect.environment !== 'production') return { ok: true, phase, emergencyApproved: false };
  // The approval slots depend on the risk and the hotfix flag only (the other subject fields shape reviews).
  const approval: ApprovalState = {
    changeId: view.changeId,
    type: view.type,
    risk: view.risk,
    dataMigrationRequired: false,
    hotfix: view.hotfix,
    proposer: view.proposer,
    implementer: view.implementer,
    phase: view.phase,
    gitRef: view.commit,
    signoffs: view.signoffs,
  };
  const q = quorumMet(approval, policy, nowMs, 'approvals');
  if (!q.met) return no(`the change ${expect.changeId}'s approvals no longer make the quorum (${q.missing.join(', ')}): it needs fresh approvals`);
  const until = approvalsValidUntil(approval, policy, nowMs);
  return { ok: true, phase, emergencyApproved: emergencyApprovalGiven(approval), ...(until !== undefined ? { approvalsValidUntilMs: until } : {}) };
}
