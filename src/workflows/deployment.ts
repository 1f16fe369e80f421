// deployment: the production sequence of playbook §8 with the controls of §6 and the compensations of §10.
// Also used for staging (§7) with the wider staging checks. Deterministic: all I/O is in activities.
import {
  ApplicationFailure,
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
import type { PreparedRelease } from '../activities/deployment/release';
import type { SmokeResult } from '../activities/http/smoke';
import { classifyMigrationSql, type MigrationClassification } from '../domain/migrations';
import { describeFindings, judgeMigrations } from '../domain/migration-facts';
import { compareInvariants, type DeclaredBalanceChange, type InvariantDifference, type InvariantSnapshot } from '../domain/invariants';
import { rollbackPlan, type RollbackPlan } from '../domain/rollback';
import { nextVersion } from '../domain/semver';
import { gitRefProblem } from '../domain/gitref';
import { mayDecide, type DecisionKind } from '../domain/policy';
import type { SignedAction, SignedActionName } from '../domain/statement';
import { createTrust, unexpectedInputFields } from './trust';
import type { ChangeType } from '../domain/types';
import { acquireEnvironmentLock, type HeldLock } from './lock-client';
import { incidentWorkflowId, type IncidentInput } from './incident-api';

const activities = proxyActivities<StewardActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});

const auditLog = proxyActivities<AuditActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 4 },
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
}

export const DEPLOYMENT_INPUT_FIELDS = [
  'changeId', 'environment', 'gitRef', 'changeType', 'proposer', 'implementer', 'attempt', 'hotfix', 'financialImpact',
  'featureModules', 'declaredBalanceChanges', 'stagingChecks', 'tagRelease', 'smokeTenant', 'humanDecisionTimeoutMs',
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
  releaseTag?: string;
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
  policyDigest?: string;
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

// ---- the workflow ----------------------------------------------------------------------------------------

export async function deployment(input: DeploymentInput): Promise<DeploymentRecord> {
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

  // Messages are signed actions (DESIGN "Trust model"): the signer is the key's owner in the worker's policy, and
  // must hold a role the policy gives this decision; never the proposer or implementer. The Update validators refuse
  // at once; a Signal goes through the same checks and, when refused, is kept as a rejected attempt (bounded).
  const makers = [input.proposer, input.implementer ?? input.proposer];
  const decider = (by: string, kind: DecisionKind, what: string): string | null => {
    const policy = trust.policy!;
    if (makers.includes(by)) return `${by} ${by === input.proposer ? 'proposed' : 'implemented'} this change and cannot ${what} (maker-checker)`;
    if (!mayDecide(policy, by, kind)) return `${by} holds none of the roles ${policy.decisionRoles[kind].join(', ')} needed to ${what}`;
    return null;
  };
  const str = (x: unknown, min = 1) => typeof x === 'string' && x.trim().length >= min;
  const destructiveProblem = (a: Record<string, unknown>, by: string): string | null => {
    if (record.status !== 'awaiting-destructive-approval') return `this deployment is ${record.status}, not waiting for a destructive-migration approval`;
    const d = decider(by, 'destructiveMigration', 'approve its destructive migration');
    if (d) return d;
    if (a.backupConfirmed !== true) return 'backupConfirmed must be true: confirm the verified backup of this deployment (§6.2)';
    if (!str(a.rollbackPlan, 10)) return 'rollbackPlan must describe how this change is rolled back (§6.2), at least 10 characters';
    if (!record.backup) return 'no verified backup of this deployment yet';
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
    record.rejectedAttempts.push({ message, reason, at: now() });
    if (record.rejectedAttempts.length > 20) record.rejectedAttempts.splice(0, record.rejectedAttempts.length - 20);
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
  const recordDecision = async (kind: AuditEventKind, by: string, decision: Record<string, unknown>, payload: SignedAction) => {
    try {
      await auditLog.appendAuditEvent.executeWithOptions({ summary: `audit: ${kind} by ${by}` }, [
        { eventId: `${record.workflowId}:decision:${++decisionSeq}`, subject: input.changeId, kind, actor: by, at: now(), details: { workflowId: record.workflowId, commit: record.commit ?? null, ...decision, statement: payload.statement, signature: payload.signature } },
      ]);
    } catch (err) {
      log.error('audit append failed', { kind, error: (err as Error).message });
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
    const judge = (payload: unknown) => {
      const v = trust.verify(payload, { actions: [action], commit: record.commit ?? null });
      if (!('ok' in v)) return { problem: v.reason };
      if (!v.ok) return { problem: `${v.code}: ${v.reason}` };
      const p = problem(v.statement.decision, v.signer);
      return p ? { problem: p } : { v };
    };
    setHandler(update, async (payload) => {
      const r = judge(payload);
      if (r.v) {
        trust.spend(r.v);
        apply(r.v.statement.decision, r.v.signer);
        await recordDecision(KINDS[action]!, r.v.signer, r.v.statement.decision, payload);
      }
      return record;
    }, {
      validator: (payload) => {
        const r = judge(payload);
        if (r.problem) throw ApplicationFailure.nonRetryable(r.problem, 'Rejected');
      },
    });
    setHandler(signal, async (payload) => {
      try {
        const r = judge(payload);
        if (r.problem) reject(action, r.problem);
        else if (r.v) {
          trust.spend(r.v);
          apply(r.v.statement.decision, r.v.signer);
          await recordDecision(KINDS[action]!, r.v.signer, r.v.statement.decision, payload);
        }
      } catch (err) {
        log.error('signal handler failed', { action, error: (err as Error).message });
      }
    });
  }
  setHandler(deploymentStatusQuery, () => record);
  signed('approveDestructiveMigration', approveDestructiveMigrationUpdate, approveDestructiveMigrationSignal, destructiveProblem, applyDestructive);
  signed('decideRestore', decideRestoreUpdate, decideRestoreSignal, restoreProblem, applyRestore);
  signed('completeManualStep', completeManualStepUpdate, completeManualStepSignal, manualProblem, applyManual);
  /** Tells the change (the parent) what this deployment waits for; display only, so a failure is only logged. */
  const tellChange = (p: PendingDecision | null) => {
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

  async function step<T>(name: string, fn: () => Promise<T>, describe?: (r: T) => string): Promise<T> {
    const s: StepRecord = { name, startedAt: now(), outcome: 'running' };
    record.steps.push(s);
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
  let lock: HeldLock | undefined;
  let prepared: PreparedRelease | undefined;
  let plan: MigrationPlan | undefined;
  let migrationsApplied = false;
  let switched = false;
  try {
    lock = await step('wait for the environment lock', () => acquireEnvironmentLock(env, record.workflowId));
    record.status = 'running';
    await trust.load('lock taken'); // the policy now (protected tables added meanwhile count)
    record.policyDigest = trust.digest;
    const current = await activities.readCurrentRelease.executeWithOptions(opts(`read the live release on ${env}`), [{ environment: env }]);
    record.previousReleaseId = current.releaseId === releaseId ? record.previousReleaseId : current.releaseId;

    // Prepare the release beside the live one (no change to what is served).
    prepared = await step('pull the code', () =>
      activities.prepareRelease.executeWithOptions(opts(`fetch ${input.gitRef} into releases/${releaseId}`), [{ environment: env, releaseId, gitRef: input.gitRef }]),
      (r) => `commit ${r.commit.slice(0, 12)}${r.reused ? ' (release dir reused)' : ''}`,
    );
    record.commit = prepared.commit;
    if (/^[0-9a-f]{40}$/.test(input.gitRef) && prepared.commit !== input.gitRef) {
      throw new DeploymentFailed('pull the code', `the host resolved ${prepared.commit}, not the approved commit ${input.gitRef}`);
    }
    const venv = await step('virtualenv and requirements', () =>
      activities.prepareVirtualenv.executeWithOptions(opts('virtualenv for the release requirements'), [{ environment: env, releaseId, requirementsHash: prepared!.requirementsHash }]),
      (r) => (r.installed ? `installed ${r.venv}` : `requirements unchanged, reused ${r.venv}`),
    );
    void venv;
    plan = await step('plan migrations', () =>
      activities.planMigrations.executeWithOptions(opts('plan migrations: the exact SQL (migrate --plan, sqlmigrate)'), [{ environment: env, releaseId }]),
      (r) => `${r.planned.length} pending: ${r.planned.map((m) => `${m.app}.${m.name}${m.irreversible ? ' (irreversible)' : ''}`).join(', ') || 'none'}`,
    );
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
      await activities.removeRelease.executeWithOptions(opts('remove the refused release dir'), [{ environment: env, releaseId }]);
      return await finish();
    }

    // Static files and the verified backup side by side: neither touches what is served.
    const [, backup] = await Promise.all([
      step('collectstatic', () => activities.collectStatic.executeWithOptions(opts('collectstatic into the new release'), [{ environment: env, releaseId }])),
      step('back up the database', () =>
        activities.backupDatabase.executeWithOptions(opts(`pg_dump + pg_restore --list of ${env}`), [{ environment: env, backupId: releaseId }]),
        (b) => `${b.file}, ${b.sizeBytes} bytes, sha256 ${b.sha256.slice(0, 16)}…, ${b.verifiedEntries} entries verified`,
      ),
    ]);
    record.backup = backup;

    if (classification.level === 'destructive') {
      record.status = 'awaiting-destructive-approval';
      pending('approveDestructiveMigration', 'destructiveMigration', `the §6.2 destructive-migration approval (backup confirmed, rollback plan) for: ${gating.slice(0, 5).join('; ') || classification.level}`, `steward migration approve ${input.changeId} --backup-confirmed --rollback-plan "…"`);
      const got = await step(
        'destructive migration: wait for §6.2 approval',
        () => condition(() => destructiveApproval !== undefined, humanTimeout),
        () => `approved for: ${gating.slice(0, 5).join('; ') || classification.level}`,
      );
      decisionTaken();
      if (!got) throw new DeploymentFailed('destructive approval', 'the destructive migration was not approved in time');
      record.status = 'running';
    }

    const invariantsBefore = record.previousReleaseId
      ? await step('financial invariants before', () =>
          activities.readInvariants.executeWithOptions(opts('financial invariants before'), [{ environment: env, releaseId: record.previousReleaseId! }]),
        )
      : null;
    record.invariants = { before: invariantsBefore, differences: [] };

    if (plan.planned.length > 0) {
      if (!record.backup) throw new DeploymentFailed('migrate', 'no verified backup: refusing to migrate (§6.1)');
      migrationsApplied = true; // set first: a migrate that fails half-way must still be reversed
      await step('run migrations', () => activities.runMigrations.executeWithOptions(opts(`migrate ${plan!.planned.length} migration(s)`), [{ environment: env, releaseId }]));
    }
    switched = true;
    await step('switch current', () => activities.switchRelease.executeWithOptions(opts(`switch current to ${releaseId}`), [{ environment: env, releaseId }]));
    const restart = await step('restart gunicorn', () => activities.restartApp.executeWithOptions(opts('graceful restart of Gunicorn'), [{ environment: env, releaseId }]), (r) => r.mode);
    record.restartMode = restart.mode;
    // A module frozen by an open incident stays frozen through a hotfix: the smoke test proves the freeze holds
    // (posting refused) instead of failing on it.
    const frozenModules = patched('smoke-knows-frozen-modules')
      ? await activities.listDisabledModules.executeWithOptions(opts('module flags that are off (frozen by an incident)'), [{ environment: env, releaseId }])
      : [];
    record.smoke = await step('smoke tests', () =>
      smoke.smokeTest.executeWithOptions(opts(input.stagingChecks ? 'smoke + staging checks (§7, §9)' : 'smoke checklist (§9)'), [
        { environment: env, staging: input.stagingChecks, ...(frozenModules.length ? { disabledModules: frozenModules } : {}) },
      ]),
      (s) => `${s.checks.filter((c) => c.ok).length}/${s.checks.length} checks green`,
    );
    if (!record.smoke.ok) {
      const failed = record.smoke.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      throw new DeploymentFailed('smoke tests', `smoke tests failed: ${failed.join('; ')}`);
    }
    const after = await step('financial invariants after', () =>
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
      const tags = await activities.listReleaseTags.executeWithOptions(opts('list release tags'), [{ environment: env }]);
      const version = nextVersion(tags, input.changeType, { hotfix: input.hotfix });
      const tagged = await step('tag the release', () =>
        activities.tagRelease.executeWithOptions(opts(`tag ${version} on ${prepared!.commit.slice(0, 12)}`), [{ environment: env, tag: version, commit: prepared!.commit, changeId: input.changeId }]),
      );
      record.releaseTag = tagged.tag;
    }
    record.status = 'deployed';
    await activities.pruneReleases
      .executeWithOptions(opts('prune old releases'), [{ environment: env, keep: [releaseId, ...(record.previousReleaseId ? [record.previousReleaseId] : [])] }])
      .catch((err) => log.warn('pruning old releases failed', { error: failureMessage(err) }));
    return await finish();
  } catch (err) {
    record.reason = failureMessage(err);
    if (!prepared || (!switched && !migrationsApplied)) {
      // Nothing on the host changed what is served: the live release is untouched.
      record.status = 'rolled-back';
      if (prepared) await activities.removeRelease.executeWithOptions(opts('remove the unused release dir'), [{ environment: env, releaseId }]).catch(() => undefined);
      return await finish();
    }
    await rollback();
    return await finish();
  }

  async function rollback(): Promise<void> {
    record.status = 'rolling-back';
    const planned = plan?.planned ?? [];
    const rb = rollbackPlan({
      changeType: input.changeType,
      migrationsApplied: migrationsApplied ? planned.map((m) => ({ app: m.app, name: m.name, reversible: !m.irreversible })) : [],
      releaseSwitched: switched,
      financialImpact: input.financialImpact,
      previousRelease: record.previousReleaseId ?? undefined,
      featureFlag: input.featureModules?.[0],
    });
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
    for (const s of rb.steps) {
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
          const decided = await condition(() => restoreDecision !== undefined, humanTimeout);
          decisionTaken();
          r.restoreDecision = restoreDecision;
          if (!decided) {
            r.failedCompensations.push({ action: 'restore decision', error: 'no restore decision in time' });
            r.incidentRequired = true;
          } else if (restoreDecision!.restore) {
            await compensate('restore the pre-deployment backup', async () => {
              const res = await activities.restoreDatabase.executeWithOptions(opts('restore the pre-deployment backup (after backing up the current database)'), [
                { environment: env, backupFile: record.backup!.file, preRestoreBackupId: `${releaseId}-pre-restore` },
              ]);
              return `restored ${record.backup!.file}; the database as it was is kept in ${res.preRestoreBackup.file}`;
            });
          }
          record.status = 'rolling-back';
          break;
        }
        case 'switch-to-previous-release':
          if (prev) {
            await compensate('switch to the previous release', async () => {
              await activities.switchRelease.executeWithOptions(opts(`switch current back to ${prev}`), [{ environment: env, releaseId: prev }]);
              return `current → ${prev}`;
            });
          } else {
            r.failedCompensations.push({ action: 'switch to the previous release', error: 'there is no previous release (first deployment): the app stays down' });
          }
          break;
        case 'restart':
          if (prev) {
            await compensate('restart gunicorn', async () => {
              const res = await activities.restartApp.executeWithOptions(opts('restart Gunicorn on the previous release'), [{ environment: env, releaseId: prev }]);
              return res.mode;
            });
          }
          break;
        case 'manual-reversal-steps': {
          record.status = 'awaiting-manual-steps';
          pending('completeManualStep', 'manualStep', 'the manual reversal steps (§10.3.3), ending with the step "all-done"', `steward deployment step ${input.changeId} --step "…" (finally --step all-done)`);
          const done = await condition(() => manualDone, humanTimeout);
          decisionTaken();
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
    if (prev) {
      const disabledModules = r.done.filter((d) => d.ok && d.action.startsWith('disable ')).map((d) => d.action.slice('disable '.length));
      r.smokeAfter = await smoke.smokeTest
        .executeWithOptions(opts('smoke tests of the previous release'), [{ environment: env, staging: false, disabledModules }])
        .catch((err) => ({ ok: false, checks: [{ name: 'smoke', ok: false, ms: 0, detail: failureMessage(err) }], durationMs: 0 }));
      if (!r.smokeAfter.ok) r.failedCompensations.push({ action: 'smoke after rollback', error: 'the previous release is not green' });
    }
    record.status = r.failedCompensations.length ? 'rollback-failed' : 'rolled-back';
    if (r.incidentRequired && env === 'production' && patched('open-incident-on-rollback')) await openIncident(r);
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
    if (lock) await lock.release();
    await condition(allHandlersFinished);
    return record;
  }
}

function failureMessage(err: unknown): string {
  if (err instanceof DeploymentFailed) return err.message;
  const e = err as { message?: string; cause?: { message?: string } };
  return e?.cause?.message ? `${e.message}: ${e.cause.message}` : e?.message ?? String(err);
}
