// incidentResponse: playbook §13 as a durable workflow, optionally opened by a failed financial deployment.
//
// 1 freeze the affected module (flag off; maintenance mode when critical) → 2 preserve logs (evidence archive
// with a sha256) → 3 scope (recordScope) → 4 restore if necessary (decideRestore: two distinct deciders agree;
// the current database is backed up before any restore) → 5 findings (recordFindings) → 6 corrective patch
// (a child changeLifecycle on the hotfix path, or a linked change; followed until deployed and approved)
// → 7 unfreeze on closeIncident → 8 the audit report and an `incident-closed` audit event.
//
// Human actions are Updates (validators refuse at once) and Signals with the same names (an invalid Signal is
// recorded as a rejected attempt, never applied). Deterministic: every I/O is an activity.
import {
  ApplicationFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { StewardActivities } from '../activities';
import type { AuditActivities, AuditEventKind, AuditRow } from '../activities/audit/api';
import type { ChangeProgress } from '../activities/incident';
import { classifyRisk } from '../domain/classification';
import { parseProposal, proposalDigest } from '../domain/proposal';
import { digestOf } from '../domain/canonical';
import type { SignedAction, SignedActionName, VerifiedStatement } from '../domain/statement';
import { createTrust, FLOOD_REFUSAL, keepRejected, setSignedHandlers, unexpectedInputFields } from './trust';
import type { DeploymentRecord } from './deployment';
import {
  INCIDENT_STEPS,
  closeIncidentSignal,
  closeIncidentUpdate,
  decideRestoreSignal,
  decideRestoreUpdate,
  incidentStatusQuery,
  linkCorrectivePatchSignal,
  linkCorrectivePatchUpdate,
  proposeCorrectivePatchSignal,
  proposeCorrectivePatchUpdate,
  recordFindingsSignal,
  recordFindingsUpdate,
  recordScopeSignal,
  recordScopeUpdate,
  type CloseInput,
  type FindingsInput,
  INCIDENT_INPUT_FIELDS,
  incidentReportOf,
  type IncidentInput,
  type IncidentState,
  type IncidentStep,
  type IncidentStepName,
  type LinkPatchInput,
  type ProposePatchInput,
  type RestoreVote,
  type ScopeInput,
} from './incident-api';
import { closeProblem, findingsProblem, linkProblem, proposePatchProblem, restoreAgreement, restoreProblem, scopeProblem, type Problem } from './incident-checks';
import { renderIncidentDetails } from './incident-details';
import { changeMakers, changeWorkflowId, SA, type ChangeLifecycleInput } from './lifecycle-api';

export * from './incident-api';

const host = proxyActivities<StewardActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});
const audit = proxyActivities<AuditActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '5 seconds', maximumAttempts: 4 },
});
/** Following a corrective change may take days: a long activity that heartbeats, retried without limit. */
const follow = proxyActivities<StewardActivities>({
  startToCloseTimeout: '30 days',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute' },
});

const DAY = 24 * 3_600_000;

export async function incidentResponse(input: IncidentInput): Promise<IncidentState> {
  const extra = unexpectedInputFields(input, INCIDENT_INPUT_FIELDS);
  if (extra) throw ApplicationFailure.nonRetryable(`incidentResponse input refused: ${extra}`, 'BadInput');
  const info = workflowInfo();
  const iso = (ms = Date.now()) => new Date(ms).toISOString();
  const actor = `steward:${input.incidentId}`;
  const state: IncidentState = {
    incidentId: input.incidentId,
    workflowId: info.workflowId,
    environment: input.environment,
    affectedModule: input.affectedModule,
    affects: [...input.affects],
    severity: input.severity,
    description: input.description,
    openedBy: input.openedBy,
    openedAt: iso(input.openedAtMs),
    ...(input.changeId ? { changeId: input.changeId } : {}),
    ...(input.deployment?.workflowId || input.deploymentWorkflowId ? { deploymentWorkflowId: input.deployment?.workflowId ?? input.deploymentWorkflowId } : {}),
    step: 'freeze',
    waitingFor: 'starting',
    steps: INCIDENT_STEPS.map((name) => ({ name, status: 'pending' })),
    frozen: false,
    maintenance: false,
    scopeHistory: [],
    restoreVotes: [],
    patches: [],
    rejectedAttempts: [],
    reminders: [],
    auditFailures: [],
  };
  const trust = createTrust(input.incidentId, info.workflowId);
  let deployment: DeploymentRecord | null = input.deployment ?? null;
  let auditSeq = 0;
  let patchSeq = 0;
  const reminderMs = Math.max(1000, input.reminderMs ?? DAY);
  const defaultBackup = () => deployment?.backup?.file;

  // ---- audit, visibility ----------------------------------------------------------------------------------
  async function record(kind: AuditEventKind, by: string, details: Record<string, unknown>): Promise<void> {
    const eventId = `${info.workflowId}:${++auditSeq}`;
    try {
      await audit.appendAuditEvent.executeWithOptions({ summary: `audit: ${kind} by ${by}` }, [
        { eventId, subject: input.incidentId, kind, actor: by, at: iso(), details: { incidentId: input.incidentId, ...details } },
      ]);
    } catch (err) {
      state.auditFailures.push(`${eventId} (${kind}): ${(err as Error).message}`);
      log.error('audit append failed', { eventId, kind, error: (err as Error).message });
    }
  }
  function refresh(): void {
    upsertSearchAttributes([
      { key: SA.changeId, value: input.incidentId },
      { key: SA.changePhase, value: state.step },
      { key: SA.targetEnvironment, value: input.environment },
      { key: SA.awaitingApprovalFrom, value: state.step === 'restore' && !state.restoreDecision ? ['approver', 'auditor', 'emergency-approver'] : null },
    ]);
    setCurrentDetails(renderIncidentDetails(state));
  }
  const stepOf = (name: IncidentStepName): IncidentStep => state.steps.find((s) => s.name === name)!;
  function begin(name: IncidentStepName, status: 'running' | 'waiting', waitingFor: string): void {
    const s = stepOf(name);
    s.status = status;
    s.startedAt ??= iso();
    state.step = name;
    state.waitingFor = waitingFor;
    refresh();
  }
  async function end(name: IncidentStepName, status: 'done' | 'failed' | 'skipped', by: string, detail: string): Promise<void> {
    const s = stepOf(name);
    Object.assign(s, { status, by, detail, finishedAt: iso() });
    refresh();
    await record('incident-step', by, { step: name, status, detail });
  }
  /** Waits for a person, with a durable reminder timer that shows in the Web UI. */
  async function waitFor(pred: () => boolean, what: string): Promise<void> {
    while (!pred()) {
      const got = await condition(pred, reminderMs, { summary: `incident reminder: ${what}` });
      if (!got) {
        const message = `reminder: incident ${input.incidentId} is waiting for ${what}`;
        state.reminders.push({ at: iso(), message });
        log.info(message);
        refresh();
      }
    }
  }

  // ---- messages -------------------------------------------------------------------------------------------
  /**
   * Every incident action is a signed statement (DESIGN "Trust model"): `by` is the owner of the signing key in the
   * worker's policy, the other fields are the statement's decision. Refused Signals are kept as rejected attempts
   * (the last 20, with a count); handlers never throw.
   */
  let rejectedCount = 0;
  function both<T>(name: string, action: SignedActionName, update: UpdateDefinition<IncidentState, [SignedAction]>, signal: SignalDefinition<[SignedAction]>, problem: (x: T, v: VerifiedStatement) => Problem | null, apply: (x: T, v: VerifiedStatement, payload: SignedAction) => Promise<void>): void {
    setSignedHandlers<IncidentState, T>(trust, {
      name,
      update,
      signal,
      judge: (payload) => {
        const v = trust.verify(payload, { actions: [action] });
        if (!('ok' in v)) return v;
        if (!v.ok) return { code: v.code, reason: v.reason };
        const x = { ...v.statement.decision, by: v.signer } as unknown as T;
        return problem(x, v) ?? { x, v };
      },
      apply,
      result: () => state,
      rejected: async (r) => {
        rejectedCount++;
        keepRejected(state.rejectedAttempts, { message: name, code: r.code, reason: r.reason, at: iso() });
        if (r !== FLOOD_REFUSAL || rejectedCount % 100 === 0) refresh();
        if (rejectedCount <= 100) await record('rejected-attempt', 'unknown', { message: name, code: r.code, reason: r.reason, count: rejectedCount });
      },
      refusedSignals: () => rejectedCount,
    });
  }
  setHandler(incidentStatusQuery, () => state);
  both<ScopeInput>('recordScope', 'recordScope', recordScopeUpdate, recordScopeSignal, (s) => scopeProblem(state, trust.policy, s), async (s, _v, signed) => {
    const scope = { by: s.by, tenants: [...s.tenants], accounts: [...s.accounts], from: s.from, to: s.to, ...(s.notes ? { notes: s.notes } : {}), at: iso() };
    state.scope = scope;
    state.scopeHistory.push(scope);
    refresh();
    await record('incident-step', s.by, { message: 'recordScope', tenants: scope.tenants, accounts: scope.accounts, from: scope.from, to: scope.to, ...signed });
  });
  both<RestoreVote>('decideRestore', 'decideIncidentRestore', decideRestoreUpdate, decideRestoreSignal, (v) => restoreProblem(state, trust.policy, v, defaultBackup()), async (v, _s, signed) => {
    const backupFile = v.restore ? v.backupFile || defaultBackup() : undefined;
    state.restoreVotes.push({ by: v.by, restore: v.restore, reason: v.reason.trim(), at: iso(), ...(backupFile ? { backupFile } : {}) });
    const agreed = restoreAgreement(state.restoreVotes);
    if (agreed) {
      const reasons = state.restoreVotes.filter((x) => agreed.by.includes(x.by)).map((x) => `${x.by}: ${x.reason}`);
      state.restoreDecision = { ...agreed, reason: reasons.join('; '), at: iso() };
    }
    refresh();
    await record('incident-step', v.by, { message: 'decideRestore', restore: v.restore, backupFile: backupFile ?? null, reason: v.reason.trim(), decided: !!agreed, ...signed });
  });
  both<FindingsInput>('recordFindings', 'recordFindings', recordFindingsUpdate, recordFindingsSignal, (f) => findingsProblem(state, trust.policy, f), async (f, _v, signed) => {
    state.findings = { by: f.by, summary: f.summary.trim(), rootCause: f.rootCause.trim(), at: iso() };
    refresh();
    await record('incident-step', f.by, { message: 'recordFindings', ...signed });
  });
  both<LinkPatchInput>('linkCorrectivePatch', 'linkCorrectivePatch', linkCorrectivePatchUpdate, linkCorrectivePatchSignal, (l) => linkProblem(state, trust.policy, l), async (l, _v, signed) => {
    state.patches.push({ changeId: l.changeId, workflowId: changeWorkflowId(l.changeId), linkedBy: l.by, linkedAt: iso(), started: false });
    refresh();
    await record('incident-step', l.by, { message: 'linkCorrectivePatch', changeId: l.changeId, ...signed });
  });
  both<ProposePatchInput>('proposeCorrectivePatch', 'proposeCorrectivePatch', proposeCorrectivePatchUpdate, proposeCorrectivePatchSignal, (p, v) => {
    const bad = proposePatchProblem(state, trust.policy, p);
    if (bad) return bad;
    const proposal = parseProposal(p.proposal);
    if (proposal.proposer !== p.by) return { code: 'signer-mismatch', reason: `the patch names ${proposal.proposer} as proposer but is signed by ${p.by}` };
    if (v.statement.proposalDigest !== proposalDigest(proposal)) return { code: 'wrong-proposal', reason: 'the statement is about another version of the patch proposal (its digest differs)' };
    return null;
  }, async (p, _v, signed) => {
    const proposal = parseProposal(p.proposal);
    const changeId = p.changeId ?? `${input.incidentId}-FIX-${++patchSeq}`;
    const { risk } = classifyRisk(proposal);
    // The child verifies the same signed statement itself (it names this incident's workflow as its parent).
    const childInput: ChangeLifecycleInput = { changeId, proposal, proposedAtMs: Date.now(), signedProposal: signed };
    const entry = { changeId, workflowId: changeWorkflowId(changeId), linkedBy: p.by, linkedAt: iso(), started: true };
    state.patches.push(entry);
    try {
      // ABANDON: the hotfix goes on (to its full review) whatever happens to the incident.
      await startChild('changeLifecycle', {
        workflowId: entry.workflowId,
        args: [childInput],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `Hotfix for incident ${input.incidentId}: ${proposal.title}`,
        typedSearchAttributes: [
          { key: SA.changeId, value: changeId },
          { key: SA.changeType, value: proposal.type },
          { key: SA.riskLevel, value: risk },
          { key: SA.changePhase, value: 'proposal' },
          { key: SA.targetEnvironment, value: 'production' },
          { key: SA.changeMakers, value: changeMakers(proposal) },
        ],
      });
    } catch (err) {
      (entry as { outcome?: string }).outcome = `could not start: ${(err as Error).message}`;
      refresh();
      await record('incident-step', p.by, { message: 'proposeCorrectivePatch', changeId, error: `could not start: ${(err as Error).message}`, ...signed });
      return;
    }
    refresh();
    await record('incident-step', p.by, { message: 'proposeCorrectivePatch', changeId, title: proposal.title, gitRef: proposal.gitRef, hotfixReason: proposal.hotfixReason ?? null, ...signed });
  });
  both<CloseInput>('closeIncident', 'closeIncident', closeIncidentUpdate, closeIncidentSignal, (c) => closeProblem(state, trust.policy, c), async (c, _v, signed) => {
    state.closure = { by: c.by, summary: c.summary.trim(), at: iso() };
    refresh();
    await record('incident-step', c.by, { message: 'closeIncident', ...signed });
  });

  // ---- the response -----------------------------------------------------------------------------------------
  refresh();
  await trust.load('incident opened');
  state.policyDigest = trust.digest;
  // Opened by a deployment (the server names it as parent: no caller can fake that) or by a person's signature.
  const byDeployment = info.parent?.workflowId.startsWith('deploy-') === true;
  if (!byDeployment) {
    const v = trust.verify(input.signedOpening, { actions: ['openIncident'], proposalDigest: digestOf(incidentReportOf(input)), anyPolicy: true });
    const problem = !('ok' in v) ? v : !v.ok ? v : v.signer !== input.openedBy ? { code: 'signer-mismatch', reason: `the incident names ${input.openedBy} as opener but is signed by ${v.signer}` } : null;
    if (problem) {
      await record('rejected-attempt', 'unknown', { message: 'openIncident', code: problem.code, reason: problem.reason });
      throw ApplicationFailure.nonRetryable(`incident not opened: the opening statement does not hold (${problem.code}): ${problem.reason}`, 'Unsigned');
    }
    trust.spend(v as VerifiedStatement);
  }
  await record('incident-opened', input.openedBy, {
    environment: input.environment,
    severity: input.severity,
    affects: input.affects,
    affectedModule: input.affectedModule,
    description: input.description,
    changeId: input.changeId ?? null,
    deployment: state.deploymentWorkflowId ?? null,
  });

  // 1. Freeze at once.
  begin('freeze', 'running', `freezing ${input.affectedModule} on ${input.environment}`);
  await freeze(`incident ${input.incidentId}: ${input.description}`.slice(0, 200), 'freeze');

  // 2. Preserve logs.
  begin('preserve-logs', 'running', 'the evidence archive');
  try {
    if (!deployment && input.deploymentWorkflowId) {
      deployment = await host.fetchDeploymentRecord.executeWithOptions({ summary: `fetch the deployment record ${input.deploymentWorkflowId}` }, [{ workflowId: input.deploymentWorkflowId }]);
    }
    const auditRows: AuditRow[] = [];
    for (const subject of [input.changeId, input.incidentId]) {
      if (!subject) continue;
      auditRows.push(...(await audit.listAuditEvents.executeWithOptions({ summary: `read the audit rows of ${subject}` }, [{ subject }])));
    }
    const ev = await host.preserveEvidence.executeWithOptions({ summary: `evidence archive (logs, deployment record, ${auditRows.length} audit rows) on ${input.environment}` }, [
      { environment: input.environment, incidentId: input.incidentId, deployment, auditRows, incident: { ...input, policy: undefined, deployment: undefined } },
    ]);
    state.evidence = ev;
    await end('preserve-logs', 'done', 'steward', `${ev.archive} (${ev.sizeBytes} bytes, sha256 ${ev.sha256}${ev.reused ? ', already archived' : ''})`);
  } catch (err) {
    await end('preserve-logs', 'failed', 'steward', failureMessage(err));
  }

  // 3. Identify scope.
  begin('scope', 'waiting', 'the scope (steward incident scope / recordScope)');
  await waitFor(() => state.scope !== undefined, 'the scope');
  await end('scope', 'done', state.scope!.by, `tenants ${state.scope!.tenants.join(', ') || 'none'}; accounts ${state.scope!.accounts.join(', ') || 'none'}; ${state.scope!.from} → ${state.scope!.to}`);

  // 4. Restore if necessary: two distinct deciders agree.
  begin('restore', 'waiting', 'a restore decision agreed by two distinct approvers (decideRestore)');
  await trust.load('restore decision'); // a gate: a person who left, a role removed count at once
  await waitFor(() => state.restoreDecision !== undefined, 'two agreeing restore decisions');
  const decision = state.restoreDecision!;
  if (!decision.restore) {
    await end('restore', 'skipped', decision.by.join(' + '), `no restore: ${decision.reason}`);
  } else {
    begin('restore', 'running', `restoring ${decision.backupFile}`);
    try {
      const res = await host.restoreDatabase.executeWithOptions({ summary: `restore ${decision.backupFile} (after backing up the current database)` }, [
        { environment: input.environment, backupFile: decision.backupFile!, preRestoreBackupId: `${input.incidentId}-pre-restore` },
      ]);
      state.restore = { backupFile: decision.backupFile!, preRestoreBackup: res.preRestoreBackup.file, preRestoreSha256: res.preRestoreBackup.sha256, at: iso() };
      await end('restore', 'done', decision.by.join(' + '), `restored ${decision.backupFile}; the database as it was is kept in ${res.preRestoreBackup.file}`);
      // The flags live in the database: the restored one may have the module on again. Freeze it again.
      await freeze(`incident ${input.incidentId}: re-freeze after the restore`, 'restore');
    } catch (err) {
      await end('restore', 'failed', decision.by.join(' + '), failureMessage(err));
    }
  }

  // 5. Document findings.
  begin('findings', 'waiting', 'the findings (steward incident findings / recordFindings)');
  await waitFor(() => state.findings !== undefined, 'the findings');
  await end('findings', 'done', state.findings!.by, `${state.findings!.summary} — root cause: ${state.findings!.rootCause}`);

  // 6. Corrective patch.
  if (state.maintenance) {
    // The hotfix must pass its smoke test: the app comes out of maintenance; the module stays frozen.
    await host.setMaintenance.executeWithOptions({ summary: 'maintenance off for the hotfix smoke test (module stays frozen)' }, [
      { environment: input.environment, on: false, reason: `incident ${input.incidentId}: hotfix`, actor },
    ]);
    state.maintenance = false;
    await record('incident-step', 'steward', { step: 'corrective-patch', message: 'maintenance mode off for the hotfix; the module stays frozen' });
  }
  let deployedPatch: ChangeProgress | undefined;
  while (!deployedPatch) {
    begin('corrective-patch', 'waiting', 'a corrective patch (steward hotfix FILE --incident ID, or linkCorrectivePatch)');
    await waitFor(() => state.patches.some((p) => p.outcome === undefined), 'a corrective patch on the hotfix path');
    const patch = state.patches.find((p) => p.outcome === undefined)!;
    begin('corrective-patch', 'running', `the corrective patch ${patch.changeId} to be deployed and approved`);
    patch.phase = 'following';
    const progress = await follow.awaitChangeDeployed.executeWithOptions({ summary: `wait until ${patch.changeId} is deployed to production` }, [{ changeId: patch.changeId }]);
    patch.phase = progress.phase;
    if (progress.deployed) {
      Object.assign(patch, { releaseVersion: progress.releaseVersion, emergencyApprovedBy: progress.emergencyApprovedBy, deployedAt: progress.deployedAt ?? iso(), outcome: `deployed (${progress.phase})` });
      deployedPatch = progress;
      await end('corrective-patch', 'done', patch.linkedBy, `${patch.changeId} deployed ${progress.releaseVersion ?? ''}; approved by ${progress.approvedBy.join(', ') || '—'}`);
    } else {
      patch.outcome = `ended without a production deployment: ${progress.outcome ?? progress.phase}`;
      refresh();
      await record('incident-step', 'steward', { step: 'corrective-patch', changeId: patch.changeId, outcome: patch.outcome });
    }
  }

  // 7. Unfreeze only after the patch is deployed and approved, when a decider closes the incident.
  begin('unfreeze', 'waiting', 'closeIncident (steward incident close)');
  await trust.load('closure');
  await waitFor(() => state.closure !== undefined, 'the closure');
  begin('unfreeze', 'running', `unfreezing ${input.affectedModule}`);
  try {
    const unfrozen = await host.setModuleFrozen.executeWithOptions({ summary: `unfreeze ${input.affectedModule} on ${input.environment}` }, [
      { environment: input.environment, module: input.affectedModule, frozen: false, reason: `incident ${input.incidentId} closed: ${state.closure!.summary}`.slice(0, 200), actor },
    ]);
    state.frozen = false;
    if (state.maintenance) {
      await host.setMaintenance.executeWithOptions({ summary: 'maintenance off' }, [{ environment: input.environment, on: false, reason: `incident ${input.incidentId} closed`, actor }]);
      state.maintenance = false;
    }
    if (unfrozen.limit) noteLimit(unfrozen.limit);
    await end('unfreeze', 'done', state.closure!.by, unfrozen.limit ? `not done by Steward: ${unfrozen.limit}` : `${input.affectedModule} on again after ${deployedPatch.changeId}`);
  } catch (err) {
    await end('unfreeze', 'failed', state.closure!.by, failureMessage(err));
  }

  // 8. The audit report.
  begin('audit-report', 'running', 'the audit report');
  stepOf('audit-report').status = 'done';
  stepOf('audit-report').by = 'steward';
  stepOf('audit-report').finishedAt = iso();
  state.step = 'closed';
  state.finishedAt = iso();
  const report = await host.writeIncidentReport.executeWithOptions({ summary: `write the audit report of ${input.incidentId}` }, [{ incidentId: input.incidentId, state }]);
  state.reportPath = report.path;
  state.reportSha256 = report.sha256;
  stepOf('audit-report').detail = `${report.path} (sha256 ${report.sha256})`;
  state.waitingFor = 'nothing: the incident is closed';
  refresh();
  await record('incident-closed', state.closure!.by, { summary: state.closure!.summary, report: report.path, sha256: report.sha256, patch: deployedPatch.changeId });
  await condition(allHandlersFinished);
  return state;

  function noteLimit(limit: string): void {
    state.limits = [...new Set([...(state.limits ?? []), limit])];
  }

  async function freeze(reason: string, stepName: IncidentStepName): Promise<void> {
    try {
      const f = await host.setModuleFrozen.executeWithOptions({ summary: `freeze ${input.affectedModule} on ${input.environment} (flag off)` }, [
        { environment: input.environment, module: input.affectedModule, frozen: true, reason, actor },
      ]);
      // An app whose contract declares a hook absent: the step says what could not be done (never silent).
      if (f.limit) noteLimit(f.limit);
      state.frozen = !f.limit;
      let maintenanceLimit: string | undefined;
      if (input.severity === 'critical') {
        const m = await host.setMaintenance.executeWithOptions({ summary: `maintenance mode on ${input.environment} (critical incident)` }, [{ environment: input.environment, on: true, reason, actor }]);
        if (m.limit) noteLimit((maintenanceLimit = m.limit));
        state.maintenance = m.maintenance;
      }
      if (stepName === 'freeze' && f.limit) await end('freeze', 'failed', 'steward', [f.limit, maintenanceLimit].filter(Boolean).join('; '));
      else if (stepName === 'freeze') await end('freeze', 'done', 'steward', `${input.affectedModule} off${state.maintenance ? ', maintenance mode on' : ''} on ${input.environment}${maintenanceLimit ? ` (${maintenanceLimit})` : ''}`);
      else await record('incident-step', 'steward', { step: stepName, message: `${input.affectedModule} frozen again${state.maintenance ? ', maintenance on' : ''}` });
    } catch (err) {
      // Recorded and visible; the response goes on (people see the failed freeze in the checklist).
      if (stepName === 'freeze') await end('freeze', 'failed', 'steward', failureMessage(err));
      else await record('incident-step', 'steward', { step: stepName, message: `re-freeze failed: ${failureMessage(err)}` });
    }
  }
}

function failureMessage(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return e?.cause?.message ? `${e.message}: ${e.cause.message}` : e?.message ?? String(err);
}
