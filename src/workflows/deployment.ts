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
import { combineSmoke, rolloutBatches, type Fleet, type FleetHost, type HostDeployment } from '../contracts/fleet';
import type { PreparedRelease } from '../activities/deployment/release';
import type { SmokeResult } from '../activities/http/smoke';
import { classifyMigrationSql, type MigrationClassification } from '../domain/migrations';
import { describeFindings, judgeMigrations } from '../domain/migration-facts';
import { compareInvariants, type DeclaredBalanceChange, type InvariantDifference, type InvariantSnapshot } from '../domain/invariants';
import { codeBeforeMigrations, rollbackPlan, type RollbackPlan } from '../domain/rollback';
import { nextVersion } from '../domain/semver';
import { gitRefProblem } from '../domain/gitref';
import { mayDecide, type DecisionKind } from '../domain/policy';
import type { SignedAction, SignedActionName } from '../domain/statement';
import { createTrust, unexpectedInputFields } from './trust';
import type { ChangeType } from '../domain/types';
import { renderDeploymentDetails } from './deployment-details';
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
  /** Each host's part, in the rolling order (deployments since hosts were named; see the fleet-deploy patch). */
  hosts?: HostDeployment[];
  /** What the playbook cannot do for this app (hooks the app contract declares absent). */
  limits?: string[];
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
  try {
    lock = await step('wait for the environment lock', () => acquireEnvironmentLock(env, record.workflowId));
    record.status = 'running';
    await trust.load('lock taken'); // the policy now (protected tables added meanwhile count)
    record.policyDigest = trust.digest;
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

    const backupStep = () =>
      step('back up the database', () =>
        activities.backupDatabase.executeWithOptions(opts(`pg_dump + pg_restore --list of ${env}`), [{ environment: env, backupId: releaseId }]),
        (b) => `${b.file}, ${b.sizeBytes} bytes, sha256 ${b.sha256.slice(0, 16)}…, ${b.verifiedEntries} entries verified`,
      );
    if (noInvariants) skipped('financial invariants before', 'the app declares no invariants hook');
    const invariantsBeforeStep = () =>
      record.previousReleaseId && !noInvariants
        ? step('financial invariants before', () =>
            activities.readInvariants.executeWithOptions(opts('financial invariants before'), [{ environment: env, releaseId: record.previousReleaseId! }]),
          )
        : Promise.resolve(null);
    // The critical window opens with the backup. Both reads beside each other (neither writes); a destructive migration
    // waits for its approval (of this backup) before the invariants are read, as before.
    let invariantsBefore: InvariantSnapshot | null | undefined;
    if (early) {
      const [backup, inv] = await Promise.all([backupStep(), classification.level === 'destructive' ? Promise.resolve(undefined) : invariantsBeforeStep()]);
      record.backup = backup;
      invariantsBefore = inv;
    } else {
      // Static files and the verified backup side by side: neither touches what is served.
      const [, backup] = await Promise.all([settleAll(hosts.filter((h) => h.web).map((h) => collectStep(h))), backupStep()]);
      record.backup = backup;
    }

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

    if (invariantsBefore === undefined) invariantsBefore = await invariantsBeforeStep();
    record.invariants = { before: invariantsBefore, differences: [] };

    if (plan.planned.length > 0) {
      if (!record.backup) throw new DeploymentFailed('migrate', 'no verified backup: refusing to migrate (§6.1)');
      migrationsApplied = true; // set first: a migrate that fails half-way must still be reversed
      await step('run migrations', () => activities.runMigrations.executeWithOptions(opts(`migrate ${plan!.planned.length} migration(s)`), [{ environment: env, releaseId }]));
    }
    switched = true;
    // Host by host (or in the configured batches): each batch is switched, restarted and smoke-tested before the
    // next one is touched, so a failure leaves the rest of the fleet on the previous release.
    let frozenModules: string[] | undefined = flagsBefore;
    const smokeResults: { host: string; result: SmokeResult }[] = [];
    for (const batch of fleet ? rolloutBatches(hosts, fleet.batchSize) : [hosts]) {
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
      const tags = await activities.listReleaseTags.executeWithOptions(opts('list release tags'), [{ environment: env }]);
      const version = nextVersion(tags, input.changeType, { hotfix: input.hotfix });
      const tagged = await step('tag the release', () =>
        activities.tagRelease.executeWithOptions(opts(`tag ${version} on ${prepared!.commit.slice(0, 12)}`), [{ environment: env, tag: version, commit: prepared!.commit, changeId: input.changeId }]),
      );
      record.releaseTag = tagged.tag;
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
      record.status = 'rolled-back';
      await settleAll(
        preparedHosts.map((h) => activities.removeRelease.executeWithOptions(opts(label('remove the unused release dir', h)), [{ environment: env, ...onHostArg(h), releaseId }]).catch(() => undefined)),
      );
      return await finish();
    }
    await rollback();
    return await finish();
  }

  async function rollback(): Promise<void> {
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
