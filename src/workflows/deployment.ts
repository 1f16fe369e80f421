// deployment: the production sequence of playbook §8 with the controls of §6 and the compensations of §10.
// Also used for staging (§7) with the wider staging checks. Deterministic: all I/O is in activities.
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setCurrentDetails,
  getExternalWorkflowHandle,
  setHandler,
  workflowInfo,
  allHandlersFinished,
  log,
  patched,
  startChild,
  ParentClosePolicy,
} from '@temporalio/workflow';
import type { StewardActivities } from '../activities';
import type { AuditActivities, AuditEventKind } from '../activities/audit/api';
import type { BackupRecord, MigrationPlan, PlannedMigration } from '../activities/deployment/database';
import { combineSmoke, rolloutBatches, type Fleet, type FleetHost, type HostDeployment } from '../contracts/fleet';
import type { PreparedRelease } from '../activities/deployment/release';
import type { SmokeResult } from '../activities/http/smoke';
import { classifyMigrationSql, type MigrationClassification } from '../domain/migrations';
import { describeFindings, judgeMigrations } from '../domain/migration-facts';
import { compareInvariants, type DeclaredBalanceChange, type InvariantDifference, type InvariantSnapshot } from '../domain/invariants';
import { codeBeforeMigrations, rollbackPlan, type RollbackPlan } from '../domain/rollback';
import { nextVersion } from '../domain/semver';
import { backupProblem, type DatabaseTimeouts } from '../domain/timeouts';
import { gitRefProblem } from '../domain/gitref';
import { DEFAULT_DECISION_ROLES, mayDecide, type DecisionKind } from '../domain/policy';
import { HOW_TO_DEPLOY, type AuthorityRefusal, type ChangeAuthority, type DeploymentAuthority } from '../domain/authority';
import { changeWorkflowId } from '../contracts/change-id';
import type { SignedAction, SignedActionName } from '../domain/statement';
import { claimedSigner, createTrust, keepRejected, setSignedHandlers, unexpectedInputFields } from './trust';
import type { ChangeType } from '../domain/types';
import { renderDeploymentDetails } from './deployment-details';
import { acquireEnvironmentLock, environmentLockClient, lockByRunId, type EnvironmentLockClient, type HeldLock, type LockWait } from './lock-client';
import { deploymentWindow } from '../domain/windows';
import { AUDIT_UNAVAILABLE, auditRefusal } from '../contracts/audit';
import { incidentWorkflowId, type IncidentInput } from './incident-api';

const activities = proxyActivities<StewardActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/**
 * Database work (dump, restore, migrate): each call passes its startToCloseTimeout, sized from the database
 * (measureDatabase); heartbeats (every 5 s while a command runs) notice a dead worker within 30 s. A non-zero
 * exit of migrate or restore is a non-retryable failure (a person decides); only faults are retried.
 */
const database = proxyActivities<StewardActivities>({
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '5 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 3,
    nonRetryableErrorTypes: ['MigrationFailed', 'RestoreFailed', 'ReverseMigrationFailed', 'BackupUnverified'],
  },
});

const auditLog = proxyActivities<AuditActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 4 },
});

/** The deployment's authority (its parent described and queried): quick, retried on faults only. */
const authorityCheck = proxyActivities<Pick<StewardActivities, 'confirmChangeAuthority'>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5 },
});

/** Smoke tests are not retried by Temporal: a red smoke is an answer, not a fault. */
const smoke = proxyActivities<StewardActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  // A failed check is a result (ok: false), not an error; errors are faults (a worker death), so retry them.
  retry: { maximumAttempts: 3 },
});

// ---- api: input, record, messages -------------------------------------------------------------------------

export interface DeploymentInput {
  changeId: string;
  environment: string;
  gitRef: string;
  changeType: ChangeType;
  proposer: string;
  /** n in deploy-<CHANGE_ID>-<env>-<n>: the attempt for this change and environment. */
  attempt: number;
  hotfix?: boolean;
  financialImpact?: boolean;
  /** Feature flags to switch off when financial logic must be disabled (§10.3). */
  featureModules?: string[];
  declaredBalanceChanges?: DeclaredBalanceChange[];
  /** The implementer, who like the proposer may not take this deployment's decisions (maker-checker). */
  implementer?: string;
  /** Staging runs the wider staging checks (§7); production tags the release (§14). */
  stagingChecks: boolean;
  tagRelease: boolean;
  smokeTenant?: string;
  /** How long a destructive migration or a restore decision may wait for a person. */
  humanDecisionTimeoutMs?: number;
  /** How long the deployment waits for the environment lock before it gives up (default 4 hours). */
  lockWaitTimeoutMs?: number;
  /**
   * The change's approvals stop counting at this instant (the earliest expiry of the signoffs that make the quorum):
   * no production step that changes the host starts after it. Can only make the deployment stricter.
   * Since the deployment-authority patch it is ignored: the deployment asks the change itself (accepted for old callers).
   */
  approvalsValidUntilMs?: number;
  /**
   * A hotfix with its emergency approval may deploy in a blackout; counted only when the change is the parent.
   * Since the deployment-authority patch it is ignored: the deployment asks the change itself (accepted for old callers).
   */
  emergencyApproved?: boolean;
  /**
   * A deployment outside a change: a person's signed direct order (statement action "orderDeployment" for this
   * workflow, decision {environment, gitRef}), by a role policy.decisionRoles.orderDeployment allows. Single use.
   */
  directOrder?: SignedAction;
}

export const DEPLOYMENT_INPUT_FIELDS = [
  'changeId', 'environment', 'gitRef', 'changeType', 'proposer', 'implementer', 'attempt', 'hotfix', 'financialImpact',
  'featureModules', 'declaredBalanceChanges', 'stagingChecks', 'tagRelease', 'smokeTenant', 'humanDecisionTimeoutMs',
  'lockWaitTimeoutMs', 'approvalsValidUntilMs', 'emergencyApproved', 'directOrder',
] as const;

export type DeploymentStatus =
  | 'waiting-for-lock'
  | 'running'
  | 'awaiting-destructive-approval'
  | 'rolling-back'
  | 'awaiting-restore-decision'
  | 'awaiting-manual-steps'
  | 'deployed'
  | 'refused'
  | 'rolled-back'
  | 'rollback-failed';

export interface StepRecord {
  name: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  outcome: 'running' | 'ok' | 'failed' | 'skipped';
  detail?: string;
}

/** The §6.2 decision (statement.decision of a signed "approveDestructiveMigration": backupConfirmed, rollbackPlan). */
export interface DestructiveApproval {
  approver: string;
  backupConfirmed: boolean;
  rollbackPlan: string;
}

/** What a running deployment waits for a person to decide, and who may (shown by `steward status`). */
export interface PendingDecision {
  action: SignedActionName;
  what: string;
  roles: string[];
  notBy: string[];
  command: string;
}

export interface RestoreDecision {
  by: string;
  restore: boolean;
  reason: string;
}

export interface ManualStep {
  by: string;
  step: string;
  note?: string;
}

export interface DeploymentRecord {
  workflowId: string;
  changeId: string;
  environment: string;
  releaseId: string;
  gitRef: string;
  commit?: string;
  previousReleaseId: string | null;
  status: DeploymentStatus;
  reason?: string;
  startedAt: string;
  finishedAt?: string;
  steps: StepRecord[];
  backup?: BackupRecord;
  migrations?: {
    planned: Omit<PlannedMigration, 'sql'>[];
    classification: MigrationClassification;
    stateBefore: Record<string, string>;
    /** One line per finding that needs the §6.2 controls or refuses (level, migration, reason, safer alternative). */
    gatingFindings?: string[];
  };
  destructiveApproval?: DestructiveApproval;
  invariants?: { before: InvariantSnapshot | null; after?: InvariantSnapshot; differences: InvariantDifference[]; preExisting?: InvariantDifference[] };
  smoke?: SmokeResult;
  restartMode?: string;
  /** Each host's part, in the rolling order (deployments since hosts were named; see the fleet-deploy patch). */
  hosts?: HostDeployment[];
  /** What the playbook cannot do for this app (hooks the app contract declares absent). */
  limits?: string[];
  releaseTag?: string;
  /** A release tag that could not be made after green smoke: reported, never a rollback of the healthy release. */
  releaseTagFailure?: { tag: string; error: string; at: string };
  /** The database's size and the timeouts sized from it (since the fresh-run-backup patch). */
  databaseTimeouts?: DatabaseTimeouts;
  rollback?: {
    plan: RollbackPlan;
    done: { action: string; ok: boolean; detail: string }[];
    failedCompensations: { action: string; error: string }[];
    restoreDecision?: RestoreDecision;
    manualSteps: ManualStep[];
    smokeAfter?: SmokeResult;
    incidentRequired: boolean;
    /** The incident this rollback opened by itself (production only; see incidentResponse). */
    incidentId?: string;
  };
  rejectedAttempts: { message: string; reason: string; at: string }[];
  rejectedAttemptCount?: number;
  /** The decision this deployment waits for now, and who may give it. */
  pendingDecision?: PendingDecision;
  /** While the deployment waits for the environment lock: who holds it, and where this deployment stands. */
  lockWait?: { lockWorkflowId: string; holder: string | null; position: number; since: string };
  /** Set when the deployment was cancelled (its change was cancelled, or an operator cancelled it). */
  cancelled?: { at: string; duringStep: string | null };
  policyDigest?: string;
  /** Who started this deployment: its change (confirmed by the worker) or a signed direct order (deployment-authority patch). */
  authority?: DeploymentAuthority;
}

/** What a deployment tells its change while it waits for the environment lock (the `deploymentWaiting` signal). */
export interface LockWaitNotice {
  lock: { environment: string; holder: string | null; position: number };
  what: string;
}

export const deploymentStatusQuery = defineQuery<DeploymentRecord>('status');
/** Signed actions; statement.decision holds the fields of DestructiveApproval / RestoreDecision / ManualStep (not `by`). */
export const approveDestructiveMigrationUpdate = defineUpdate<DeploymentRecord, [SignedAction]>('approveDestructiveMigration');
export const approveDestructiveMigrationSignal = defineSignal<[SignedAction]>('approveDestructiveMigration');
export const decideRestoreUpdate = defineUpdate<DeploymentRecord, [SignedAction]>('decideRestore');
export const decideRestoreSignal = defineSignal<[SignedAction]>('decideRestore');
export const completeManualStepUpdate = defineUpdate<DeploymentRecord, [SignedAction]>('completeManualStep');
export const completeManualStepSignal = defineSignal<[SignedAction]>('completeManualStep');

export function deploymentWorkflowId(changeId: string, environment: string, attempt: number): string {
  return `deploy-${changeId}-${environment}-${attempt}`;
}

class DeploymentFailed extends Error {
  constructor(readonly step: string, message: string) {
    super(message);
  }
}

/** The lock was not taken (waited too long), or a re-check refused the next host step: refused, never half-applied. */
class DeploymentRefused extends DeploymentFailed {}

// ---- cancellation ------------------------------------------------------------------------------------------
// Since the deployment-cancellation patch, the deployment runs in a non-cancellable scope: a cancellation never
// interrupts a step that changes a host (an activity half-way through a migration or a restart). It is noted, the
// step in flight finishes, no further forward step starts, and the deployment rolls back as after any failure, then
// releases the lock — all of it protected from the cancellation. The change's terminate does not reach here at all
// (the change starts its deployments with parentClosePolicy ABANDON).

// ---- the workflow ----------------------------------------------------------------------------------------

export async function deployment(input: DeploymentInput): Promise<DeploymentRecord> {
  if (!patched('deployment-cancellation')) return runDeployment(input, () => undefined);
  let cancelledAt: string | undefined;
  CancellationScope.current().cancelRequested.catch(() => {
    cancelledAt ??= new Date().toISOString();
  });
  return CancellationScope.nonCancellable(() => runDeployment(input, () => cancelledAt));
}

async function runDeployment(input: DeploymentInput, cancelledAt: () => string | undefined): Promise<DeploymentRecord> {
  const extra = unexpectedInputFields(input, DEPLOYMENT_INPUT_FIELDS);
  if (extra) throw ApplicationFailure.nonRetryable(`deployment input refused: ${extra}`, 'BadInput');
  const releaseId = workflowInfo().workflowId.replace(/^deploy-/, '');
  const trust = createTrust(input.changeId, workflowInfo().workflowId);
  const now = () => new Date().toISOString();
  const record: DeploymentRecord = {
    workflowId: workflowInfo().workflowId,
    changeId: input.changeId,
    environment: input.environment,
    releaseId,
    gitRef: input.gitRef,
    previousReleaseId: null,
    status: 'waiting-for-lock',
    startedAt: now(),
    steps: [],
    rejectedAttempts: [],
  };
  const humanTimeout = input.humanDecisionTimeoutMs ?? 7 * 24 * 3600_000;
  let destructiveApproval: DestructiveApproval | undefined;
  let restoreDecision: RestoreDecision | undefined;
  let manualDone = false;
  let backupAfterApproval = false;

  // Messages are signed actions (DESIGN "Trust model"): the signer is the key's owner in the worker's policy, and
  // must hold a role the policy gives this decision; never the proposer or implementer. The Update validators refuse
  // at once; a Signal goes through the same checks and, when refused, is kept as a rejected attempt (bounded).
  const makers = [input.proposer, input.implementer ?? input.proposer];
  const decider = (by: string, kind: DecisionKind, what: string): string | null => {
    const policy = trust.policy!;
    if (makers.includes(by)) return `${by} ${by === input.proposer ? 'proposed' : 'implemented'} this change and cannot ${what} (maker-checker)`;
    if (!mayDecide(policy, by, kind)) return `${by} holds none of the roles ${(policy.decisionRoles[kind] ?? DEFAULT_DECISION_ROLES[kind]).join(', ')} needed to ${what}`;
    return null;
  };
  const str = (x: unknown, min = 1) => typeof x === 'string' && x.trim().length >= min;
  const destructiveProblem = (a: Record<string, unknown>, by: string): string | null => {
    if (record.status !== 'awaiting-destructive-approval') return `this deployment is ${record.status}, not waiting for a destructive-migration approval`;
    const d = decider(by, 'destructiveMigration', 'approve its destructive migration');
    if (d) return d;
    if (a.backupConfirmed !== true) return 'backupConfirmed must be true: confirm the verified backup of this deployment (§6.2)';
    if (!str(a.rollbackPlan, 10)) return 'rollbackPlan must describe how this change is rolled back (§6.2), at least 10 characters';
    // Since the fresh-run-backup patch the backup is taken after this approval, right before the migration.
    if (!record.backup && !backupAfterApproval) return 'no verified backup of this deployment yet';
    return null;
  };
  const restoreProblem = (d: Record<string, unknown>, by: string): string | null => {
    if (record.status !== 'awaiting-restore-decision') return `this deployment is ${record.status}, not waiting for a restore decision`;
    const p = decider(by, 'restore', 'decide a restore');
    if (p) return p;
    if (typeof d.restore !== 'boolean') return 'restore must be true or false';
    if (!str(d.reason)) return 'reason must say why';
    return null;
  };
  const manualProblem = (m: Record<string, unknown>, by: string): string | null => {
    if (record.status !== 'awaiting-manual-steps') return `this deployment is ${record.status}, not waiting for manual steps`;
    const p = decider(by, 'manualStep', 'confirm a manual step');
    if (p) return p;
    if (!str(m.step)) return 'step must name the manual step that was completed';
    if (m.note !== undefined && m.note !== null && typeof m.note !== 'string') return 'note must be text';
    return null;
  };
  const reject = (message: string, reason: string) => {
    record.rejectedAttemptCount = (record.rejectedAttemptCount ?? 0) + 1;
    keepRejected(record.rejectedAttempts, { message, reason, at: now() });
  };
  const applyDestructive = (a: Record<string, unknown>, by: string) => {
    destructiveApproval = { approver: by, backupConfirmed: true, rollbackPlan: String(a.rollbackPlan).trim() };
    record.destructiveApproval = destructiveApproval;
  };
  const applyRestore = (d: Record<string, unknown>, by: string) => {
    restoreDecision = { by, restore: d.restore === true, reason: String(d.reason).trim() };
  };
  const applyManual = (m: Record<string, unknown>, by: string) => {
    const step = String(m.step).trim();
    record.rollback?.manualSteps.push({ by, step, ...(typeof m.note === 'string' ? { note: m.note } : {}) });
    if (step === 'all-done') manualDone = true;
  };
  /** Verifies the signature (for this deployment, at its commit), then the decision; one path for Update and Signal. */
  let decisionSeq = 0;
  /** The decision with its statement and signature in the audit log (evidence that outlives Steward). */
  /** Returns the append's error, or null when the decision is in the audit log. */
  const recordDecision = async (kind: AuditEventKind, by: string, decision: Record<string, unknown>, payload: SignedAction): Promise<string | null> => {
    try {
      await auditLog.appendAuditEvent.executeWithOptions({ summary: `audit: ${kind} by ${by}` }, [
        { eventId: `${record.workflowId}:decision:${++decisionSeq}`, subject: input.changeId, kind, actor: by, at: now(), details: { workflowId: record.workflowId, commit: record.commit ?? null, ...decision, statement: payload.statement, signature: payload.signature } },
      ]);
      return null;
    } catch (err) {
      log.error('audit append failed', { kind, error: failureMessage(err) });
      return failureMessage(err);
    }
  };
  const KINDS: Record<string, AuditEventKind> = { approveDestructiveMigration: 'destructive-migration-approved', decideRestore: 'restore-decided', completeManualStep: 'manual-step-completed' };
  function signed(
    action: SignedActionName,
    update: typeof approveDestructiveMigrationUpdate,
    signal: typeof approveDestructiveMigrationSignal,
    problem: (d: Record<string, unknown>, by: string) => string | null,
    apply: (d: Record<string, unknown>, by: string) => void,
  ): void {
    setSignedHandlers<DeploymentRecord, Record<string, unknown>>(trust, {
      name: action,
      update,
      signal,
      judge: (payload) => {
        const v = trust.verify(payload, { actions: [action], commit: record.commit ?? null });
        if (!('ok' in v)) return { code: 'Rejected', reason: v.reason };
        if (!v.ok) return { code: 'Rejected', reason: `${v.code}: ${v.reason}` };
        const p = problem(v.statement.decision, v.signer);
        return p ? { code: 'Rejected', reason: p } : { x: v.statement.decision, v };
      },
      apply: async (d, v, payload) => {
        // Fail-closed (audit-before-apply): a decision the audit store cannot record is not applied. A refused
        // Update reaches its caller; a Signal is recorded as a rejected attempt (setSignedHandlers).
        if (patched('audit-before-apply')) {
          const failed = await recordDecision(KINDS[action]!, v.signer, d, payload);
          if (failed) throw ApplicationFailure.nonRetryable(auditRefusal(`this ${action} decision`, failed), AUDIT_UNAVAILABLE);
          apply(d, v.signer);
          return;
        }
        apply(d, v.signer);
        await recordDecision(KINDS[action]!, v.signer, d, payload);
      },
      result: () => record,
      rejected: (p) => reject(action, p.reason),
      refusedSignals: () => record.rejectedAttemptCount ?? 0,
    });
  }
  setHandler(deploymentStatusQuery, () => record);
  signed('approveDestructiveMigration', approveDestructiveMigrationUpdate, approveDestructiveMigrationSignal, destructiveProblem, applyDestructive);
  signed('decideRestore', decideRestoreUpdate, decideRestoreSignal, restoreProblem, applyRestore);
  signed('completeManualStep', completeManualStepUpdate, completeManualStepSignal, manualProblem, applyManual);
  /** Tells the change (the parent) what this deployment waits for; display only, so a failure is only logged. */
  const tellChange = (p: PendingDecision | LockWaitNotice | null) => {
    const parent = workflowInfo().parent;
    if (!parent || !parent.workflowId.startsWith('change-')) return;
    getExternalWorkflowHandle(parent.workflowId, parent.runId).signal('deploymentWaiting', p).catch((err: unknown) => log.warn('could not tell the change what the deployment waits for', { error: (err as Error).message }));
  };
  const decisionTaken = () => {
    record.pendingDecision = undefined;
    setCurrentDetails(`## ${record.workflowId}\n\n${record.status}`);
    tellChange(null);
  };
  const pending = (action: SignedActionName, kind: DecisionKind, what: string, command: string) => {
    record.pendingDecision = { action, what, roles: [...(trust.policy?.decisionRoles[kind] ?? [])], notBy: [...new Set(makers)], command };
    const p = record.pendingDecision;
    tellChange(p);
    setCurrentDetails(`## ${record.workflowId}\n\n**Waiting for:** ${p.what}\n\n**Who may decide:** ${p.roles.join(', ')} (never ${p.notBy.join(', ')})\n\n**How:** \`${p.command}\` (signed with your SSH key)`);
  };

  let rollingBack = false;
  async function step<T>(name: string, fn: () => Promise<T>, describe?: (r: T) => string): Promise<T> {
    // A cancelled deployment starts no further forward step (the rollback's own steps still run).
    if (cancelledAt() && !rollingBack) throw cancelledError(name);
    const s: StepRecord = { name, startedAt: now(), outcome: 'running' };
    record.steps.push(s);
    // The Web UI's details: metadata, not a command, so it changes no history.
    setCurrentDetails(renderDeploymentDetails(record));
    const t0 = Date.now();
    try {
      const r = await fn();
      s.outcome = 'ok';
      if (describe) s.detail = describe(r);
      return r;
    } catch (err) {
      s.outcome = 'failed';
      s.detail = failureMessage(err);
      throw err;
    } finally {
      s.finishedAt = now();
      s.durationMs = Date.now() - t0;
      setCurrentDetails(renderDeploymentDetails(record));
    }
  }
  const env = input.environment;
  const opts = (summary: string) => ({ summary });

  // Defence in depth: the CLI's parser already refuses unsafe refs; a client that bypasses it meets the same rule
  // here, before any activity (no command is scheduled, so this changes no existing history).
  const refProblem = gitRefProblem(input.gitRef);
  if (refProblem) {
    record.status = 'refused';
    record.reason = `gitRef is not a safe git ref: ${refProblem}`;
    record.finishedAt = now();
    await condition(allHandlersFinished);
    return record;
  }
  await trust.load('deployment start');
  record.policyDigest = trust.digest;
  // Who may start this deployment (deployment-authority patch): its change, or a signed direct order; before the lock
  // and any host step. Since then the approvals' expiry and the emergency approval are the change's word, not the input's.
  const authorityChecked = patched('deployment-authority');
  const established = authorityChecked ? await establishAuthority() : undefined;
  if (established === 'refused') {
    // Its change (or what claims to be) is told by the record: refused, nothing changed.
    await condition(allHandlersFinished);
    return record;
  }
  const changeAuthority = established;
  let lock: HeldLock | undefined;
  let prepared: PreparedRelease | undefined;
  let plan: MigrationPlan | undefined;
  let migrationsApplied = false;
  let switched = false;
  // Hosts: before the fleet-deploy patch a deployment ran every step on the environment's one (primary) host, with
  // no host in the activity inputs; since, each host is named, prepared in parallel and switched in batches.
  let fleet: Fleet | undefined;
  let hosts: FleetHost[] = [{ name: '', web: true, primary: true }];
  const preparedHosts: FleetHost[] = [];
  const switchedHosts: FleetHost[] = [];
  const onHostArg = (h: FleetHost) => (fleet ? { host: h.name } : {});
  const label = (text: string, h: FleetHost) => (hosts.length > 1 ? `${text} on ${h.name}` : text);
  const hostRecord = (h: FleetHost) => record.hosts?.find((x) => x.name === h.name);

  // ---- the lock (lock-holder-run-id patch): bounded waits, visible holder, released around waits for people ----
  const lockTimeout = input.lockWaitTimeoutMs ?? 4 * 3600_000;
  let lockClient: EnvironmentLockClient | undefined;
  const showLockWait = (w: LockWait) => {
    record.lockWait = { lockWorkflowId: w.lockWorkflowId, holder: w.holder, position: w.position, since: record.lockWait?.since ?? now() };
    setCurrentDetails(renderDeploymentDetails(record));
    const what = `the ${env} deployment lock, held by ${w.holder ?? '(nobody: about to be granted)'}${w.position > 1 ? ` (${w.position} in line)` : ''}`;
    tellChange({ lock: { environment: env, holder: w.holder, position: w.position }, what });
  };
  /** Takes the lock (a step); refuses after lockTimeout, stops at a cancellation (unless rolling back). */
  async function takeLock(name: string): Promise<void> {
    const before = record.status;
    record.status = 'waiting-for-lock';
    record.lockWait = { lockWorkflowId: lockClient!.lockWorkflowId, holder: null, position: 0, since: now() };
    await step(name, async () => {
      const outcome = await lockClient!.acquire({ timeoutMs: lockTimeout, interrupted: () => !rollingBack && cancelledAt() !== undefined, onWaiting: showLockWait, summary: name });
      const holder = record.lockWait?.holder ?? null;
      const waited = record.lockWait !== undefined;
      record.lockWait = undefined;
      if (waited) tellChange(null);
      if (outcome === 'interrupted') throw cancelledError(name);
      if (outcome === 'timed-out') {
        throw new DeploymentRefused(name, `waited ${lockTimeout >= 120_000 ? `${Math.round(lockTimeout / 60_000)} min` : `${Math.round(lockTimeout / 1000)} s`} for the ${env} deployment lock${holder ? `, held by ${holder}` : ''}, and gave up: nothing was changed by this deployment; deploy again when the lock is free`);
      }
      return outcome;
    });
    record.status = before === 'waiting-for-lock' ? 'running' : before;
    lock = { release: () => lockClient!.release() };
  }
  /** A wait for people without the lock (so that, say, the hotfix for an incident can deploy), then the lock again. */
  async function withoutLock<T>(what: string, wait: () => Promise<T>): Promise<T> {
    if (!lockClient || !lock) return wait();
    await lockClient.release();
    lock = undefined;
    record.steps.push({ name: `release the ${env} deployment lock while waiting for ${what}`, startedAt: now(), finishedAt: now(), durationMs: 0, outcome: 'ok' });
    const r = await wait();
    if (cancelledAt() && !rollingBack) throw cancelledError(`take the ${env} deployment lock again`);
    await takeLock(`take the ${env} deployment lock again (after ${what})`);
    return r;
  }
  /**
   * Before every production step that changes a host (recheck-window-before-host-steps patch): the window and the
   * freezes of the worker's policy now, and the change's approvals, at this instant. Refuses the step otherwise.
   */
  let rechecks: boolean | undefined;
  async function recheck(stepName: string, opts: { load?: boolean } = {}): Promise<void> {
    if (env !== 'production' || !lockClient) return;
    rechecks ??= patched('recheck-window-before-host-steps');
    if (!rechecks) return;
    if (opts.load !== false) {
      await trust.load(`before ${stepName}`);
      record.policyDigest = trust.digest;
    }
    const t = Date.now();
    // The emergency approval is the change's to say: it counts only when the change itself (set by the server) started
    // this deployment; since the deployment-authority patch, as the change's own state says (a direct order has none).
    const byChange = workflowInfo().parent?.workflowId === `change-${input.changeId}`;
    const emergencyApproved = authorityChecked ? changeAuthority?.emergencyApproved === true : byChange && input.emergencyApproved === true;
    const validUntil = authorityChecked ? changeAuthority?.approvalsValidUntilMs : input.approvalsValidUntilMs;
    const w = deploymentWindow(t, trust.policy!, { environment: 'production', hotfix: input.hotfix, emergencyApproved });
    if (!w.open) {
      throw new DeploymentRefused(stepName, `the production window is closed (${w.reason}): "${stepName}" is not started${w.nextOpeningMs !== undefined ? `; it opens ${new Date(w.nextOpeningMs).toISOString()}` : ''}`);
    }
    if (validUntil !== undefined && t >= validUntil) {
      throw new DeploymentRefused(stepName, `the change's approvals expired at ${new Date(validUntil).toISOString()}: "${stepName}" is not started; the change needs fresh approvals`);
    }
  }
  /**
   * The deployment's authority: started by its change (the worker describes the parent and asks the change where it
   * stands), or on a signed direct order. Anything else is refused before the lock and any host step: a deployment
   * not started by a change fails with a non-retryable DeploymentRefused; one whose parent (named as its change)
   * turns out not to be that change deploying it now ends `refused` (the change reads the record and fails its phase).
   * Returns the change's word (undefined for a direct order).
   */
  async function establishAuthority(): Promise<ChangeAuthority | undefined | 'refused'> {
    const info = workflowInfo();
    const parent = info.parent;
    const refuse = async (why: string, claimed?: string): Promise<never> => {
      await refusal(why, claimed);
      throw ApplicationFailure.nonRetryable(record.reason!, 'DeploymentRefused');
    };
    const refusal = async (why: string, claimed?: string): Promise<'refused'> => {
      record.status = 'refused';
      record.reason = `deployment refused: ${why}. ${HOW_TO_DEPLOY}`;
      record.finishedAt = now();
      setCurrentDetails(renderDeploymentDetails(record));
      // No statement or signature here: a forgery in the log would read as a broken signature to `steward audit verify`.
      await auditLog.appendAuditEvent
        .executeWithOptions({ summary: 'audit: deployment refused' }, [
          { eventId: `${record.workflowId}:${info.runId}:refused`, subject: input.changeId, kind: 'rejected-attempt', actor: 'unknown', at: now(), details: { message: 'deployment', workflowId: record.workflowId, environment: env, gitRef: input.gitRef, reason: why, parent: parent?.workflowId ?? null, claimedSigner: claimed ?? null } },
        ])
        .catch((e: unknown) => log.error('audit append failed', { kind: 'rejected-attempt', error: failureMessage(e) }));
      return 'refused';
    };
    const recordAuthority = async (eventId: string, actor: string, details: Record<string, unknown>): Promise<string | null> => {
      try {
        await auditLog.appendAuditEvent.executeWithOptions({ summary: `audit: deployment authorised (${record.authority!.kind})` }, [
          { eventId, subject: input.changeId, kind: 'deployment-authorised', actor, at: now(), details: { workflowId: record.workflowId, runId: info.runId, environment: env, gitRef: input.gitRef, authority: record.authority, ...details } },
        ]);
        return null;
      } catch (err) {
        const e = err as { type?: string; cause?: { type?: string } };
        return (e.cause?.type ?? e.type) === 'AuditConflict' ? 'AuditConflict' : failureMessage(err);
      }
    };

    if (parent && parent.workflowId === changeWorkflowId(input.changeId)) {
      let r: ChangeAuthority | AuthorityRefusal;
      try {
        r = await authorityCheck.confirmChangeAuthority.executeWithOptions({ summary: `confirm that ${parent.workflowId} is this deployment's change, deploying it now` }, [
          { parentWorkflowId: parent.workflowId, parentRunId: parent.runId, changeId: input.changeId, environment: env, gitRef: input.gitRef, deploymentWorkflowId: record.workflowId },
        ]);
      } catch (err) {
        r = { ok: false, reason: `its parent could not be confirmed: ${failureMessage(err)}` };
      }
      if (!r.ok) return refusal(`started by ${parent.workflowId}, which is not this deployment's change deploying it now: ${r.reason}`);
      record.authority = {
        kind: 'change',
        changeWorkflowId: parent.workflowId,
        changeRunId: parent.runId,
        phase: r.phase,
        approvalsValidUntil: r.approvalsValidUntilMs !== undefined ? new Date(r.approvalsValidUntilMs).toISOString() : null,
        emergencyApproved: r.emergencyApproved,
      };
      // The change recorded this deployment's start (fail-closed); this row says the worker confirmed it.
      const failed = await recordAuthority(`${record.workflowId}:${info.runId}:authority`, 'steward', {});
      if (failed) log.error('audit append failed', { kind: 'deployment-authorised', error: failed });
      return r;
    }

    const by = parent ? `started by ${parent.workflowId} (not the change ${changeWorkflowId(input.changeId)})` : 'started directly, not by a change';
    if (input.directOrder === undefined || input.directOrder === null) return refuse(`${by}, with no signed direct order`);
    const v = trust.verify(input.directOrder, { actions: ['orderDeployment'] });
    const claimed = claimedSigner(input.directOrder);
    if (!('ok' in v)) return refuse(`${by}; its direct order cannot be checked: ${v.reason}`, claimed);
    if (!v.ok) return refuse(`${by}; its direct order is refused (${v.code}): ${v.reason}`, claimed);
    const d = v.statement.decision;
    if (d.environment !== env) return refuse(`${by}; its direct order is for environment ${JSON.stringify(d.environment ?? null)}, not ${env}`, claimed);
    if (d.gitRef !== input.gitRef) return refuse(`${by}; its direct order is for gitRef ${JSON.stringify(d.gitRef ?? null)}, not ${input.gitRef}`, claimed);
    const p = decider(v.signer, 'orderDeployment', 'order a deployment directly');
    if (p) return refuse(`${by}; its direct order is refused: ${p}`, claimed);
    trust.spend(v);
    record.authority = { kind: 'direct-order', orderedBy: v.signer, issuedAt: v.statement.issuedAt, nonce: v.statement.nonce };
    // Single use for ever: the event id names the order's nonce, so another run given the same order conflicts.
    // Fail-closed: an order the audit store cannot record is not obeyed.
    const failed = await recordAuthority(`deployment-order:${v.statement.nonce}`, v.signer, { statement: input.directOrder.statement, signature: input.directOrder.signature });
    if (failed === 'AuditConflict') return refuse(`${by}; its direct order was already used by another run (replay): a signed order counts once`, claimed);
    if (failed) return refuse(`${by}; ${auditRefusal('the direct order', failed)}`, claimed);
    return undefined;
  }

  function cancelledError(stepName: string): DeploymentFailed {
    record.cancelled ??= { at: cancelledAt() ?? now(), duringStep: stepName };
    return new DeploymentFailed(stepName, `cancelled before "${stepName}" (by its change or an operator): no further step is started, what this deployment changed is rolled back`);
  }

  try {
    if (lockByRunId()) {
      lockClient = environmentLockClient(env, record.workflowId);
      await takeLock('wait for the environment lock');
    } else {
      lock = await step('wait for the environment lock', () => acquireEnvironmentLock(env, record.workflowId));
    }
    record.status = 'running';
    await trust.load('lock taken'); // the policy now (protected tables added meanwhile count)
    record.policyDigest = trust.digest;
    await recheck('anything on the hosts', { load: false }); // the window, freezes and approvals after the wait for the lock
    if (patched('fleet-deploy')) {
      fleet = await activities.describeFleet.executeWithOptions(opts(`the hosts of ${env}`), [{ environment: env }]);
      hosts = fleet.hosts;
      if (fleet.limits?.length) record.limits = fleet.limits;
    }
    const noInvariants = fleet?.absentHooks?.includes('invariants') ?? false;
    const skipped = (name: string, detail: string) => record.steps.push({ name, startedAt: now(), finishedAt: now(), durationMs: 0, outcome: 'skipped', detail });
    const currents = await Promise.all(
      hosts.map((h) => activities.readCurrentRelease.executeWithOptions(opts(label(`read the live release on ${env}`, h)), [{ environment: env, ...onHostArg(h) }])),
    );
    const previousOf = (id: string | null) => (id === releaseId ? null : id);
    const primaryAt = Math.max(0, hosts.findIndex((h) => h.primary));
    record.previousReleaseId = currents[primaryAt]!.releaseId === releaseId ? record.previousReleaseId : currents[primaryAt]!.releaseId;
    if (fleet) {
      record.hosts = hosts.map((h, i) => ({ name: h.name, web: h.web, primary: h.primary, previousReleaseId: previousOf(currents[i]!.releaseId), status: 'live' }));
    }

    // Prepare the release beside the live one on every host at once (no change to what is served). Since the
    // prepare-before-window patch everything that does not change what is served happens here, before the critical
    // window (backup → green smoke): collectstatic on each web host after its venv, and the migration plan as soon
    // as the primary's venv is ready, beside the other hosts' preparation.
    const early = patched('prepare-before-window');
    let earlyPlan: Promise<MigrationPlan> | undefined;
    let earlyFlags: Promise<string[]> | undefined;
    const planStep = () =>
      step('plan migrations', () =>
        activities.planMigrations.executeWithOptions(opts('plan migrations: the exact SQL (migrate --plan, sqlmigrate)'), [{ environment: env, releaseId }]),
        (r) => `${r.planned.length} pending: ${r.planned.map((m) => `${m.app}.${m.name}${m.irreversible ? ' (irreversible)' : ''}`).join(', ') || 'none'}`,
      );
    const collectStep = (h: FleetHost) =>
      step(label('collectstatic', h), () => activities.collectStatic.executeWithOptions(opts(label('collectstatic into the new release', h)), [{ environment: env, ...onHostArg(h), releaseId }]));
    const preparedAll = await settleAll(
      hosts.map(async (h) => {
        const p = await step(label('pull the code', h), () =>
          activities.prepareRelease.executeWithOptions(opts(label(`fetch ${input.gitRef} into releases/${releaseId}`, h)), [{ environment: env, ...onHostArg(h), releaseId, gitRef: input.gitRef }]),
          (r) => `commit ${r.commit.slice(0, 12)}${r.reused ? ' (release dir reused)' : ''}`,
        );
        preparedHosts.push(h);
        if (h.primary) {
          prepared = p;
          record.commit = p.commit;
        }
        await step(label('virtualenv and requirements', h), () =>
          activities.prepareVirtualenv.executeWithOptions(opts(label('virtualenv for the release requirements', h)), [{ environment: env, ...onHostArg(h), releaseId, requirementsHash: p.requirementsHash }]),
          (r) => (r.installed ? `installed ${r.venv}` : `requirements unchanged, reused ${r.venv}`),
        );
        if (early) {
          if (h.primary) {
            earlyPlan = planStep();
            // Which modules an open incident froze, read now rather than (a Django start) inside the critical window.
            earlyFlags = patched('smoke-knows-frozen-modules')
              ? activities.listDisabledModules.executeWithOptions(opts('module flags that are off (frozen by an incident)'), [{ environment: env, releaseId }])
              : Promise.resolve([]);
          }
          // The plan's failure is the plan's to report (below): here only collectstatic can fail this host.
          await Promise.all([h.web ? collectStep(h) : undefined, h.primary ? earlyPlan?.catch(() => undefined) : undefined, h.primary ? earlyFlags?.catch(() => undefined) : undefined]);
        }
        const rec = hostRecord(h);
        if (rec) Object.assign(rec, { status: 'prepared', commit: p.commit });
        return p;
      }),
    );
    prepared = preparedAll[primaryAt]!;
    const commits = [...new Set(preparedAll.map((p) => p.commit))];
    if (commits.length > 1) {
      throw new DeploymentFailed('pull the code', `the hosts resolved ${input.gitRef} to different commits (${hosts.map((h, i) => `${h.name} ${preparedAll[i]!.commit.slice(0, 12)}`).join(', ')}): refusing a mixed fleet`);
    }
    if (/^[0-9a-f]{40}$/.test(input.gitRef) && prepared.commit !== input.gitRef) {
      throw new DeploymentFailed('pull the code', `the hosts resolved ${prepared.commit}, not the approved commit ${input.gitRef}`);
    }
    plan = await (earlyPlan ?? planStep());
    // Read before the window: a failure here changes nothing on the hosts.
    const flagsBefore = early ? await earlyFlags : undefined;
    // PostgreSQL's parser read the SQL in the activity; the domain judges its facts, both directions. Protected tables
    // come from the worker's config: the plan's list and the policy the deployment loaded.
    const protectedTables = [...new Set([...(plan.protectedTables ?? []), ...trust.protectedTables(env)])];
    const classification: MigrationClassification =
      plan.facts && patched('migrations-judged-by-parser')
        ? judgeMigrations(plan.facts, { protectedTables, tableSizes: plan.tableSizes })
        : classifyMigrationSql(plan.planned.map((m) => m.sql).join('\n'), protectedTables);
    record.migrations = { planned: plan.planned.map(({ sql: _sql, ...m }) => m), classification, stateBefore: plan.stateBefore };
    const gating = describeFindings(classification);
    if (gating.length) {
      record.migrations.gatingFindings = gating;
      setCurrentDetails(`### Migration findings (§6)\n\n${gating.map((g) => `- ${g}`).join('\n')}`);
    }
    if (classification.level === 'forbidden') {
      record.status = 'refused';
      record.reason = `refused before anything ran: ${classification.findings.filter((f) => f.level === 'forbidden').map((f) => f.reason).join('; ')}`;
      await settleAll(hosts.map((h) => activities.removeRelease.executeWithOptions(opts(label('remove the refused release dir', h)), [{ environment: env, ...onHostArg(h), releaseId }])));
      return await finish();
    }

    // Since the fresh-run-backup patch the backup is taken after every approval, immediately before the migration,
    // named by this run (no earlier run's dump can pass as it), sized from the database and restore-checked; before
    // it, it was taken here, before a wait for people that could last days. Since prepare-before-window the static
    // files were collected during the preparation (above), and the reads of the window run beside each other.
    backupAfterApproval = patched('fresh-run-backup');
    const describeBackup = (b: BackupRecord) =>
      `${b.file}, ${b.sizeBytes} bytes, sha256 ${b.sha256.slice(0, 16)}…, ${b.verifiedEntries} entries verified` +
      (b.restoreCheck ? `; restored into ${b.restoreCheck.scratchDatabase}${b.restoreCheck.sample ? ' (protected tables only)' : ''} in ${(b.restoreCheck.durationMs / 1000).toFixed(1)} s, ${b.restoreCheck.tables.map((t) => `${t.table} ${t.restored}`).join(', ')} rows as in the source` : '');
    const backupStep = () =>
      step('back up the database', () =>
        activities.backupDatabase.executeWithOptions(opts(`pg_dump + pg_restore --list of ${env}`), [{ environment: env, backupId: releaseId }]),
        describeBackup,
      );
    const invariantsBeforeStep = () =>
      record.previousReleaseId && !noInvariants
        ? step('financial invariants before', () =>
            activities.readInvariants.executeWithOptions(opts('financial invariants before'), [{ environment: env, releaseId: record.previousReleaseId! }]),
          )
        : Promise.resolve(null);
    let invariantsBefore: InvariantSnapshot | null | undefined;
    if (!backupAfterApproval) {
      if (early) {
        // The critical window opens with the backup. Both reads beside each other (neither writes); a destructive
        // migration waits for its approval (of this backup) before the invariants are read, as before.
        if (noInvariants) skipped('financial invariants before', 'the app declares no invariants hook');
        const [backup, inv] = await Promise.all([backupStep(), classification.level === 'destructive' ? Promise.resolve(undefined) : invariantsBeforeStep()]);
        record.backup = backup;
        invariantsBefore = inv;
      } else {
        // Static files and the verified backup side by side: neither touches what is served.
        const [, backup] = await Promise.all([settleAll(hosts.filter((h) => h.web).map((h) => collectStep(h))), backupStep()]);
        record.backup = backup;
      }
    } else if (!early) {
      await settleAll(hosts.filter((h) => h.web).map((h) => collectStep(h)));
    }

    if (classification.level === 'destructive') {
      record.status = 'awaiting-destructive-approval';
      pending('approveDestructiveMigration', 'destructiveMigration', `the §6.2 destructive-migration approval (backup confirmed, rollback plan) for: ${gating.slice(0, 5).join('; ') || classification.level}`, `steward migration approve ${input.changeId} --backup-confirmed --rollback-plan "…"`);
      const got = await withoutLock('the §6.2 approval', () =>
        step(
          'destructive migration: wait for §6.2 approval',
          () => condition(() => destructiveApproval !== undefined || (lockClient !== undefined && cancelledAt() !== undefined), humanTimeout),
          () => `approved for: ${gating.slice(0, 5).join('; ') || classification.level}`,
        ),
      );
      decisionTaken();
      if (!got) throw new DeploymentFailed('destructive approval', 'the destructive migration was not approved in time');
      if (!destructiveApproval) throw cancelledError('destructive approval');
      record.status = 'running';
      if (lockClient) {
        // Others may have deployed while the lock was free: this plan holds only if the live release is the one read.
        const liveNow = await Promise.all(hosts.map((h) => activities.readCurrentRelease.executeWithOptions(opts(label(`read the live release on ${env} again`, h)), [{ environment: env, ...onHostArg(h) }])));
        const moved = hosts.filter((_, i) => liveNow[i]!.releaseId !== currents[i]!.releaseId);
        if (moved.length) {
          throw new DeploymentRefused('take the lock again', `the live release changed while this deployment waited for the approval (${moved.map((h) => `${h.name || env}: ${currents[hosts.indexOf(h)]!.releaseId} → ${liveNow[hosts.indexOf(h)]!.releaseId}`).join(', ')}): its plan is stale; deploy again`);
        }
      }
    }

    if (noInvariants && !(early && !backupAfterApproval)) skipped('financial invariants before', 'the app declares no invariants hook');
    // The fresh backup: the database sized first (its timeouts), then dumped for this run and restore-checked.
    const freshBackup = async (): Promise<DatabaseTimeouts> => {
      const sized = await step('size the database work', () => database.measureDatabase.executeWithOptions(opts(`pg_database_size of ${env}: dump, restore and migrate timeouts`), [{ environment: env }]), (t) =>
        `${t.sizeBytes} bytes: dump ≤ ${Math.round(t.dumpMs / 1000)} s, restore ≤ ${Math.round(t.restoreMs / 1000)} s, migrate ≤ ${Math.round(t.migrateMs / 60_000)} min`,
      );
      record.databaseTimeouts = sized;
      record.backup = await step('back up the database', () =>
        database.backupDatabase.executeWithOptions({ summary: `pg_dump of ${env} for this run, restored into a scratch database`, startToCloseTimeout: sized.backupMs }, [
          { environment: env, backupId: releaseId, runId: workflowInfo().runId, timeouts: sized },
        ]),
        describeBackup,
      );
      return sized;
    };
    let timeouts: DatabaseTimeouts | undefined;
    if (backupAfterApproval && early) {
      // Both reads of the window beside each other (neither writes), after every approval.
      const [inv, sized] = await Promise.all([invariantsBeforeStep(), freshBackup()]);
      invariantsBefore = inv;
      timeouts = sized;
      record.invariants = { before: invariantsBefore, differences: [] };
    } else {
      if (invariantsBefore === undefined) invariantsBefore = await invariantsBeforeStep();
      record.invariants = { before: invariantsBefore, differences: [] };
      if (backupAfterApproval) timeouts = await freshBackup();
    }
    if (plan.planned.length > 0) {
      if (!record.backup) throw new DeploymentFailed('migrate', 'no verified backup: refusing to migrate (§6.1)');
      await recheck('run migrations');
      if (cancelledAt()) throw cancelledError('run migrations');
      if (timeouts) {
        const stale = backupProblem(record.backup, workflowInfo().runId, Date.now(), timeouts.backupMaxAgeMs);
        if (stale) throw new DeploymentFailed('migrate', `refusing to migrate: ${stale}`);
      }
      migrationsApplied = true; // set first: a migrate that fails half-way must still be reversed
      const sized = timeouts;
      await step('run migrations', () =>
        sized
          ? database.runMigrations.executeWithOptions({ summary: `migrate ${plan!.planned.length} migration(s)`, startToCloseTimeout: sized.migrateMs + 60_000 }, [{ environment: env, releaseId, timeoutMs: sized.migrateMs }])
          : activities.runMigrations.executeWithOptions(opts(`migrate ${plan!.planned.length} migration(s)`), [{ environment: env, releaseId }]),
      );
    }
    // Before `switched`: a refusal of the first switch leaves the hosts as they were (or reverses the migrations).
    await recheck(label('switch current', hosts[0]!));
    if (cancelledAt()) throw cancelledError('switch current');
    switched = true;
    // Host by host (or in the configured batches): each batch is switched, restarted and smoke-tested before the
    // next one is touched, so a failure leaves the rest of the fleet on the previous release.
    let frozenModules: string[] | undefined = flagsBefore;
    const smokeResults: { host: string; result: SmokeResult }[] = [];
    let batchNo = 0;
    for (const batch of fleet ? rolloutBatches(hosts, fleet.batchSize) : [hosts]) {
      if (batchNo++ > 0) await recheck(label('switch current', batch[0]!));
      await settleAll(
        batch.map(async (h) => {
          switchedHosts.push(h);
          const rec = hostRecord(h);
          if (rec) rec.status = 'switching';
          await step(label('switch current', h), () => activities.switchRelease.executeWithOptions(opts(label(`switch current to ${releaseId}`, h)), [{ environment: env, ...onHostArg(h), releaseId }]));
          const restart = await step(label('restart gunicorn', h), () => activities.restartApp.executeWithOptions(opts(label('graceful restart of Gunicorn', h)), [{ environment: env, ...onHostArg(h), releaseId }]), (r) => r.mode).catch((err) => {
            if (rec) Object.assign(rec, { status: 'failed', detail: failureMessage(err) });
            throw err;
          });
          record.restartMode ??= restart.mode;
          if (rec) rec.restartMode = restart.mode;
        }),
      );
      // A module frozen by an open incident stays frozen through a hotfix: the smoke test proves the freeze holds
      // (posting refused) instead of failing on it.
      frozenModules ??= patched('smoke-knows-frozen-modules')
        ? await activities.listDisabledModules.executeWithOptions(opts('module flags that are off (frozen by an incident)'), [{ environment: env, releaseId }])
        : [];
      const disabled = frozenModules;
      const results = await settleAll(
        batch.map((h) =>
          step(label('smoke tests', h), () =>
            smoke.smokeTest.executeWithOptions(opts(label(input.stagingChecks ? 'smoke + staging checks (§7, §9)' : 'smoke checklist (§9)', h)), [
              { environment: env, ...onHostArg(h), staging: input.stagingChecks, ...(disabled.length ? { disabledModules: disabled } : {}) },
            ]),
            (s) => `${s.checks.filter((c) => c.ok).length}/${s.checks.length} checks green`,
          ),
        ),
      );
      batch.forEach((h, i) => {
        smokeResults.push({ host: h.name, result: results[i]! });
        const rec = hostRecord(h);
        if (rec) Object.assign(rec, { smoke: results[i], status: results[i]!.ok ? 'serving' : 'failed' });
      });
      record.smoke = hosts.length > 1 ? combineSmoke(smokeResults) : results[0];
      const failedAt = batch.findIndex((_, i) => !results[i]!.ok);
      if (failedAt >= 0) {
        const failed = results[failedAt]!.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
        throw new DeploymentFailed('smoke tests', `smoke tests failed${hosts.length > 1 ? ` on ${batch[failedAt]!.name}` : ''}: ${failed.join('; ')}`);
      }
    }
    if (noInvariants) skipped('financial invariants after', 'the app declares no invariants hook: a silent balance change cannot be detected');
    const after = noInvariants
      ? {}
      : await step('financial invariants after', () =>
          activities.readInvariants.executeWithOptions(opts('financial invariants after'), [{ environment: env, releaseId }]),
        );
    const cmp = compareInvariants(invariantsBefore, after, { smokeTenant: input.smokeTenant ?? 'smoke', declared: input.declaredBalanceChanges });
    record.invariants = { before: invariantsBefore, after, differences: cmp.differences, preExisting: cmp.preExisting };
    if (!cmp.ok) {
      throw new DeploymentFailed(
        'financial invariants',
        `silent balance change: ${cmp.differences.map((d) => `${d.tenant}.${d.metric} ${d.before ?? '∅'} → ${d.after ?? '∅'}`).join(', ')}`,
      );
    }
    if (input.tagRelease) {
      let version = '';
      try {
        const tags = await activities.listReleaseTags.executeWithOptions(opts('list release tags'), [{ environment: env }]);
        version = nextVersion(tags, input.changeType, { hotfix: input.hotfix });
        const tagged = await step('tag the release', () =>
          activities.tagRelease.executeWithOptions(opts(`tag ${version} on ${prepared!.commit.slice(0, 12)}`), [{ environment: env, tag: version, commit: prepared!.commit, changeId: input.changeId }]),
        );
        record.releaseTag = tagged.tag;
      } catch (err) {
        // The release is live and green: a tag that cannot be made (after the activity's retries) is reported,
        // never a rollback of a healthy release. Before this patch it rolled back.
        if (!patched('tag-failure-reported')) throw err;
        record.releaseTagFailure = { tag: version || '(none)', error: failureMessage(err), at: now() };
        log.warn('the release tag could not be made; the deployment stands', { tag: version, error: failureMessage(err) });
        await auditLog.appendAuditEvent
          .executeWithOptions({ summary: 'audit: release tag failed' }, [
            { eventId: `${record.workflowId}:tag-failed`, subject: input.changeId, kind: 'report', actor: 'steward', at: now(), details: { workflowId: record.workflowId, releaseTagFailure: record.releaseTagFailure } },
          ])
          .catch((e: unknown) => log.error('audit append failed', { kind: 'report', error: failureMessage(e) }));
      }
    }
    record.status = 'deployed';
    await settleAll(
      hosts.map((h) => {
        const prev = fleet ? hostRecord(h)?.previousReleaseId : record.previousReleaseId;
        return activities.pruneReleases
          .executeWithOptions(opts(label('prune old releases', h)), [{ environment: env, ...onHostArg(h), keep: [releaseId, ...(prev ? [prev] : [])] }])
          .catch((err) => log.warn('pruning old releases failed', { error: failureMessage(err), host: h.name }));
      }),
    );
    return await finish();
  } catch (err) {
    record.reason = failureMessage(err);
    if (preparedHosts.length === 0 || (!switched && !migrationsApplied)) {
      // Nothing on the host changed what is served: the live release is untouched.
      record.status = err instanceof DeploymentRefused ? 'refused' : 'rolled-back';
      await settleAll(
        preparedHosts.map((h) => activities.removeRelease.executeWithOptions(opts(label('remove the unused release dir', h)), [{ environment: env, ...onHostArg(h), releaseId }]).catch(() => undefined)),
      );
      return await finish();
    }
    await rollback();
    return await finish();
  }

  async function rollback(): Promise<void> {
    rollingBack = true;
    record.status = 'rolling-back';
    const planned = plan?.planned ?? [];
    const planned0 = rollbackPlan({
      changeType: input.changeType,
      migrationsApplied: migrationsApplied ? planned.map((m) => ({ app: m.app, name: m.name, reversible: !m.irreversible })) : [],
      releaseSwitched: switched,
      financialImpact: input.financialImpact,
      previousRelease: record.previousReleaseId ?? undefined,
      featureFlag: input.featureModules?.[0],
    });
    const rb = fleet ? codeBeforeMigrations(planned0) : planned0;
    const r: NonNullable<DeploymentRecord['rollback']> = { plan: rb, done: [], failedCompensations: [], manualSteps: [], incidentRequired: false };
    record.rollback = r;
    const compensate = async (action: string, fn: () => Promise<string>) => {
      try {
        const detail = await step(`rollback: ${action}`, fn);
        r.done.push({ action, ok: true, detail });
      } catch (err) {
        // A failed compensation is recorded and escalated, never swallowed.
        r.failedCompensations.push({ action, error: failureMessage(err) });
        r.done.push({ action, ok: false, detail: failureMessage(err) });
        r.incidentRequired = true;
      }
    };
    const prev = record.previousReleaseId;
    /**
     * A wait for a person during the rollback: on production the incident is opened first and the lock is freed
     * for the wait (the hotfix for that incident can deploy), then taken again. When the live release moved
     * meanwhile (someone deployed), the rest of this rollback would undo their work: it stops, and says so.
     */
    let stopped = false;
    const humanWait = async <T>(what: string, wait: () => Promise<T>): Promise<T> => {
      if (!lockClient) return wait();
      if (env === 'production' && !r.incidentId && rb.steps.some((x) => x.action === 'open-incident')) {
        r.incidentRequired = true;
        await openIncident(r);
      }
      let res: T;
      try {
        res = await withoutLock(what, wait);
      } catch (err) {
        stopped = true;
        r.failedCompensations.push({ action: `take the ${env} deployment lock again`, error: failureMessage(err) });
        r.incidentRequired = true;
        return undefined as T;
      }
      const primary = hosts.find((h) => h.primary) ?? hosts[0]!;
      const live = await activities.readCurrentRelease.executeWithOptions(opts(label(`read the live release on ${env} again`, primary)), [{ environment: env, ...onHostArg(primary) }]);
      if (live.releaseId !== releaseId && live.releaseId !== (fleet ? hostRecord(primary)?.previousReleaseId : prev)) {
        stopped = true;
        r.failedCompensations.push({ action: 'rollback', error: `superseded: the live release is ${live.releaseId}, deployed while this rollback waited for ${what}; the rest of the rollback is not run (it would undo that deployment)` });
        r.incidentRequired = true;
      }
      return res;
    };
    for (const s of rb.steps) {
      if (stopped) break;
      switch (s.action) {
        case 'disable-feature':
          for (const module of input.featureModules?.length ? input.featureModules : ['posting']) {
            await compensate(`disable ${module}`, async () => {
              await activities.setFeatureFlag.executeWithOptions(opts(`disable the ${module} feature`), [
                { environment: env, releaseId, module, on: false, reason: `rollback of change ${input.changeId}` },
              ]);
              return `${module} disabled`;
            });
          }
          break;
        case 'reverse-migrations': {
          const apps = [...new Set(planned.map((m) => m.app))];
          await compensate('reverse migrations', async () => {
            const res = await activities.reverseMigrations.executeWithOptions(opts('reverse migrations to the recorded state'), [
              { environment: env, releaseId, stateBefore: plan!.stateBefore, apps },
            ]);
            return res.reversed.join(', ');
          });
          break;
        }
        case 'await-restore-decision': {
          record.status = 'awaiting-restore-decision';
          pending('decideRestore', 'restore', 'the §10.3 decision whether to restore the pre-deployment backup', `steward deployment restore ${input.changeId} --restore|--no-restore --reason "…"`);
          const decided = await humanWait('the restore decision', () => condition(() => restoreDecision !== undefined, humanTimeout));
          decisionTaken();
          if (stopped) break;
          r.restoreDecision = restoreDecision;
          if (!decided) {
            r.failedCompensations.push({ action: 'restore decision', error: 'no restore decision in time' });
            r.incidentRequired = true;
          } else if (restoreDecision!.restore) {
            await compensate('restore the pre-deployment backup', async () => {
              const sized = record.databaseTimeouts;
              const summary = 'restore the pre-deployment backup (after backing up the current database)';
              const res = sized
                ? await database.restoreDatabase.executeWithOptions({ summary, startToCloseTimeout: sized.restoreActivityMs }, [
                    { environment: env, backupFile: record.backup!.file, preRestoreBackupId: `${releaseId}-pre-restore`, runId: workflowInfo().runId, timeouts: sized },
                  ])
                : await activities.restoreDatabase.executeWithOptions(opts(summary), [{ environment: env, backupFile: record.backup!.file, preRestoreBackupId: `${releaseId}-pre-restore` }]);
              return `restored ${record.backup!.file}; the database as it was is kept in ${res.preRestoreBackup.file}`;
            });
          }
          record.status = 'rolling-back';
          break;
        }
        case 'switch-to-previous-release':
          // Exactly the hosts this deployment switched (in parallel: each one is on its own); the others never
          // left their previous release.
          await settleAll(
            switchedHosts.map(async (h) => {
              const hostPrev = fleet ? hostRecord(h)!.previousReleaseId : prev;
              if (hostPrev) {
                await compensate(label('switch to the previous release', h), async () => {
                  await activities.switchRelease.executeWithOptions(opts(label(`switch current back to ${hostPrev}`, h)), [{ environment: env, ...onHostArg(h), releaseId: hostPrev }]);
                  return `current → ${hostPrev}`;
                });
              } else {
                r.failedCompensations.push({ action: label('switch to the previous release', h), error: 'there is no previous release (first deployment): the app stays down' });
              }
            }),
          );
          break;
        case 'restart':
          await settleAll(
            switchedHosts.map(async (h) => {
              const hostPrev = fleet ? hostRecord(h)!.previousReleaseId : prev;
              if (hostPrev) {
                await compensate(label('restart gunicorn', h), async () => {
                  const res = await activities.restartApp.executeWithOptions(opts(label('restart Gunicorn on the previous release', h)), [{ environment: env, ...onHostArg(h), releaseId: hostPrev }]);
                  return res.mode;
                });
              }
            }),
          );
          break;
        case 'manual-reversal-steps': {
          record.status = 'awaiting-manual-steps';
          pending('completeManualStep', 'manualStep', 'the manual reversal steps (§10.3.3), ending with the step "all-done"', `steward deployment step ${input.changeId} --step "…" (finally --step all-done)`);
          const done = await humanWait('the manual reversal steps', () => condition(() => manualDone, humanTimeout));
          decisionTaken();
          if (stopped) break;
          if (!done) {
            r.failedCompensations.push({ action: 'manual reversal steps', error: 'not completed in time' });
          }
          record.status = 'rolling-back';
          break;
        }
        case 'open-incident':
          r.incidentRequired = true;
          break;
      }
    }
    const disabledModules = r.done.filter((d) => d.ok && d.action.startsWith('disable ')).map((d) => d.action.slice('disable '.length));
    if (!fleet) {
      if (prev) {
        r.smokeAfter = await smoke.smokeTest
          .executeWithOptions(opts('smoke tests of the previous release'), [{ environment: env, staging: false, disabledModules }])
          .catch((err) => ({ ok: false, checks: [{ name: 'smoke', ok: false, ms: 0, detail: failureMessage(err) }], durationMs: 0 }));
        if (!r.smokeAfter.ok) r.failedCompensations.push({ action: 'smoke after rollback', error: 'the previous release is not green' });
      }
    } else {
      // Every web host that has a previous release, switched or not: the fleet is green again, or it is not.
      const checked = hosts.filter((h) => h.web && hostRecord(h)!.previousReleaseId);
      const after = await settleAll(
        checked.map((h) =>
          smoke.smokeTest
            .executeWithOptions(opts(label('smoke tests of the previous release', h)), [{ environment: env, ...onHostArg(h), staging: false, disabledModules }])
            .catch((err): SmokeResult => ({ ok: false, checks: [{ name: 'smoke', ok: false, ms: 0, detail: failureMessage(err) }], durationMs: 0 })),
        ),
      );
      checked.forEach((h, i) => {
        hostRecord(h)!.smokeAfter = after[i];
        if (!after[i]!.ok) r.failedCompensations.push({ action: label('smoke after rollback', h), error: 'the previous release is not green' });
      });
      if (checked.length) r.smokeAfter = hosts.length > 1 ? combineSmoke(checked.map((h, i) => ({ host: h.name, result: after[i]! }))) : after[0];
      for (const h of hosts) {
        const rec = hostRecord(h)!;
        if (!switchedHosts.includes(h)) {
          rec.status = 'live';
          rec.detail = `never switched: still on ${rec.previousReleaseId ?? 'no release'}`;
          continue;
        }
        const failedHere = r.failedCompensations.some((f) => f.action.endsWith(` on ${h.name}`) || (hosts.length === 1 && /switch|restart|smoke after/.test(f.action)));
        rec.status = failedHere ? 'rollback-failed' : 'rolled-back';
      }
    }
    record.status = r.failedCompensations.length ? 'rollback-failed' : 'rolled-back';
    if (r.incidentRequired && env === 'production' && !r.incidentId && patched('open-incident-on-rollback')) await openIncident(r);
  }

  /** §10.3.4, §13: a production rollback that needs an incident opens one by itself; it outlives this workflow. */
  async function openIncident(r: NonNullable<DeploymentRecord['rollback']>): Promise<void> {
    const financial = input.changeType === 'financial-logic' || input.financialImpact === true;
    const disabled = r.done.find((d) => d.ok && d.action.startsWith('disable '))?.action.slice('disable '.length);
    const incidentId = `INC-${releaseId}`;
    const incident: IncidentInput = {
      incidentId,
      environment: env,
      affectedModule: disabled ?? input.featureModules?.[0] ?? 'posting',
      affects: financial ? ['gl-balances'] : [],
      severity: financial ? 'high' : 'medium',
      description: `rollback of change ${input.changeId} on ${env}: ${record.reason ?? record.status}`.slice(0, 500),
      openedBy: 'steward',
      openedAtMs: Date.now(),
      changeId: input.changeId,
      deployment: { ...record, finishedAt: now() },
    };
    try {
      await startChild('incidentResponse', {
        workflowId: incidentWorkflowId(incidentId),
        args: [incident],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `Incident ${incidentId}: ${financial ? 'financial ' : ''}rollback of ${input.changeId} on ${env}`,
      });
      r.incidentId = incidentId;
    } catch (err) {
      r.failedCompensations.push({ action: 'open incident', error: failureMessage(err) });
      record.status = 'rollback-failed';
    }
  }

  async function finish(): Promise<DeploymentRecord> {
    record.finishedAt = now();
    setCurrentDetails(renderDeploymentDetails(record));
    if (lock) await lock.release();
    await condition(allHandlersFinished);
    return record;
  }
}

/** Waits for every promise, then fails with the first failure: a failed host never leaves a sibling step running unseen. */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

function failureMessage(err: unknown): string {
  if (err instanceof DeploymentFailed) return err.message;
  const e = err as { message?: string; cause?: { message?: string } };
  return e?.cause?.message ? `${e.message}: ${e.cause.message}` : e?.message ?? String(err);
}
