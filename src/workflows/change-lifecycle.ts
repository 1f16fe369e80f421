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
  CancellationScope,
  CancelledFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  startChild,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { StewardActivities } from '../activities';
import type { AuditActivities, AuditEventKind } from '../activities/audit/api';
import {
  applyApproval,
  applyReview,
  approvalsValidUntil as approvalsValidUntilOf,
  awaitingApprovalFrom,
  emergencyApprovalGiven,
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
import { findPerson, policyDigest, type PolicyConfig } from '../domain/policy';
import { parseProposal, proposalDigest, type Proposal } from '../domain/proposal';
import type { SignedAction, SignedActionName, VerifiedStatement } from '../domain/statement';
import { deploymentWindow as deploymentWindowImpl } from '../domain/windows';
import { ProposalError } from '../domain/errors';
import type { PolicyActivities } from '../contracts/policy';
import { AUDIT_UNAVAILABLE, auditRefusal } from '../contracts/audit';
import { deploymentWorkflowId, type DeploymentInput, type DeploymentRecord } from './deployment';
import { claimedSigner, createTrust, FLOOD_REFUSAL, keepRejected, MAX_KEPT_REJECTED, setSignedHandlers, unexpectedInputFields } from './trust';
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
  deploymentWaitingSignal,
  withdrawSignal,
  withdrawUpdate,
  CHANGE_INPUT_FIELDS,
  CARRIED_STATE_FIELDS,
  type ApproveInput,
  type CarriedStage,
  type CarriedState,
  type ChangeLifecycleInput,
  type ChangeState,
  type PostDeploymentReviewInput,
  type RejectInput,
  type ReviewInput,
  type WithdrawInput,
} from './lifecycle-api';
import { approveProblem, pdrProblem, rejectProblem, reviewProblem, withdrawProblem, type Problem } from './lifecycle-checks';
import { renderDetails } from './lifecycle-details';
import { checkedCarry, MAX_CARRIED_REMINDERS, maxHistoryEvents } from './lifecycle-carry';

export * from './lifecycle-api';

const audit = proxyActivities<AuditActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 4 },
});
const reports = proxyActivities<Pick<StewardActivities, 'writeChangeReport'>>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});

const commits = proxyActivities<Pick<PolicyActivities, 'resolveCommit'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5 },
});

const HOUR = 3_600_000;
/** How many rejected attempts a change keeps in its state and writes to the audit log (a flood cannot grow either). */
const MAX_AUDITED_REJECTED = 100;

/** The statement actions that may open a change: a proposal, a hotfix, or an incident's corrective patch. */
const OPENING_ACTIONS: readonly SignedActionName[] = ['propose', 'hotfix', 'proposeCorrectivePatch'];

/** Refuses a hostile or malformed input at once (the workflow fails, nothing happens). */
function checkedProposal(input: ChangeLifecycleInput): Proposal {
  const extra = unexpectedInputFields(input, CHANGE_INPUT_FIELDS);
  if (extra) throw ApplicationFailure.nonRetryable(`changeLifecycle input refused: ${extra}`, 'BadInput');
  if (typeof input.changeId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(input.changeId)) {
    throw ApplicationFailure.nonRetryable('changeLifecycle input refused: changeId must be letters, digits, ".", "_" or "-"', 'BadInput');
  }
  try {
    // The caller's classification counts for nothing: the proposal is parsed and classified again here.
    return parseProposal(input.proposal);
  } catch (err) {
    const detail = err instanceof ProposalError ? err.issues.map((i) => `${i.field}: ${i.message}`).join('; ') : String(err);
    throw ApplicationFailure.nonRetryable(`changeLifecycle input refused: the proposal is not valid: ${detail}`, 'BadInput');
  }
}

export async function changeLifecycle(input: ChangeLifecycleInput): Promise<ChangeState> {
  const proposal = checkedProposal(input);
  const info = workflowInfo();
  // Continue-as-new (src/workflows/lifecycle-carry.ts): the threshold is checked like any input; a carried state is
  // accepted only on this change's own continue-as-new, and checked again.
  const maxEvents = maxHistoryEvents(input);
  const carried = checkedCarry(input.carried, {
    continuedFromRunId: info.continuedFromExecutionRunId,
    proposer: proposal.proposer,
    wantsStaging: proposal.targetEnvironments.includes('staging'),
    hotfix: proposal.hotfixReason !== undefined,
  });
  // Behind patched(): a run recorded before continue-as-new existed replays as it ran (it never rolls over).
  const canRollOver = patched('change-continue-as-new');
  const iso = (ms = Date.now()) => new Date(ms).toISOString();
  // An incident's corrective patch is signed for the incident; the parent (set by the server, not by a caller)
  // says which workflow the opening statement must name.
  // (Only an incident parent counts: a replay may report an empty parent.)
  const byIncident = info.parent?.workflowId?.startsWith('incident-') === true;
  const opener = byIncident ? { subject: info.parent!.workflowId.replace(/^incident-/, ''), workflowId: info.parent!.workflowId } : { subject: input.changeId, workflowId: info.workflowId };
  const trust = createTrust(input.changeId, info.workflowId, carried ? { ...carried.trust } : undefined);
  const openerTrust = byIncident ? createTrust(opener.subject, opener.workflowId) : trust;
  // Set by the first load, before any message counts (a continued run has the carried one until it loads again).
  let policy: PolicyConfig = trust.policy as PolicyConfig;
  const { risk, reasons } = classifyRisk(proposal);
  const hotfix = proposal.hotfixReason !== undefined;
  let approval: ApprovalState = initialApprovalState({ changeId: input.changeId, proposal, risk });
  // A continued run: the signoffs (bound to the pinned commit, each with its absolute expiry) on the derived state.
  if (carried) approval = { ...approval, phase: carried.state.phase, gitRef: carried.state.commit!, signoffs: carried.signoffs };
  const state: ChangeState = {
    changeId: input.changeId,
    workflowId: info.workflowId,
    proposalDigest: proposalDigest(proposal),
    refMoves: [],
    rejectedAttemptCount: 0,
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
    requiredSignoffs: [],
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
  // The dynamic part of a continued change; the rest was derived again above from the proposal.
  if (carried) {
    Object.assign(state, carried.state);
    state.requiredSignoffs = requiredSignoffs(approval, policy);
  }
  let auditSeq = carried?.auditSeq ?? 0;
  let pendingFullReview: { by: string } | undefined;

  // ---- audit, visibility ----------------------------------------------------------------------------------
  /** Returns the append's error (also kept in auditFailures), or null once the event is in the audit log. */
  async function record(kind: AuditEventKind, actor: string, details: Record<string, unknown>): Promise<string | null> {
    const eventId = `${info.workflowId}:${++auditSeq}`;
    try {
      await audit.appendAuditEvent.executeWithOptions({ summary: `audit: ${kind} by ${actor}` }, [
        { eventId, subject: input.changeId, kind, actor, at: iso(), details },
      ]);
      return null;
    } catch (err) {
      // Recorded in the state (and visible in the Web UI); the change is not silently blocked.
      const e = err as { message?: string; cause?: { message?: string } };
      const why = e.cause?.message ? `${e.message}: ${e.cause.message}` : String(e.message);
      const msg = `${eventId} (${kind}): ${why}`;
      state.auditFailures.push(msg);
      if (state.auditFailures.length > MAX_KEPT_REJECTED) state.auditFailures.splice(0, state.auditFailures.length - MAX_KEPT_REJECTED);
      log.error('audit append failed', { eventId, kind, error: why });
      return why;
    }
  }

  let lastUpserted = '';
  function refresh(): void {
    if (!policy) return;
    const now = Date.now();
    const scope = state.phase === 'review' ? 'reviews' : state.phase === 'approval' ? 'approvals' : null;
    approval = { ...approval, phase: state.phase };
    state.signoffs = approval.signoffs;
    state.awaiting = scope ? awaitingApprovalFrom(approval, policy, now, scope) : [];
    state.missing = scope ? quorumMet(approval, policy, now, scope).missing : [];
    const attrs = [
      { key: SA.changePhase, value: state.phase },
      { key: SA.awaitingApprovalFrom, value: state.awaiting.length ? state.awaiting : null },
      ...(state.releaseVersion ? [{ key: SA.releaseVersion, value: state.releaseVersion }] : []),
      ...(state.policyDigest ? [{ key: SA.policyDigest, value: state.policyDigest }] : []),
    ];
    // Upsert only what changed: no history event for an unchanged value (and none for a refresh that changes nothing).
    const key = JSON.stringify(attrs.map((a) => [a.key.name, a.value]));
    if (key !== lastUpserted) {
      lastUpserted = key;
      upsertSearchAttributes(attrs);
    }
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
  // Every human message is a SignedAction. Its signer (the owner of the key in the worker's policy) is `by`; the
  // statement's decision holds the other fields. Refusals by the Update validator reach the caller at once; a
  // refused Signal is recorded as a rejected attempt (bounded), never applied. Handlers never throw.
  const rejected = async (message: string, p: Problem, payload: unknown) => {
    const claimed = claimedSigner(payload);
    state.rejectedAttemptCount++;
    keepRejected(state.rejectedAttempts, { message, code: p.code, reason: p.reason, at: iso(), ...(claimed ? { by: `${claimed} (unverified)` } : {}) });
    // In a flood the details are redrawn every 100th attempt, not at each (the work of one task stays small).
    if (p !== FLOOD_REFUSAL || state.rejectedAttemptCount % 100 === 0) refresh();
    if (state.rejectedAttemptCount <= MAX_AUDITED_REJECTED) {
      await record('rejected-attempt', 'unknown', { message, code: p.code, reason: p.reason, claimedSigner: claimed ?? null, count: state.rejectedAttemptCount });
    }
  };
  const check = (p: Problem | null) => {
    if (p) throw ApplicationFailure.nonRetryable(p.reason, p.code);
  };
  /** What a human message is about: this change, at its commit, for this proposal. */
  const expectFor = (action: SignedActionName) => ({ actions: [action], commit: state.commit ?? null, proposalDigest: state.proposalDigest });
  /** Both the Update and the Signal of one message (src/workflows/trust.ts): verified, then checked, then applied. */
  function both<T>(
    name: SignedActionName,
    update: UpdateDefinition<ChangeState, [SignedAction]>,
    signal: SignalDefinition<[SignedAction]>,
    problem: (x: T) => Problem | null,
    apply: (x: T, v: VerifiedStatement, payload: SignedAction) => Promise<void>,
  ): void {
    setSignedHandlers<ChangeState, T>(trust, {
      name,
      update,
      signal,
      judge: (payload) => {
        if (!state.commit && name !== 'withdraw' && name !== 'reject') return { code: 'not-ready', reason: 'the change is still resolving its ref to a commit; try again in a moment' };
        const v = trust.verify(payload, expectFor(name));
        if (!('ok' in v)) return v;
        if (!v.ok) return { code: v.code, reason: v.reason };
        const x = { ...v.statement.decision, by: v.signer } as unknown as T;
        return problem(x) ?? { x, v };
      },
      apply,
      result: () => state,
      rejected: (p, payload) => rejected(name, p, payload),
      refusedSignals: () => state.rejectedAttemptCount,
    });
  }
  const signedBy = (payload: SignedAction) => ({ statement: payload.statement, signature: payload.signature });

  const now = () => Date.now();
  both<ApproveInput>('approve', approveUpdate, approveSignal, (a) => approveProblem(approval, a, policy, now(), evaluateApproval), async (a, _v, payload) => {
    const r = applyApproval(approval, { by: a.by, role: a.role, comment: a.comment }, policy, now());
    if (!r.ok) return;
    if (patched('audit-before-apply')) {
      // Fail-closed: the approval counts only once the audit log holds it.
      const s = r.state.signoffs[r.state.signoffs.length - 1]!;
      const failed = await record('approved', a.by, { role: s.role, commit: s.gitRef, gitRef: state.gitRef, expiresAt: iso(s.expiresAtMs), comment: a.comment ?? null, ...signedBy(payload) });
      if (failed) throw ApplicationFailure.nonRetryable(auditRefusal(`the approval by ${a.by}`, failed), AUDIT_UNAVAILABLE);
      // Applied to the state as it is now (another message may have changed it while the append ran).
      const again = applyApproval(approval, { by: a.by, role: a.role, comment: a.comment }, policy, now());
      if (!again.ok) return;
      approval = again.state;
      changed++;
      refresh();
      return;
    }
    approval = r.state;
    changed++;
    refresh();
    const s = approval.signoffs[approval.signoffs.length - 1]!;
    await record('approved', a.by, { role: s.role, commit: s.gitRef, gitRef: state.gitRef, expiresAt: iso(s.expiresAtMs), comment: a.comment ?? null, ...signedBy(payload) });
  });
  both<ReviewInput>('submitReview', submitReviewUpdate, submitReviewSignal, (r) => {
    if (state.phase === 'full-review') return fullReviewProblem(r);
    return reviewProblem(approval, r, policy, now(), evaluateReview);
  }, async (r, _v, payload) => {
    if (state.phase === 'full-review') {
      pendingFullReview = { by: r.by };
      changed++;
      await record('reviewed', r.by, { mode: r.mode, fullReview: true, comment: r.comment ?? null, ...signedBy(payload) });
      return;
    }
    const res = applyReview(approval, { by: r.by, mode: r.mode, checklist: r.checklist, comment: r.comment }, policy, now());
    if (!res.ok) return;
    approval = res.state;
    changed++;
    refresh();
    await record('reviewed', r.by, { mode: r.mode, checklist: r.checklist, commit: approval.gitRef, gitRef: state.gitRef, comment: r.comment ?? null, ...signedBy(payload) });
  });
  both<RejectInput>('reject', rejectUpdate, rejectSignal, (r) => rejectProblem(approval, r, policy, evaluateRejection), async (r, _v, payload) => {
    state.rejection = { by: r.by, reason: r.reason.trim(), at: iso() };
    approval = { ...approval, decision: 'rejected' };
    changed++;
    await record('rejected', r.by, { reason: r.reason.trim(), phase: state.phase, ...signedBy(payload) });
  });
  both<WithdrawInput>('withdraw', withdrawUpdate, withdrawSignal, (w) => withdrawProblem(approval, w, evaluateWithdrawal), async (w, _v, payload) => {
    state.withdrawal = { by: w.by, reason: w.reason.trim(), at: iso() };
    approval = { ...approval, decision: 'withdrawn' };
    changed++;
    await record('withdrawn', w.by, { reason: w.reason.trim(), phase: state.phase, ...signedBy(payload) });
  });
  both<PostDeploymentReviewInput>(
    'submitPostDeploymentReview',
    submitPostDeploymentReviewUpdate,
    submitPostDeploymentReviewSignal,
    (r) => pdrProblem(state, r, (id) => findPerson(policy, id) !== undefined),
    async (r, _v, payload) => {
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
      await record('reviewed', r.by, { postDeploymentReview: true, ...signedBy(payload) });
    },
  );
  // The §6.2 approval is the running deployment's to judge (its statement names the deployment's workflow id):
  // forwarded as is, the deployment verifies it and records a rejected attempt if it is wrong.
  const forwardProblem = (a: unknown): Problem | null =>
    !state.runningDeployment
      ? { code: 'wrong-phase', reason: `no deployment of this change is running (phase ${state.phase})` }
      : a && typeof a === 'object' ? null : { code: 'unsigned', reason: 'the payload must be a signed action {statement, signature}' };
  setHandler(forwardDestructiveUpdate, async (a: SignedAction) => {
    await getExternalWorkflowHandle(state.runningDeployment!).signal('approveDestructiveMigration', a);
    return state;
  }, { validator: (a: SignedAction) => check(forwardProblem(a)) });
  setHandler(forwardDestructiveSignal, async (a: SignedAction) => {
    try {
      const p = forwardProblem(a);
      if (p) await rejected('approveDestructiveMigration', p, a);
      else await getExternalWorkflowHandle(state.runningDeployment!).signal('approveDestructiveMigration', a);
    } catch (err) {
      log.error('forwarding the destructive-migration approval failed', { error: (err as Error).message });
    }
  });
  // Display only (it decides nothing): what the running deployment waits for and who may give it, so the change's
  // status and Web UI details say more than "waiting for the deployment".
  setHandler(deploymentWaitingSignal, (d) => {
    if (!state.runningDeployment) return;
    if (d && typeof d === 'object' && 'lock' in d) {
      // The deployment waits for the environment lock: say who holds it.
      const l = d.lock && typeof d.lock === 'object' ? d.lock : undefined;
      const holder = typeof l?.holder === 'string' ? l.holder.slice(0, 200) : null;
      const position = Number(l?.position) || 0;
      state.deploymentLockWait = { environment: String(l?.environment ?? '').slice(0, 40), holder, position };
      state.deploymentDecision = undefined;
      state.waitingFor = `the deployment ${state.runningDeployment}, which waits for the ${state.deploymentLockWait.environment} deployment lock, held by ${holder ?? '(nobody: about to be granted)'}${position > 1 ? ` (${position} in line)` : ''}`;
      refresh();
      return;
    }
    state.deploymentLockWait = undefined;
    const ok = d && typeof d === 'object' && typeof d.what === 'string' && Array.isArray(d.roles) && d.what.length < 500;
    state.deploymentDecision = ok ? { action: String(d.action), what: d.what, roles: d.roles.map(String).slice(0, 10), notBy: (Array.isArray(d.notBy) ? d.notBy : []).map(String).slice(0, 10), command: String(d.command).slice(0, 300) } : undefined;
    state.waitingFor = state.deploymentDecision
      ? `the deployment ${state.runningDeployment}, which waits for ${state.deploymentDecision.what} — by ${state.deploymentDecision.roles.join(' or ')} (not ${state.deploymentDecision.notBy.join(', ')}): ${state.deploymentDecision.command}`
      : `the deployment ${state.runningDeployment}`;
    refresh();
  });
  setHandler(statusQuery, () => state);

  /** The policy at a gate: the worker's policy now, and the stricter of it and the one at start applies. */
  async function loadPolicy(gate: string): Promise<void> {
    const changedDigest = await trust.load(gate);
    if (byIncident && !carried && openerTrust !== trust && !openerTrust.policy) await openerTrust.load(gate);
    policy = trust.policy!;
    state.policyDigestAtStart ??= trust.startDigest;
    state.policyDigest = trust.digest;
    state.requiredSignoffs = requiredSignoffs(approval, policy);
    refresh();
    if (changedDigest) await record('policy-changed', 'steward', { gate, from: changedDigest.from, to: changedDigest.to, effective: policyDigest(policy) });
  }

  /** Resolves the ref to the commit the change is about; at review entry and again at each later gate. */
  async function resolveRef(gate: string): Promise<string> {
    const env = proposal.targetEnvironments[0]!;
    const r = await commits.resolveCommit.executeWithOptions({ summary: `resolve ${state.gitRef} to a commit (${gate})` }, [{ environment: env, gitRef: state.gitRef }]);
    return r.commit;
  }

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

  async function pinCommit(commit: string): Promise<void> {
    state.commit = commit;
    approval = { ...approval, gitRef: commit }; // signoffs bind to the commit, not the ref's name
    refresh();
    await record('commit-resolved', 'steward', { gitRef: state.gitRef, commit });
  }
  async function refMoved(to: string, effect: string): Promise<void> {
    const move = { gitRef: state.gitRef, from: state.commit!, to, at: iso(), effect };
    state.refMoves.push(move);
    refresh();
    await record('ref-moved', 'steward', { ...move });
  }

  let attempt = carried?.attempt ?? 0;
  async function deploy(environment: 'staging' | 'production'): Promise<DeploymentRecord> {
    const childInput: DeploymentInput = {
      changeId: input.changeId,
      environment,
      gitRef: state.commit!,
      changeType: proposal.type,
      proposer: proposal.proposer,
      implementer: proposal.implementer,
      attempt: ++attempt,
      hotfix,
      financialImpact: proposal.financialImpact,
      featureModules: proposal.affectedModules,
      declaredBalanceChanges: proposal.declaredBalanceChanges,
      stagingChecks: environment === 'staging',
      tagRelease: environment === 'production',
      humanDecisionTimeoutMs: input.humanDecisionTimeoutMs,
    };
    const id = deploymentWorkflowId(input.changeId, environment, childInput.attempt);
    state.runningDeployment = id;
    waiting(`the ${environment} deployment ${id}`);
    if (patched('audit-before-apply')) {
      // Fail-closed: the deployment starts only once its start is in the audit log; while the store is down it is held.
      for (let failed = await record('deployment-started', 'steward', { environment, workflowId: id, gitRef: state.gitRef }); failed; ) {
        waiting(`the audit store, to record the start of the ${environment} deployment ${id} (it cannot start unrecorded): ${failed.slice(0, 200)}`);
        await sleep('30 seconds');
        failed = await record('deployment-started', 'steward', { environment, workflowId: id, gitRef: state.gitRef });
      }
      waiting(`the ${environment} deployment ${id}`);
    } else {
      await record('deployment-started', 'steward', { environment, workflowId: id, gitRef: state.gitRef });
    }
    const summary = `Deploy ${state.gitRef} to ${environment} for ${input.changeId}`;
    try {
      if (!patched('deployment-abandon-on-close')) {
        const rec = (await executeChild('deployment', { workflowId: id, args: [childInput], staticSummary: summary })) as DeploymentRecord;
        state.deployments.push(rec);
        return rec;
      }
      // The deployment outlives a terminate of the change (ABANDON: it finishes or rolls back on its own). A cancel
      // of the change is passed on: the deployment stops starting steps, rolls back, and the change records how it
      // ended before it ends itself.
      if (environment === 'production') {
        childInput.approvalsValidUntilMs = approvalsValidUntil();
        childInput.emergencyApproved = emergencyApprovalGiven(approval);
      }
      const root = CancellationScope.current();
      const child = await CancellationScope.nonCancellable(() =>
        startChild('deployment', { workflowId: id, args: [childInput], staticSummary: summary, parentClosePolicy: ParentClosePolicy.ABANDON }),
      );
      let cancelled = false;
      const rec = await CancellationScope.nonCancellable(async () => {
        const first = await Promise.race([child.result(), root.cancelRequested.then(() => null, () => null)]);
        if (first !== null) return first as DeploymentRecord;
        cancelled = true;
        waiting(`the ${environment} deployment ${id} to finish or roll back (the change was cancelled)`);
        await getExternalWorkflowHandle(id, child.firstExecutionRunId).cancel().catch((err: unknown) => log.warn('could not pass the cancellation on to the deployment', { error: (err as Error).message }));
        return (await child.result()) as DeploymentRecord;
      });
      state.deployments.push(rec);
      if (cancelled) await CancellationScope.nonCancellable(() => endCancelled(environment, rec));
      return rec;
    } finally {
      state.runningDeployment = undefined;
      state.deploymentDecision = undefined;
      state.deploymentLockWait = undefined;
    }
  }

  /** The instant at which the approvals stop making the quorum (an approval expires), or undefined. */
  function approvalsValidUntil(): number | undefined {
    return approvalsValidUntilOf(approval, policy, Date.now());
  }

  /** The change was cancelled while a deployment ran: that deployment has finished or rolled back; say how, then end. */
  async function endCancelled(environment: string, rec: DeploymentRecord): Promise<never> {
    state.cancelled = { at: iso(), deployment: rec.workflowId, status: rec.status, ...(rec.reason ? { reason: rec.reason } : {}) };
    state.outcome = `cancelled: the ${environment} deployment ${rec.workflowId} ended ${rec.status}${rec.reason ? ` (${rec.reason})` : ''}`;
    await record('deployment-cancelled', 'unknown', { environment, workflowId: rec.workflowId, status: rec.status, reason: rec.reason ?? null, releaseTag: rec.releaseTag ?? null });
    const to: Phase | null = rec.status === 'deployed' ? null : environment === 'staging' ? 'implementation' : rec.status === 'rolled-back' ? 'rolled-back' : 'failed';
    if (to && canTransition(state.phase, to, { hotfix, gates: {} }).ok) await transition(to, 'steward');
    state.waitingFor = 'nothing: the change was cancelled';
    state.finishedAt ??= iso();
    refresh();
    throw new CancelledFailure(`the change was cancelled; ${state.outcome}`);
  }

  // ---- continue-as-new ---------------------------------------------------------------------------------------
  // At a wait for people only (never while a deployment runs or the main path awaits an activity), with every
  // message handler finished, the change continues as new and carries everything that decides it.
  let nextReminderAtMs: number | undefined = carried?.nextReminderAtMs;
  let fullReviewDueMs: number | undefined = carried?.fullReviewDueMs;
  /** Whether this run's history is long enough to roll over: the server suggests it, or the change's threshold. */
  const rollOverDue = () => canRollOver && (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= maxEvents);
  /** Continues as new when due; returns when it is not, or when a message came in meanwhile (the caller looks again). */
  async function rollOverIfDue(stage: CarriedStage): Promise<void> {
    if (!rollOverDue()) return;
    const seen = changed;
    await condition(allHandlersFinished);
    if (changed !== seen || decided()) return;
    const trustCarry = trust.carry();
    if (!trustCarry) return;
    const kept = Object.fromEntries(CARRIED_STATE_FIELDS.filter((k) => state[k] !== undefined).map((k) => [k, state[k]])) as unknown as CarriedState;
    // Reminders are notices, not decisions: the last ones go on (a change waiting for months must fit one payload).
    kept.reminders = state.reminders.slice(-MAX_CARRIED_REMINDERS);
    log.info('the change continues as new', { stage, historyLength: workflowInfo().historyLength, threshold: maxEvents });
    await continueAsNew<typeof changeLifecycle>({
      ...input,
      carried: {
        version: 1,
        stage,
        state: kept,
        signoffs: approval.signoffs,
        trust: trustCarry,
        auditSeq,
        attempt,
        ...(nextReminderAtMs !== undefined ? { nextReminderAtMs } : {}),
        ...(stage === 'full-review' ? { fullReviewDueMs } : {}),
      },
    });
  }
  /** The wait until the next reminder: absolute once rollovers exist, so a continued run keeps the time. */
  function reminderWait(): number {
    if (!canRollOver) return reminderMs;
    const t = Date.now();
    if (nextReminderAtMs === undefined || nextReminderAtMs <= t) nextReminderAtMs = t + reminderMs;
    return Math.max(1, nextReminderAtMs - t);
  }

  // ---- the lifecycle ----------------------------------------------------------------------------------------
  const resume = carried?.stage;
  let reminderMs = 0;
  let prod: DeploymentRecord | undefined;
  // A continued run shows its carried state at once (status, Web UI details), then loads the worker's policy again.
  if (resume) refresh();
  await loadPolicy(resume ? 'continue-as-new' : 'start');
  if (!resume) {
    // The proposer's own signature over this proposal (and nobody else's) opens the change.
    const opening = openerTrust.verify(input.signedProposal, { actions: OPENING_ACTIONS, commit: null, proposalDigest: state.proposalDigest, anyPolicy: true });
    const openingProblem = !('ok' in opening) ? opening : !opening.ok ? opening : opening.signer !== proposal.proposer ? { code: 'signer-mismatch', reason: `the proposal names ${proposal.proposer} as proposer but is signed by ${opening.signer}` } : (hotfix && opening.statement.action === 'propose') ? { code: 'wrong-action', reason: 'a hotfix must be signed as a hotfix (steward hotfix FILE)' } : null;
    if (openingProblem) {
      await record('rejected-attempt', 'unknown', { message: 'propose', code: openingProblem.code, reason: openingProblem.reason });
      await transition('rejected', 'steward');
      return finish(`refused: the proposal's signature does not hold (${openingProblem.code}): ${openingProblem.reason}`);
    }
    refresh();
    await record('proposed', proposal.proposer, { title: proposal.title, type: proposal.type, risk, reasons, gitRef: proposal.gitRef, hotfix, proposalDigest: state.proposalDigest, policyDigest: state.policyDigest ?? null, ...signedBy(input.signedProposal) });

    if (hotfix) {
      const elig = hotfixEligibility({ hotfixReason: proposal.hotfixReason, targetEnvironments: proposal.targetEnvironments });
      if (!elig.eligible) {
        state.outcome = `not eligible for the hotfix path: ${elig.reasons.join('; ')}`;
        await transition('rejected', 'steward');
        return finish('rejected');
      }
      await pinCommit(await resolveRef('review'));
      await transition('review', 'steward', { hotfixEligible: true });
    } else {
      // The proposal was parsed and classified by the domain (parseProposal, classifyRisk): accepted for planning.
      await transition('planning', 'steward', { proposalAccepted: true });
      await transition('implementation', 'steward'); // the plan = the classification above
      // The ref is resolved to the commit everyone signs for before review starts.
      await pinCommit(await resolveRef('review'));
      await transition('review', proposal.implementer); // the implementation = proposal.gitRef, at state.commit
    }
  } else {
    // A continued run picks the change up at the wait where the last run rolled over.
    reminderMs = Math.max(1000, policy.approvalReminderHours * HOUR);
    refresh();
  }

  const wantsStaging = proposal.targetEnvironments.includes('staging');
  if (!resume || resume === 'review') {
    // Review: while in review, a moved ref re-pins the change and the reviews given for the old commit stop counting
    // (they are bound to it).
    for (;;) {
      waiting('reviews');
      if (!quorumMet(approval, policy, Date.now(), 'reviews').met) await rollOverIfDue('review');
      await condition(() => decided() || quorumMet(approval, policy, Date.now(), 'reviews').met || rollOverDue());
      if (decided()) return endDecided();
      if (!quorumMet(approval, policy, Date.now(), 'reviews').met) continue; // woken to roll over
      await loadPolicy('review');
      const now = await resolveRef('review complete');
      if (now !== state.commit) {
        await refMoved(now, 'the change now points at the new commit; the reviews given for the old one no longer count');
        await pinCommit(now);
        continue;
      }
      if (quorumMet(approval, policy, Date.now(), 'reviews').met) break;
    }

    // Staging Test
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
  }

  if (resume !== 'post-deployment-review' && resume !== 'full-review') {
    // Approval (+ the production window, re-checked after every wait; approvals may expire meanwhile)
    reminderMs = Math.max(1000, policy.approvalReminderHours * HOUR);
    let gateChecked = false;
    for (;;) {
      const q = quorumMet(approval, policy, Date.now(), 'approvals');
      if (decided()) return endDecided();
      if (!q.met) {
        waiting(`approvals: ${q.missing.join(', ')}`);
        await rollOverIfDue('approval');
        const seen = changed;
        const got = await condition(() => changed !== seen || decided() || rollOverDue(), reminderWait(), { summary: `approval reminder every ${policy.approvalReminderHours}h` });
        if (!got) {
          const message = `reminder: ${input.changeId} still needs ${q.missing.join(', ')} (awaiting ${state.awaiting.join(', ') || 'nobody'})`;
          state.reminders.push({ at: iso(), message });
          log.info(message);
          refresh();
        }
        continue;
      }
      if (!gateChecked) {
        // The approval gate: the policy now (a person who left, a freeze added) and the ref, before anything deploys.
        gateChecked = true;
        await loadPolicy('approval');
        const now = await resolveRef('approval');
        if (now !== state.commit) await refMoved(now, `production gets ${state.commit}, the commit reviewed${wantsStaging ? ' and staged' : ''}; approvals for ${now} are refused (propose a new change for it)`);
        continue;
      }
      const emergencyApproved = emergencyApprovalGiven(approval);
      const w = deploymentWindowFor(emergencyApproved);
      state.window = { open: w.open, reason: w.reason, ...(w.nextOpeningMs !== undefined ? { nextOpeningAt: iso(w.nextOpeningMs) } : {}) };
      if (w.open) break;
      const until = w.nextOpeningMs ?? Date.now() + 24 * HOUR;
      waiting(`the production window (${w.reason}); opens ${iso(until)}`);
      await rollOverIfDue('approval');
      // A durable timer; withdrawal or rejection still end the wait at once.
      const woke = await condition(() => decided() || rollOverDue(), Math.max(1, until - Date.now()), { summary: `wait for the production window until ${iso(until)}` });
      if (woke && !decided()) continue; // to roll over (a continued run checks the gate and the window again)
      gateChecked = false; // after a wait, the policy and the ref are checked again
    }
    nextReminderAtMs = undefined;
    const emergencyApproved = emergencyApprovalGiven(approval);
    await transition('deployment', 'steward', hotfix ? { emergencyApproved } : { quorumMet: true });

    // Deployment: production deploys exactly the commit that staging passed.
    const staged = state.deployments.find((d) => d.environment === 'staging' && d.status === 'deployed');
    if (staged && staged.commit !== state.commit) {
      state.outcome = `refused: staging passed ${staged.commit ?? '(unknown)'} but the change is at ${state.commit}`;
      await transition('failed', 'steward');
      return finish(state.phase);
    }
    prod = await deploy('production');
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
  }

  if (resume !== 'full-review') {
    // Post-Deployment Review (§12)
    if (state.postDeploymentReportRequired) {
      while (!state.postDeploymentReview) {
        waiting('the post-deployment review (steward review … / submitPostDeploymentReview)');
        await rollOverIfDue('post-deployment-review');
        const got = await condition(() => state.postDeploymentReview !== undefined || rollOverDue(), reminderWait(), { summary: 'post-deployment review reminder' });
        if (!got) {
          const message = `reminder: ${input.changeId} needs its post-deployment review (§12)`;
          state.reminders.push({ at: iso(), message });
          log.info(message);
          refresh();
        }
      }
      nextReminderAtMs = undefined;
    }
    await writeReport();
  }
  if (hotfix) {
    if (resume !== 'full-review') {
      // Say what the change waits for before the phase shows (the transition's audit append is awaited in between).
      state.waitingFor = `the full review of this hotfix (due within ${policy.hotfixFullReviewDays} days)`;
      await transition('full-review', 'steward', { reportSubmitted: true });
      waiting(`the full review of this hotfix (due within ${policy.hotfixFullReviewDays} days)`);
    }
    if (patched('hotfix-full-review-reminders')) {
      // §11.5: a durable timer per reminder interval until the full review is done; overdue after the due date.
      const production = prod ?? [...state.deployments].reverse().find((d) => d.environment === 'production');
      fullReviewDueMs ??= hotfixRequirements({ type: proposal.type, hotfixReason: proposal.hotfixReason!, dataMigrationRequired: proposal.dataMigrationRequired }, policy, production?.finishedAt ? Date.parse(production.finishedAt) : Date.now()).fullReviewDueMs;
      const dueMs = fullReviewDueMs;
      waiting(`the full review of this hotfix, due ${iso(dueMs)} (steward review ${input.changeId} --mode standard)`);
      while (pendingFullReview === undefined) {
        await rollOverIfDue('full-review');
        const got = await condition(() => pendingFullReview !== undefined || rollOverDue(), reminderWait(), { summary: `full review reminder (due ${iso(dueMs)})` });
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


