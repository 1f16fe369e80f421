// changeLifecycle: one change through the playbook's lifecycle (§2), every decision taken by src/domain.
//
// Proposal → Planning → Implementation → Review → Staging Test → Approval → Deployment → Post-Deployment Review
// → completed (hotfix: Proposal → Review → [Staging Test →] Approval → Deployment → Post-Deployment Review →
// Full Review → completed). Planning and Implementation are *recorded* from the proposal: the proposal's
// classification (type, risk and reasons, modules, rollback complexity, tests) is the plan, and its gitRef is
// the implementation submitted for review. Steward does not write the code; it governs it.
//
// Human actions arrive as Updates (validator refuses at once, with the domain's reason) or as Signals with the
// same names (an invalid one is recorded as a rejected attempt and never applied). Deterministic: no I/O here.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { StewardActivities } from '../activities';
import type { AuditActivities, AuditEventKind } from '../activities/audit/api';
import {
  applyApproval,
  applyReview,
  awaitingApprovalFrom,
  evaluateApproval,
  evaluateRejection,
  evaluateReview,
  evaluateWithdrawal,
  initialApprovalState,
  quorumMet,
  requiredSignoffs,
  type ApprovalState,
} from '../domain/approvals';
import { classifyRisk } from '../domain/classification';
import { hotfixEligibility, hotfixRequirements } from '../domain/hotfix';
import { canTransition, isTerminal, postDeploymentReportRequired, type Gate, type Phase } from '../domain/lifecycle';
import { findPerson } from '../domain/policy';
import { deploymentWindow as deploymentWindowImpl } from '../domain/windows';
import { deploymentWorkflowId, type DeploymentInput, type DeploymentRecord, type DestructiveApproval } from './deployment';
import {
  approveSignal,
  approveUpdate,
  forwardDestructiveSignal,
  forwardDestructiveUpdate,
  rejectSignal,
  rejectUpdate,
  SA,
  statusQuery,
  submitPostDeploymentReviewSignal,
  submitPostDeploymentReviewUpdate,
  submitReviewSignal,
  submitReviewUpdate,
  withdrawSignal,
  withdrawUpdate,
  type ApproveInput,
  type ChangeLifecycleInput,
  type ChangeState,
  type PostDeploymentReviewInput,
  type RejectInput,
  type ReviewInput,
  type WithdrawInput,
} from './lifecycle-api';
import { approveProblem, pdrProblem, rejectProblem, reviewProblem, withdrawProblem, type Problem } from './lifecycle-checks';
import { renderDetails } from './lifecycle-details';

export * from './lifecycle-api';

const audit = proxyActivities<AuditActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 4 },
});
const reports = proxyActivities<Pick<StewardActivities, 'writeChangeReport'>>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});

const HOUR = 3_600_000;

export async function changeLifecycle(input: ChangeLifecycleInput): Promise<ChangeState> {
  const { policy, proposal } = input;
  const info = workflowInfo();
  const iso = (ms = Date.now()) => new Date(ms).toISOString();
  const { risk, reasons } = classifyRisk(proposal);
  const hotfix = proposal.hotfixReason !== undefined;
  let approval: ApprovalState = initialApprovalState({ changeId: input.changeId, proposal, risk });
  const state: ChangeState = {
    changeId: input.changeId,
    workflowId: info.workflowId,
    title: proposal.title,
    type: proposal.type,
    risk,
    riskReasons: reasons,
    hotfix,
    proposer: proposal.proposer,
    implementer: proposal.implementer,
    gitRef: proposal.gitRef,
    targetEnvironments: [...proposal.targetEnvironments],
    plan: {
      classification: `${proposal.type}, ${risk} risk${reasons.length ? ` (${reasons.join('; ')})` : ''}`,
      affectedModules: [...proposal.affectedModules],
      rollbackComplexity: proposal.rollbackComplexity,
      tests: proposal.tests,
    },
    phase: 'proposal',
    waitingFor: 'starting',
    requiredSignoffs: requiredSignoffs(approval, policy),
    signoffs: [],
    awaiting: [],
    missing: [],
    deployments: [],
    rejectedAttempts: [],
    history: [],
    reminders: [],
    postDeploymentReportRequired: postDeploymentReportRequired(risk, hotfix),
    auditFailures: [],
    proposedAt: iso(input.proposedAtMs),
  };
  let changed = 0; // bumped by every accepted message: wakes the main loop
  let auditSeq = 0;
  let pendingFullReview: { by: string } | undefined;

  // ---- audit, visibility ----------------------------------------------------------------------------------
  async function record(kind: AuditEventKind, actor: string, details: Record<string, unknown>): Promise<void> {
    const eventId = `${info.workflowId}:${++auditSeq}`;
    try {
      await audit.appendAuditEvent.executeWithOptions({ summary: `audit: ${kind} by ${actor}` }, [
        { eventId, subject: input.changeId, kind, actor, at: iso(), details },
      ]);
    } catch (err) {
      // Recorded in the state (and visible in the Web UI); the change is not silently blocked.
      const msg = `${eventId} (${kind}): ${(err as Error).message}`;
      state.auditFailures.push(msg);
      log.error('audit append failed', { eventId, kind, error: (err as Error).message });
    }
  }

  function refresh(): void {
    const now = Date.now();
    const scope = state.phase === 'review' ? 'reviews' : state.phase === 'approval' ? 'approvals' : null;
    approval = { ...approval, phase: state.phase };
    state.signoffs = approval.signoffs;
    state.awaiting = scope ? awaitingApprovalFrom(approval, policy, now, scope) : [];
    state.missing = scope ? quorumMet(approval, policy, now, scope).missing : [];
    upsertSearchAttributes([
      { key: SA.changePhase, value: state.phase },
      { key: SA.awaitingApprovalFrom, value: state.awaiting.length ? state.awaiting : null },
      ...(state.releaseVersion ? [{ key: SA.releaseVersion, value: state.releaseVersion }] : []),
    ]);
    setCurrentDetails(renderDetails(state));
  }

  function waiting(what: string): void {
    state.waitingFor = what;
    refresh();
  }

  async function transition(to: Phase, by: string, gates: Partial<Record<Gate, boolean>> = {}): Promise<void> {
    const v = canTransition(state.phase, to, { hotfix, gates });
    if (!v.ok) throw ApplicationFailure.nonRetryable(`lifecycle refused ${state.phase} → ${to}: ${v.reason}`, `PolicyViolation:${v.code}`);
    const from = state.phase;
    state.history.push({ from, to, at: iso(), by, reason: v.reason });
    state.phase = to;
    if (isTerminal(to)) state.finishedAt = iso();
    refresh();
    await record('phase-changed', by, { from, to, reason: v.reason });
  }

  // ---- messages -------------------------------------------------------------------------------------------
  const rejected = async (message: string, p: Problem, by: unknown) => {
    const attempt = { message, code: p.code, reason: p.reason, at: iso(), ...(typeof by === 'string' ? { by } : {}) };
    state.rejectedAttempts.push(attempt);
    refresh();
    await record('rejected-attempt', typeof by === 'string' ? by : 'unknown', { message, code: p.code, reason: p.reason });
  };
  const check = (p: Problem | null) => {
    if (p) throw ApplicationFailure.nonRetryable(p.reason, p.code);
  };
  /** Both the Update and the Signal of one message: the same check, the same effect. */
  function both<T>(
    name: string,
    update: UpdateDefinition<ChangeState, [T]>,
    signal: SignalDefinition<[T]>,
    problem: (x: T) => Problem | null,
    apply: (x: T) => Promise<void>,
  ): void {
    setHandler(
      update,
      async (x: T) => {
        await apply(x);
        return state;
      },
      { validator: (x: T) => check(problem(x)) },
    );
    setHandler(signal, async (x: T) => {
      const p = problem(x);
      if (p) await rejected(name, p, (x as { by?: unknown } | null)?.by);
      else await apply(x);
    });
  }

  const now = () => Date.now();
  both<ApproveInput>('approve', approveUpdate, approveSignal, (a) => approveProblem(approval, a, policy, now(), evaluateApproval), async (a) => {
    const r = applyApproval(approval, { by: a.by, role: a.role, comment: a.comment }, policy, now());
    if (!r.ok) return;
    approval = r.state;
    changed++;
    refresh();
    const s = approval.signoffs[approval.signoffs.length - 1]!;
    await record('approved', a.by, { role: s.role, gitRef: s.gitRef, expiresAt: iso(s.expiresAtMs), comment: a.comment ?? null });
  });
  both<ReviewInput>('submitReview', submitReviewUpdate, submitReviewSignal, (r) => {
    if (state.phase === 'full-review') return fullReviewProblem(r);
    return reviewProblem(approval, r, policy, now(), evaluateReview);
  }, async (r) => {
    if (state.phase === 'full-review') {
      pendingFullReview = { by: r.by };
      changed++;
      await record('reviewed', r.by, { mode: r.mode, fullReview: true, comment: r.comment ?? null });
      return;
    }
    const res = applyReview(approval, { by: r.by, mode: r.mode, checklist: r.checklist, comment: r.comment }, policy, now());
    if (!res.ok) return;
    approval = res.state;
    changed++;
    refresh();
    await record('reviewed', r.by, { mode: r.mode, checklist: r.checklist, gitRef: approval.gitRef, comment: r.comment ?? null });
  });
  both<RejectInput>('reject', rejectUpdate, rejectSignal, (r) => rejectProblem(approval, r, policy, evaluateRejection), async (r) => {
    state.rejection = { by: r.by, reason: r.reason.trim(), at: iso() };
    approval = { ...approval, decision: 'rejected' };
    changed++;
    await record('rejected', r.by, { reason: r.reason.trim(), phase: state.phase });
  });
  both<WithdrawInput>('withdraw', withdrawUpdate, withdrawSignal, (w) => withdrawProblem(approval, w, evaluateWithdrawal), async (w) => {
    state.withdrawal = { by: w.by, reason: w.reason.trim(), at: iso() };
    approval = { ...approval, decision: 'withdrawn' };
    changed++;
    await record('withdrawn', w.by, { reason: w.reason.trim(), phase: state.phase });
  });
  both<PostDeploymentReviewInput>(
    'submitPostDeploymentReview',
    submitPostDeploymentReviewUpdate,
    submitPostDeploymentReviewSignal,
    (r) => pdrProblem(state, r, (id) => findPerson(policy, id) !== undefined),
    async (r) => {
      state.postDeploymentReview = {
        by: r.by,
        issuesEncountered: r.issuesEncountered,
        unexpectedBehavior: r.unexpectedBehavior,
        performanceImpact: r.performanceImpact,
        securityImpact: r.securityImpact,
        followUpRequired: r.followUpRequired,
        at: iso(),
      };
      changed++;
      refresh();
    },
  );
  both<DestructiveApproval>(
    'approveDestructiveMigration',
    forwardDestructiveUpdate,
    forwardDestructiveSignal,
    (a) => (state.runningDeployment ? (a && typeof a === 'object' ? null : { code: 'invalid', reason: 'the payload must be an object {approver, backupConfirmed, rollbackPlan}' }) : { code: 'wrong-phase', reason: `no deployment of this change is running (phase ${state.phase})` }),
    async (a) => {
      // The deployment validates it (and records a rejected attempt if it is wrong); see `steward status`.
      await getExternalWorkflowHandle(state.runningDeployment!).signal('approveDestructiveMigration', a);
    },
  );
  setHandler(statusQuery, () => state);

  function fullReviewProblem(r: ReviewInput): Problem | null {
    // The full review of a hotfix (§11.5): a standard review by someone other than the proposer/implementer.
    return reviewProblem({ ...approval, phase: 'review', hotfix: false, risk: 'medium', type: 'cosmetic', signoffs: [] }, { ...r, mode: 'standard' } as ReviewInput, policy, now(), evaluateReview);
  }

  const decided = () => state.rejection !== undefined || state.withdrawal !== undefined;
  async function endDecided(): Promise<ChangeState> {
    if (state.rejection) await transition('rejected', state.rejection.by);
    else if (state.withdrawal) await transition('withdrawn', state.withdrawal.by);
    return finish(state.phase);
  }
  async function finish(outcome: string): Promise<ChangeState> {
    state.outcome = outcome;
    state.waitingFor = 'nothing: the change is finished';
    state.finishedAt ??= iso();
    refresh();
    await condition(allHandlersFinished);
    return state;
  }

  let attempt = 0;
  async function deploy(environment: 'staging' | 'production'): Promise<DeploymentRecord> {
    const childInput: DeploymentInput = {
      changeId: input.changeId,
      environment,
      gitRef: state.gitRef,
      changeType: proposal.type,
      proposer: proposal.proposer,
      attempt: ++attempt,
      hotfix,
      financialImpact: proposal.financialImpact,
      featureModules: proposal.affectedModules,
      declaredBalanceChanges: proposal.declaredBalanceChanges,
      protectedTables: input.protectedTables,
      stagingChecks: environment === 'staging',
      tagRelease: environment === 'production',
      humanDecisionTimeoutMs: input.humanDecisionTimeoutMs,
    };
    const id = deploymentWorkflowId(input.changeId, environment, childInput.attempt);
    state.runningDeployment = id;
    waiting(`the ${environment} deployment ${id}`);
    await record('deployment-started', 'steward', { environment, workflowId: id, gitRef: state.gitRef });
    try {
      const rec = (await executeChild('deployment', {
        workflowId: id,
        args: [childInput],
        staticSummary: `Deploy ${state.gitRef} to ${environment} for ${input.changeId}`,
      })) as DeploymentRecord;
      state.deployments.push(rec);
      return rec;
    } finally {
      state.runningDeployment = undefined;
    }
  }

  // ---- the lifecycle ----------------------------------------------------------------------------------------
  refresh();
  await record('proposed', proposal.proposer, { title: proposal.title, type: proposal.type, risk, reasons, gitRef: proposal.gitRef, hotfix });

  if (hotfix) {
    const elig = hotfixEligibility({ hotfixReason: proposal.hotfixReason, targetEnvironments: proposal.targetEnvironments });
    if (!elig.eligible) {
      state.outcome = `not eligible for the hotfix path: ${elig.reasons.join('; ')}`;
      await transition('rejected', 'steward');
      return finish('rejected');
    }
    await transition('review', 'steward', { hotfixEligible: true });
  } else {
    // The proposal was parsed and classified by the domain (parseProposal, classifyRisk): accepted for planning.
    await transition('planning', 'steward', { proposalAccepted: true });
    await transition('implementation', 'steward'); // the plan = the classification above
    await transition('review', proposal.implementer); // the implementation = proposal.gitRef
  }

  // Review
  waiting('reviews');
  await condition(() => decided() || quorumMet(approval, policy, Date.now(), 'reviews').met);
  if (decided()) return endDecided();

  // Staging Test
  const wantsStaging = proposal.targetEnvironments.includes('staging');
  if (wantsStaging) {
    await transition('staging-test', 'steward', { reviewsComplete: true });
    const rec = await deploy('staging');
    if (rec.status !== 'deployed') {
      // The domain's edge for a failed staging test leads back to implementation: a new proposal (new gitRef) is needed.
      await record(rec.status === 'rollback-failed' ? 'rollback-failed' : 'rolled-back', 'steward', { environment: 'staging', workflowId: rec.workflowId, reason: rec.reason ?? null });
      await transition('implementation', 'steward');
      return finish(`staging-failed: ${rec.reason ?? rec.status}`);
    }
    if (decided()) return endDecided();
    await transition('approval', 'steward', { stagingPassed: true });
  } else {
    await transition('approval', 'steward', { reviewsComplete: true });
  }

  // Approval (+ the production window, re-checked after every wait; approvals may expire meanwhile)
  const reminderMs = Math.max(1000, policy.approvalReminderHours * HOUR);
  for (;;) {
    const q = quorumMet(approval, policy, Date.now(), 'approvals');
    if (decided()) return endDecided();
    if (!q.met) {
      waiting(`approvals: ${q.missing.join(', ')}`);
      const seen = changed;
      const got = await condition(() => changed !== seen || decided(), reminderMs, { summary: `approval reminder every ${policy.approvalReminderHours}h` });
      if (!got) {
        const message = `reminder: ${input.changeId} still needs ${q.missing.join(', ')} (awaiting ${state.awaiting.join(', ') || 'nobody'})`;
        state.reminders.push({ at: iso(), message });
        log.info(message);
        refresh();
      }
      continue;
    }
    const emergencyApproved = hotfix && approval.signoffs.some((s) => s.role === 'emergency-approver');
    const w = deploymentWindowFor(emergencyApproved);
    state.window = { open: w.open, reason: w.reason, ...(w.nextOpeningMs !== undefined ? { nextOpeningAt: iso(w.nextOpeningMs) } : {}) };
    if (w.open) break;
    const until = w.nextOpeningMs ?? Date.now() + 24 * HOUR;
    waiting(`the production window (${w.reason}); opens ${iso(until)}`);
    // A durable timer; withdrawal or rejection still end the wait at once.
    await condition(decided, Math.max(1, until - Date.now()), { summary: `wait for the production window until ${iso(until)}` });
  }
  const emergencyApproved = hotfix && approval.signoffs.some((s) => s.role === 'emergency-approver');
  await transition('deployment', 'steward', hotfix ? { emergencyApproved } : { quorumMet: true });

  // Deployment
  const prod = await deploy('production');
  if (prod.releaseTag) {
    state.releaseVersion = prod.releaseTag;
  }
  if (prod.status !== 'deployed') {
    const failedHard = prod.status === 'rollback-failed' || prod.status === 'refused';
    await record(failedHard ? 'rollback-failed' : 'rolled-back', 'steward', { environment: 'production', workflowId: prod.workflowId, status: prod.status, reason: prod.reason ?? null });
    await transition(failedHard ? 'failed' : 'rolled-back', 'steward');
    await writeReport();
    return finish(state.phase);
  }
  await record('deployed', 'steward', { environment: 'production', workflowId: prod.workflowId, releaseTag: prod.releaseTag ?? null, commit: prod.commit ?? null });
  await transition('post-deployment-review', 'steward', { smokePassed: prod.smoke?.ok === true });

  // Post-Deployment Review (§12)
  if (state.postDeploymentReportRequired) {
    while (!state.postDeploymentReview) {
      waiting('the post-deployment review (steward review … / submitPostDeploymentReview)');
      const got = await condition(() => state.postDeploymentReview !== undefined, reminderMs, { summary: 'post-deployment review reminder' });
      if (!got) {
        const message = `reminder: ${input.changeId} needs its post-deployment review (§12)`;
        state.reminders.push({ at: iso(), message });
        log.info(message);
        refresh();
      }
    }
  }
  await writeReport();
  if (hotfix) {
    await transition('full-review', 'steward', { reportSubmitted: true });
    waiting(`the full review of this hotfix (due within ${policy.hotfixFullReviewDays} days)`);
    if (patched('hotfix-full-review-reminders')) {
      // §11.5: a durable timer per reminder interval until the full review is done; overdue after the due date.
      const dueMs = hotfixRequirements({ type: proposal.type, hotfixReason: proposal.hotfixReason!, dataMigrationRequired: proposal.dataMigrationRequired }, policy, prod.finishedAt ? Date.parse(prod.finishedAt) : Date.now()).fullReviewDueMs;
      waiting(`the full review of this hotfix, due ${iso(dueMs)} (steward review ${input.changeId} --mode standard)`);
      while (pendingFullReview === undefined) {
        const got = await condition(() => pendingFullReview !== undefined, reminderMs, { summary: `full review reminder (due ${iso(dueMs)})` });
        if (!got) {
          const message = `reminder: hotfix ${input.changeId} needs its full review (§11.5), ${Date.now() > dueMs ? 'OVERDUE since' : 'due'} ${iso(dueMs)}`;
          state.reminders.push({ at: iso(), message });
          log.info(message);
          waiting(`the full review of this hotfix, ${Date.now() > dueMs ? 'OVERDUE since' : 'due'} ${iso(dueMs)}`);
        }
      }
    } else {
      await condition(() => pendingFullReview !== undefined);
    }
    state.fullReview = { by: pendingFullReview!.by, at: iso() };
    await transition('completed', pendingFullReview!.by, { fullReviewDone: true });
  } else {
    await transition('completed', state.postDeploymentReview?.by ?? 'steward', { reportSubmitted: true });
  }
  return finish('completed');

  async function writeReport(): Promise<void> {
    const res = await reports.writeChangeReport.executeWithOptions({ summary: `write the post-deployment report of ${input.changeId}` }, [{ changeId: input.changeId, state }]);
    state.reportPath = res.path;
    refresh();
    await record('report', state.postDeploymentReview?.by ?? 'steward', { path: res.path, sha256: res.sha256 });
  }

  function deploymentWindowFor(emergency: boolean) {
    return windowOf(Date.now(), emergency);
  }
  function windowOf(t: number, emergency: boolean) {
    return deploymentWindowImpl(t, policy, { environment: 'production', hotfix, emergencyApproved: emergency });
  }
}

