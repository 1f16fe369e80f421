// incidentResponse's contract (playbook §13): input, state (the `status` query), messages, ids.
// Shared by the workflow, the deployment that opens an incident by itself, the CLI and the report activity.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { SignedAction } from '../domain/statement';
import type { Proposal } from '../domain/proposal';
import type { RiskLevel } from '../domain/types';
import type { DeploymentRecord } from './deployment';

/** §13: what an incident may affect. */
export const INCIDENT_AFFECTS = ['gl-balances', 'loan-schedules', 'payment-allocation', 'compliance-reporting', 'cross-tenant-exposure'] as const;
export type IncidentAffects = (typeof INCIDENT_AFFECTS)[number];
export const INCIDENT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const satisfies readonly RiskLevel[];
export type IncidentSeverity = (typeof INCIDENT_SEVERITIES)[number];
/** Roles whose holders may decide a restore and close an incident (two distinct people must agree on a restore). */
export const INCIDENT_DECIDER_ROLES = ['approver', 'auditor', 'emergency-approver'] as const;

export const INCIDENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;
export const incidentWorkflowId = (incidentId: string) => `incident-${incidentId}`;

export interface IncidentInput {
  incidentId: string;
  environment: string;
  /** The app's module flag to freeze (posting, payments, loans). */
  affectedModule: string;
  affects: IncidentAffects[];
  severity: IncidentSeverity;
  description: string;
  openedBy: string;
  openedAtMs: number;
  /** The change whose deployment caused it, when known. */
  changeId?: string;
  /** The deployment record (given by the deployment that opened the incident) … */
  deployment?: DeploymentRecord;
  /** … or its workflow id, fetched by an activity. */
  deploymentWorkflowId?: string;
  /** The opener's signed "openIncident" statement; not needed when a deployment (the workflow's parent) opens it. */
  signedOpening?: SignedAction;
  /** How long a corrective patch may take to reach production before the incident reminds (default 24 h). */
  reminderMs?: number;
}

export const INCIDENT_INPUT_FIELDS = [
  'incidentId', 'environment', 'affectedModule', 'affects', 'severity', 'description', 'openedBy', 'openedAtMs', 'changeId',
  'deployment', 'deploymentWorkflowId', 'signedOpening', 'reminderMs',
] as const;

/** What the opener signs as the statement's proposalDigest: the incident report's own fields. */
export function incidentReportOf(i: IncidentInput) {
  return { incidentId: i.incidentId, environment: i.environment, affectedModule: i.affectedModule, affects: i.affects, severity: i.severity, description: i.description, openedBy: i.openedBy, changeId: i.changeId ?? null };
}

export interface ScopeInput {
  by: string;
  tenants: string[];
  accounts: string[];
  /** ISO instants of the affected period. */
  from: string;
  to: string;
  notes?: string;
}
export interface RestoreVote {
  by: string;
  restore: boolean;
  /** The backup to restore; defaults to the pre-deployment backup of the deployment record. */
  backupFile?: string;
  reason: string;
}
export interface FindingsInput {
  by: string;
  summary: string;
  rootCause: string;
}
export interface LinkPatchInput {
  by: string;
  changeId: string;
}
export interface ProposePatchInput {
  by: string;
  proposal: Proposal;
  /** The hotfix change id; default <INCIDENT_ID>-FIX-<n>. */
  changeId?: string;
}
export interface CloseInput {
  by: string;
  summary: string;
}

export const INCIDENT_STEPS = ['freeze', 'preserve-logs', 'scope', 'restore', 'findings', 'corrective-patch', 'unfreeze', 'audit-report'] as const;
export type IncidentStepName = (typeof INCIDENT_STEPS)[number];
export const STEP_TITLES: Record<IncidentStepName, string> = {
  freeze: '1. Freeze the affected module',
  'preserve-logs': '2. Preserve logs (evidence archive)',
  scope: '3. Identify scope',
  restore: '4. Restore if necessary (two approvers)',
  findings: '5. Document findings',
  'corrective-patch': '6. Corrective patch (hotfix path)',
  unfreeze: '7. Unfreeze and close',
  'audit-report': '8. Audit report',
};

export interface IncidentStep {
  name: IncidentStepName;
  status: 'pending' | 'running' | 'waiting' | 'done' | 'failed' | 'skipped';
  by?: string;
  startedAt?: string;
  finishedAt?: string;
  detail?: string;
}

export interface EvidenceRecord {
  archive: string;
  sha256File: string;
  sha256: string;
  sizeBytes: number;
  files: string[];
  reused: boolean;
}

export interface IncidentRejectedAttempt {
  message: string;
  by?: string;
  code: string;
  reason: string;
  at: string;
}

export interface CorrectivePatch {
  changeId: string;
  workflowId: string;
  linkedBy: string;
  linkedAt: string;
  /** Started by this incident (a child on the hotfix path) or linked. */
  started: boolean;
  phase?: string;
  releaseVersion?: string;
  emergencyApprovedBy?: string[];
  deployedAt?: string;
  outcome?: string;
}

export interface IncidentState {
  incidentId: string;
  workflowId: string;
  /** The worker's policy digest in force (every signed incident action names it). */
  policyDigest?: string;
  environment: string;
  affectedModule: string;
  affects: IncidentAffects[];
  severity: IncidentSeverity;
  description: string;
  openedBy: string;
  openedAt: string;
  changeId?: string;
  deploymentWorkflowId?: string;
  step: IncidentStepName | 'closed';
  waitingFor: string;
  steps: IncidentStep[];
  frozen: boolean;
  maintenance: boolean;
  /** What the playbook could not do for this app (hooks its contract declares absent): said, never skipped. */
  limits?: string[];
  evidence?: EvidenceRecord;
  scope?: ScopeInput & { at: string };
  scopeHistory: (ScopeInput & { at: string })[];
  restoreVotes: (RestoreVote & { at: string; backupFile?: string })[];
  restoreDecision?: { restore: boolean; backupFile?: string; by: string[]; reason: string; at: string };
  restore?: { backupFile: string; preRestoreBackup: string; preRestoreSha256: string; at: string };
  findings?: FindingsInput & { at: string };
  patches: CorrectivePatch[];
  closure?: CloseInput & { at: string };
  reportPath?: string;
  reportSha256?: string;
  rejectedAttempts: IncidentRejectedAttempt[];
  reminders: { at: string; message: string }[];
  auditFailures: string[];
  finishedAt?: string;
}

export const incidentStatusQuery = defineQuery<IncidentState>('status');
export const recordScopeUpdate = defineUpdate<IncidentState, [SignedAction]>('recordScope');
export const recordScopeSignal = defineSignal<[SignedAction]>('recordScope');
export const decideRestoreUpdate = defineUpdate<IncidentState, [SignedAction]>('decideRestore');
export const decideRestoreSignal = defineSignal<[SignedAction]>('decideRestore');
export const recordFindingsUpdate = defineUpdate<IncidentState, [SignedAction]>('recordFindings');
export const recordFindingsSignal = defineSignal<[SignedAction]>('recordFindings');
export const linkCorrectivePatchUpdate = defineUpdate<IncidentState, [SignedAction]>('linkCorrectivePatch');
export const linkCorrectivePatchSignal = defineSignal<[SignedAction]>('linkCorrectivePatch');
export const proposeCorrectivePatchUpdate = defineUpdate<IncidentState, [SignedAction]>('proposeCorrectivePatch');
export const proposeCorrectivePatchSignal = defineSignal<[SignedAction]>('proposeCorrectivePatch');
export const closeIncidentUpdate = defineUpdate<IncidentState, [SignedAction]>('closeIncident');
export const closeIncidentSignal = defineSignal<[SignedAction]>('closeIncident');
