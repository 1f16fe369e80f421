// incidentResponse against a real local Temporal (TestWorkflowEnvironment.createLocal with the built temporal
// binary), mocked activities, the real workflow bundle (a proposed hotfix starts the real changeLifecycle child).
import assert from 'node:assert/strict';
import { saveHistory } from '../helpers/histories';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, DefaultLogger, Runtime } from '@temporalio/worker';
import { preloadModules } from '../../src/workers/worker';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { defaultPolicy, type PolicyConfig } from '../../src/domain';
import { ensureTemporalCli } from '../../src/dev/tools';
import { SEARCH_ATTRIBUTES } from '../../src/dev/temporal';
import { digestOf } from '../../src/domain/canonical';
import { policyDigest } from '../../src/domain/policy';
import { proposalDigest, parseProposal } from '../../src/domain/proposal';
import type { SignedActionName } from '../../src/domain/statement';
import { commitOf, signAs, testPeople } from '../helpers/signing';
import type { AuditEvent } from '../../src/activities/audit/api';
import { renderIncidentReport, type ChangeProgress } from '../../src/activities/incident';
import { renderChangeReport } from '../../src/activities/reports';
import type { DeploymentRecord } from '../../src/workflows/deployment';
import { incidentReportOf, incidentWorkflowId, type IncidentInput, type IncidentState } from '../../src/workflows/incident-api';
import type { ChangeState } from '../../src/workflows/lifecycle-api';
import { describeIncident } from '../../src/client/incident';
import { hookLimits } from '../../src/contracts/fleet';

const TQ = 'incident-test';
const audit: AuditEvent[] = [];
const calls: { name: string; args: Record<string, unknown> }[] = [];
const reports = new Map<string, string>();
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let n = 0;

function policy(): PolicyConfig {
  const p = defaultPolicy({ people: testPeople() as never });
  return { ...p, windows: { ...p.windows, blackout: [] } };
}

const deploymentRecord = {
  workflowId: 'deploy-CHG-1-production-1',
  changeId: 'CHG-1',
  environment: 'production',
  releaseId: 'CHG-1-production-1',
  gitRef: 'r05-silent-balance',
  previousReleaseId: 'CHG-0-production-1',
  status: 'rolled-back',
  startedAt: '2026-11-25T10:00:00.000Z',
  steps: [],
  backup: { file: '/srv/backups/CHG-1-production-1.dump', sizeBytes: 10, sha256: 'ab', verifiedEntries: 3, durationMs: 1, reused: false },
  rejectedAttempts: [],
} as unknown as DeploymentRecord;

async function open(client: Client, over: Partial<IncidentInput> = {}) {
  const incidentId = `INC-T${process.pid}-${++n}`;
  const input: IncidentInput = {
    incidentId,
    environment: 'production',
    affectedModule: 'posting',
    affects: ['gl-balances'],
    severity: 'high',
    description: 'deposits booked rounded to whole units',
    openedBy: 'bob',
    openedAtMs: Date.now(),
    changeId: 'CHG-1',
    deployment: deploymentRecord,
    reminderMs: 60_000,
    ...over,
  };
  const workflowId = incidentWorkflowId(incidentId);
  // Opened by a person (not by a deployment): the opener signs the incident report.
  input.signedOpening = signAs(input.openedBy, 'openIncident', { subject: incidentId, workflowId, proposalDigest: digestOf(incidentReportOf(input)) });
  return client.workflow.start('incidentResponse', { taskQueue: TQ, workflowId, args: [input] });
}

const ACTIONS: Record<string, SignedActionName> = { recordScope: 'recordScope', decideRestore: 'decideIncidentRestore', recordFindings: 'recordFindings', linkCorrectivePatch: 'linkCorrectivePatch', proposeCorrectivePatch: 'proposeCorrectivePatch', closeIncident: 'closeIncident' };
type Handle = Awaited<ReturnType<typeof open>>;
/** The decision signed by its `by` (as the CLI would), about the incident as it is now. */
async function signedFor(h: Handle, name: string, x: Record<string, unknown>) {
  const { by, ...decision } = x as { by: string; proposal?: unknown };
  const s = (await h.query('status')) as IncidentState;
  const prop = name === 'proposeCorrectivePatch' ? (() => { try { return proposalDigest(parseProposal(decision.proposal)); } catch { return null; } })() : null;
  return signAs(by, ACTIONS[name]!, { subject: s.incidentId, workflowId: s.workflowId, proposalDigest: prop, policyDigest: s.policyDigest }, decision);
}
const act = async (h: Handle, name: string, x: Record<string, unknown>) => h.executeUpdate(name, { args: [await signedFor(h, name, x)] });

const status = async (h: { query: (q: string) => Promise<unknown> }) => (await h.query('status')) as IncidentState;
async function until(h: { query: (q: string) => Promise<unknown> }, pred: (s: IncidentState) => boolean, ms = 20_000): Promise<IncidentState> {
  const t0 = Date.now();
  for (;;) {
    const s = await status(h);
    if (pred(s)) return s;
    if (Date.now() - t0 > ms) throw new Error(`timed out; step ${s.step}, waiting for ${s.waitingFor}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
async function updateError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
    return (err.cause as Error).message;
  }
  throw new Error('the update was accepted');
}
const scope = { by: 'bob', tenants: ['smoke'], accounts: ['2000-0001'], from: '2026-11-25T10:00:00Z', to: '2026-11-25T10:05:00Z', notes: 'the smoke deposit only' };
const findings = { by: 'erin', summary: 'deposits were booked rounded to whole units', rootCause: 'posting_rules rounds the ledger amount' };

describe('incidentResponse (local Temporal, mocked activities)', () => {
  before(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      /* installed */
    }
    const bin = ensureTemporalCli(() => undefined);
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: bin }, extraArgs: Object.entries(SEARCH_ATTRIBUTES).flatMap(([k, t]) => ['--search-attribute', `${k}=${t}`]) },
    });
    const spy = <A extends Record<string, unknown>, R>(name: string, fn: (a: A) => R | Promise<R>) => async (a: A) => {
      calls.push({ name, args: a });
      return fn(a);
    };
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TQ,
      workflowsPath: require.resolve('../../src/workflows'),
      // The worker's own preloaded modules (shared, frozen zod/yaml/noble): these tests run the workflows as deployed.
      bundlerOptions: { preloadModules: preloadModules() },
      activities: {
        async appendAuditEvent(e: AuditEvent) {
          audit.push(e);
          return { seq: audit.length, hash: 'h' };
        },
        async listAuditEvents(i: { subject: string }) {
          return audit.filter((e) => e.subject === i.subject).map((e, k) => ({ ...e, seq: k + 1, prevHash: '', hash: '' }));
        },
        loadPolicy: spy('loadPolicy', () => ({ policy: policy(), digest: policyDigest(policy()), protectedTables: { production: [], staging: [] } })),
        async resolveCommit(i: { gitRef: string }) {
          return { commit: commitOf(i.gitRef) };
        },
        fetchDeploymentRecord: spy('fetchDeploymentRecord', () => deploymentRecord),
        // The staging app here declares both hooks absent (app.hooks: { moduleFreeze: absent, maintenance: absent }).
        setModuleFrozen: spy('setModuleFrozen', (a: { module: string; frozen: boolean; environment: string }) =>
          a.environment === 'staging' ? { flags: [], limit: hookLimits(['moduleFreeze'])[0] } : { flags: [{ name: a.module, enabled: !a.frozen }] },
        ),
        setMaintenance: spy('setMaintenance', (a: { on: boolean; environment: string }) => (a.environment === 'staging' ? { maintenance: false, limit: hookLimits(['maintenance'])[0] } : { maintenance: a.on })),
        preserveEvidence: spy('preserveEvidence', (a: { incidentId: string }) => ({
          archive: `/ev/${a.incidentId}-evidence.tar.gz`,
          sha256File: `/ev/${a.incidentId}-evidence.tar.gz.sha256`,
          sha256: 'f'.repeat(64),
          sizeBytes: 123,
          files: ['logs/gunicorn-error.log', 'deployment-record.json', 'audit-events.json'],
          reused: false,
        })),
        restoreDatabase: spy('restoreDatabase', (a: { preRestoreBackupId: string }) => ({
          preRestoreBackup: { file: `/srv/backups/${a.preRestoreBackupId}.dump`, sizeBytes: 1, sha256: 'c'.repeat(64), verifiedEntries: 1, durationMs: 1, reused: false },
          durationMs: 5,
        })),
        awaitChangeDeployed: spy('awaitChangeDeployed', async (a: { changeId: string }): Promise<ChangeProgress> => {
          await new Promise((r) => setTimeout(r, 300));
          if (a.changeId.includes('bad')) return { changeId: a.changeId, phase: 'rejected', deployed: false, ended: true, emergencyApprovedBy: [], approvedBy: [], outcome: 'rejected' };
          return { changeId: a.changeId, phase: 'full-review', deployed: true, ended: false, releaseVersion: 'v1.1.2', emergencyApprovedBy: ['ivan'], approvedBy: ['ivan'], deployedAt: new Date().toISOString() };
        }),
        async writeIncidentReport(i: { incidentId: string; state: IncidentState }) {
          reports.set(i.incidentId, renderIncidentReport(i.state));
          return { path: `/reports/${i.incidentId}.md`, sha256: 'r' };
        },
        async writeChangeReport(i: { changeId: string; state: ChangeState }) {
          return { path: `/reports/${i.changeId}.md`, sha256: renderChangeReport(i.state).length.toString() };
        },
      },
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('runs §13 end to end: freeze, evidence, scope, two-approver restore, findings, patch, unfreeze, report', async () => {
    const h = await open(env.client);
    const id = h.workflowId.replace(/^incident-/, '');
    let s = await until(h, (x) => x.step === 'scope');
    assert.equal(s.frozen, true);
    assert.equal(s.maintenance, false, 'high severity: module frozen, no maintenance mode');
    assert.ok(s.evidence?.archive.endsWith(`${id}-evidence.tar.gz`));
    const freeze = calls.find((c) => c.name === 'setModuleFrozen' && (c.args.actor as string).includes(id))!;
    assert.deepEqual([freeze.args.module, freeze.args.frozen, freeze.args.environment], ['posting', true, 'production']);
    const ev = calls.find((c) => c.name === 'preserveEvidence' && c.args.incidentId === id)!;
    assert.equal((ev.args.deployment as DeploymentRecord).workflowId, deploymentRecord.workflowId);
    assert.ok((ev.args.auditRows as AuditEvent[]).some((r) => r.kind === 'incident-opened'));

    // Order of §13 and validation: restore before scope is refused; an invalid scope is refused.
    assert.match(await updateError(act(h, 'decideRestore', { by: 'carol', restore: true, reason: 'x' })), /record the scope first/);
    assert.match(await updateError(act(h, 'recordScope', { ...scope, from: 'yesterday' })), /ISO instants/);
    assert.match(await updateError(act(h, 'recordScope', { ...scope, by: 'mallory' })), /belongs to nobody/);
    await h.signal('recordScope', { by: 42 } as never);
    s = await until(h, (x) => x.rejectedAttempts.length === 1);
    assert.equal(s.scope, undefined, 'an invalid signal is recorded, never applied');
    await act(h, 'recordScope', scope);
    s = await until(h, (x) => x.step === 'restore');
    const desc = await h.describe();
    assert.equal(desc.typedSearchAttributes.get({ name: 'ChangeId', type: 'KEYWORD' } as never), id);
    assert.equal(desc.typedSearchAttributes.get({ name: 'ChangePhase', type: 'KEYWORD' } as never), 'restore');
    assert.equal(desc.typedSearchAttributes.get({ name: 'TargetEnvironment', type: 'KEYWORD' } as never), 'production');

    // Two distinct deciders must agree.
    assert.match(await updateError(act(h, 'decideRestore', { by: 'alice', restore: true, reason: 'x' })), /holds none of the roles/);
    await act(h, 'decideRestore', { by: 'carol', restore: true, reason: 'ledger wrong for the smoke tenant' });
    assert.match(await updateError(act(h, 'decideRestore', { by: 'carol', restore: true, reason: 'again' })), /already voted/);
    s = await status(h);
    assert.equal(s.restoreDecision, undefined, 'one vote is not a decision');
    assert.match(await updateError(act(h, 'recordFindings', findings)), /decide the restore first/);
    await act(h, 'decideRestore', { by: 'erin', restore: true, reason: 'agree: restore the pre-deployment backup' });
    s = await until(h, (x) => x.step === 'findings');
    assert.deepEqual(s.restoreDecision?.by, ['carol', 'erin']);
    const restore = calls.find((c) => c.name === 'restoreDatabase' && c.args.preRestoreBackupId === `${id}-pre-restore`)!;
    assert.equal(restore.args.backupFile, deploymentRecord.backup!.file, 'the pre-deployment backup by default');
    assert.equal(s.restore?.preRestoreBackup, `/srv/backups/${id}-pre-restore.dump`);
    assert.equal(calls.filter((c) => c.name === 'setModuleFrozen' && (c.args.actor as string).includes(id) && c.args.frozen === true).length, 2, 'frozen again after the restore');

    await act(h, 'recordFindings', findings);
    s = await until(h, (x) => x.step === 'corrective-patch');
    assert.match(await updateError(act(h, 'closeIncident', { by: 'erin', summary: 'done' })), /not deployed and approved yet/);
    // A patch that ends without reaching production does not count; the incident waits for another.
    await act(h, 'linkCorrectivePatch', { by: 'alice', changeId: 'CHG-bad-1' });
    s = await until(h, (x) => x.patches[0]?.outcome !== undefined);
    assert.match(s.patches[0]!.outcome!, /without a production deployment/);
    await act(h, 'linkCorrectivePatch', { by: 'alice', changeId: 'CHG-fix-1' });
    s = await until(h, (x) => x.step === 'unfreeze');
    assert.equal(s.frozen, true, 'still frozen until the incident is closed');
    assert.match(await updateError(act(h, 'closeIncident', { by: 'bob', summary: 'done' })), /holds none of the roles/);
    await act(h, 'closeIncident', { by: 'erin', summary: 'hotfix deployed, balances restored' });
    const done = (await h.result()) as IncidentState;
    saveHistory('incidentResponse', 'high-restore-closed', await h.fetchHistory());
    assert.equal(done.step, 'closed');
    assert.equal(done.frozen, false);
    assert.ok(calls.some((c) => c.name === 'setModuleFrozen' && (c.args.actor as string).includes(id) && c.args.frozen === false));
    assert.deepEqual(done.steps.map((x) => `${x.name}:${x.status}`), [
      'freeze:done', 'preserve-logs:done', 'scope:done', 'restore:done', 'findings:done', 'corrective-patch:done', 'unfreeze:done', 'audit-report:done',
    ]);
    const report = reports.get(id)!;
    for (const needle of ['| freeze | done | steward', '| scope | done | bob', '| restore | done | carol + erin', '| findings | done | erin', '| corrective-patch | done | alice', '| unfreeze | done | erin', 'CHG-fix-1', 'v1.1.2', 'emergency approval by ivan', 'sha256']) {
      assert.ok(report.includes(needle), `report lacks ${needle}:\n${report}`);
    }
    const kinds = audit.filter((e) => e.subject === id).map((e) => e.kind);
    for (const k of ['incident-opened', 'incident-step', 'rejected-attempt', 'incident-closed']) assert.ok(kinds.includes(k as never), k);
    assert.equal(new Set(audit.filter((e) => e.subject === id).map((e) => e.eventId)).size, kinds.length, 'audit event ids are unique');
    const closedDesc = await h.describe();
    assert.equal(closedDesc.typedSearchAttributes.get({ name: 'ChangePhase', type: 'KEYWORD' } as never), 'closed');
  });

  it('refuses an incident opened with no signature, or with a signature by someone else than its opener', async () => {
    const incidentId = `INC-T${process.pid}-${++n}`;
    const input = { incidentId, environment: 'production', affectedModule: 'posting', affects: ['gl-balances'], severity: 'critical', description: 'a forged incident to freeze posting', openedBy: 'carol', openedAtMs: Date.now() } as IncidentInput;
    const h1 = await env.client.workflow.start('incidentResponse', { taskQueue: TQ, workflowId: incidentWorkflowId(incidentId), args: [input] });
    await assert.rejects(h1.result(), (err: Error) => /not signed|unsigned/i.test(String((err as { cause?: Error }).cause?.message)));
    const forgedId = `INC-T${process.pid}-${++n}`;
    const forged = { ...input, incidentId: forgedId };
    forged.signedOpening = signAs('bob', 'openIncident', { subject: forgedId, workflowId: incidentWorkflowId(forgedId), proposalDigest: digestOf(incidentReportOf(forged)) });
    const h2 = await env.client.workflow.start('incidentResponse', { taskQueue: TQ, workflowId: incidentWorkflowId(forgedId), args: [forged] });
    await assert.rejects(h2.result(), (err: Error) => /signed by bob/.test(String((err as { cause?: Error }).cause?.message)));
    assert.ok(!calls.some((c) => c.name === 'setModuleFrozen' && [incidentId, forgedId].some((i) => String(c.args.actor).includes(i))), 'nothing was frozen');
  });

  it('critical: maintenance mode at once, lifted for the hotfix; no restore; a proposed hotfix starts a changeLifecycle child', async () => {
    const h = await open(env.client, { severity: 'critical', deployment: undefined, deploymentWorkflowId: 'deploy-CHG-1-production-1' });
    const id = h.workflowId.replace(/^incident-/, '');
    let s = await until(h, (x) => x.step === 'scope');
    assert.equal(s.maintenance, true);
    assert.ok(calls.some((c) => c.name === 'loadPolicy'), 'the policy comes from the worker');
    assert.ok(calls.some((c) => c.name === 'fetchDeploymentRecord'), 'the deployment record is fetched by id');
    await h.signal('recordScope', await signedFor(h, 'recordScope', scope));
    await until(h, (x) => x.step === 'restore');
    // Disagreement is no decision; a third decider breaks it.
    await act(h, 'decideRestore', { by: 'carol', restore: true, reason: 'restore' });
    await act(h, 'decideRestore', { by: 'dave', restore: false, reason: 'only the smoke tenant; reverse by journal' });
    s = await status(h);
    assert.equal(s.restoreDecision, undefined);
    await act(h, 'decideRestore', { by: 'ivan', restore: false, reason: 'agree with dave' });
    s = await until(h, (x) => x.step === 'findings');
    assert.equal(s.restoreDecision?.restore, false);
    assert.equal(s.steps.find((x) => x.name === 'restore')!.status, 'skipped');
    assert.ok(!calls.some((c) => c.name === 'restoreDatabase' && (c.args.preRestoreBackupId as string).startsWith(id)));
    await act(h, 'recordFindings', findings);
    s = await until(h, (x) => x.step === 'corrective-patch');
    assert.equal(s.maintenance, false, 'out of maintenance for the hotfix smoke test');
    assert.equal(s.frozen, true);
    const base = { title: 'Fix deposit rounding', type: 'financial-logic', affectedModules: ['posting'], description: 'd', reason: 'r', financialImpact: true, complianceImpact: false, dataMigrationRequired: false, rollbackComplexity: 'low', proposer: 'alice', gitRef: 'r03-additive-migration', tests: 'written', targetEnvironments: ['production'] };
    assert.match(await updateError(act(h, 'proposeCorrectivePatch', { by: 'alice', proposal: base })), /not eligible for the hotfix path|staging/);
    assert.match(await updateError(act(h, 'proposeCorrectivePatch', { by: 'alice', proposal: { ...base, hotfixReason: 'customer asked' } })), /invalid|not a hotfix reason/);
    const fixId = `${id}-FIX-A`;
    await act(h, 'proposeCorrectivePatch', { by: 'alice', changeId: fixId, proposal: { ...base, hotfixReason: 'financial-miscalculation' } });
    const child = env.client.workflow.getHandle(`change-${fixId}`);
    const cs = (await child.query('status')) as ChangeState;
    assert.equal(cs.hotfix, true);
    s = await until(h, (x) => x.step === 'unfreeze');
    assert.equal(s.patches[0]!.started, true);
    await act(h, 'closeIncident', { by: 'ivan', summary: 'hotfix deployed' });
    const done = (await h.result()) as IncidentState;
    saveHistory('incidentResponse', 'critical-hotfix', await h.fetchHistory());
    assert.equal(done.step, 'closed');
    assert.equal(done.maintenance, false);
    // The hotfix child outlives the incident (ABANDON) and waits for its review.
    const after = (await child.query('status')) as ChangeState;
    assert.equal(after.phase, 'review');
    await child.executeUpdate('withdraw', { args: [signAs('alice', 'withdraw', { subject: fixId, workflowId: `change-${fixId}`, commit: after.commit, proposalDigest: after.proposalDigest, policyDigest: after.policyDigest }, { reason: 'test over' })] });
  });

  it('an app without the freeze and maintenance hooks: the freeze step fails saying so, status and report say what could not be done', async () => {
    const h = await open(env.client, { environment: 'staging', severity: 'critical' });
    const id = h.workflowId.replace(/^incident-/, '');
    const s = await until(h, (x) => x.step === 'scope');
    assert.equal(s.frozen, false, 'nothing froze the module');
    assert.equal(s.maintenance, false, 'nor put the app in maintenance');
    const step = s.steps.find((x) => x.name === 'freeze')!;
    assert.equal(step.status, 'failed', 'never skipped silently');
    assert.match(step.detail!, /^no module freeze hook.*; no maintenance hook/);
    assert.deepEqual(s.limits, [hookLimits(['moduleFreeze'])[0], hookLimits(['maintenance'])[0]]);
    const text = describeIncident(s);
    assert.match(text, /cannot: no module freeze hook/);
    assert.match(text, /cannot: no maintenance hook/);
    assert.ok(calls.some((c) => c.name === 'setMaintenance' && String(c.args.actor).includes(id)), 'asked, through the hook');
    assert.match(renderIncidentReport(s), /## What the playbook could not do for this app\n\n- no module freeze hook/);
    await h.terminate('test over');
  });
});
