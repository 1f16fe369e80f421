// Who may start a deployment (deployment-authority), against a real local Temporal (TestWorkflowEnvironment.createLocal):
// the real deployment, environmentLock, lock activities and authority activity (which describes and queries the
// parent on the server); the host activities are fakes that record what they were asked to do, so each test can say
// that nothing would have changed on a host. The parents are stand-ins (test/workflows/authority-workflows.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { Worker, DefaultLogger, Runtime } from '@temporalio/worker';
import { WorkflowFailedError, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { defaultPolicy, type PolicyConfig } from '../../src/domain';
import { policyDigest } from '../../src/domain/policy';
import type { ChangeView } from '../../src/domain/authority';
import type { LoadedPolicy } from '../../src/contracts/policy';
import type { AuditEvent } from '../../src/activities/audit/api';
import { createLockActivities } from '../../src/activities/lock';
import { createAuthorityActivities } from '../../src/activities/authority';
import { canonicalJson } from '../../src/domain/canonical';
import { ensureTemporalCli } from '../../src/dev/tools';
import { deploymentWorkflowId, type DeploymentInput, type DeploymentRecord } from '../../src/workflows/deployment';
import { lockWorkflowId, type LockStatus } from '../../src/workflows/environment-lock';
import type { ParentInput } from './authority-workflows';
import { saveHistory } from '../helpers/histories';
import { commitOf, signDirectOrder, testPeople } from '../helpers/signing';
import { fakeHostActivities } from '../helpers/fake-hosts';
import { until } from '../helpers/until';

const TQ = 'authority-test';
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let n = 0;
let workerPolicy: PolicyConfig;
const audit: AuditEvent[] = [];
/** What the fake host activities were asked to do, in order. */
const calls: string[] = [];


/** Every host activity asked for (reads too): none may run for a deployment without authority. */
const hostCalls = () => [...calls];

function input(over: Partial<DeploymentInput> = {}): DeploymentInput {
  return { changeId: `AU${process.pid}-${++n}`, environment: 'production', gitRef: commitOf(`authority-${n}`), changeType: 'cosmetic', proposer: 'alice', attempt: 1, stagingChecks: false, tagRelease: true, ...over };
}
const idOf = (i: DeploymentInput) => deploymentWorkflowId(i.changeId, i.environment, i.attempt);

async function startDirect(i: DeploymentInput, workflowId = idOf(i)): Promise<WorkflowHandleWithFirstExecutionRunId> {
  return env.client.workflow.start('deployment', { taskQueue: TQ, workflowId, args: [i] });
}

/** The change's state as its `status` query answers it: in its deployment phase, approved by carol, for this commit. */
function changeState(i: DeploymentInput, over: Partial<ChangeView> = {}, approvalExpiresAtMs = Date.now() + 3_600_000): ChangeView {
  return {
    changeId: i.changeId,
    workflowId: `change-${i.changeId}`,
    phase: i.environment === 'staging' ? 'staging-test' : 'deployment',
    commit: i.gitRef,
    runningDeployment: idOf(i),
    type: i.changeType,
    risk: 'low',
    hotfix: false,
    proposer: 'alice',
    implementer: 'alice',
    signoffs: [{ kind: 'approval', by: 'carol', role: 'approver', gitRef: i.gitRef, atMs: Date.now() - 60_000, expiresAtMs: approvalExpiresAtMs }],
    ...over,
  };
}

async function startParent(type: 'changeLifecycle' | 'forgedChange', i: DeploymentInput, state: ChangeView): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const args: ParentInput[] = [{ state, deployment: i, deploymentWorkflowId: idOf(i) }];
  return env.client.workflow.start(type, { taskQueue: TQ, workflowId: `change-${i.changeId}`, args });
}

/** The deployment's failure: a non-retryable DeploymentRefused, with its message. */
async function refusal(h: WorkflowHandle): Promise<string> {
  const err = await h.result().then(
    (r) => assert.fail(`the deployment was not refused: ${JSON.stringify((r as DeploymentRecord).status)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, `a workflow failure: ${String(err)}`);
  const cause = err.cause as ApplicationFailure;
  assert.ok(cause instanceof ApplicationFailure, `an application failure: ${String(cause)}`);
  assert.equal(cause.type, 'DeploymentRefused');
  assert.equal(cause.nonRetryable, true);
  return cause.message;
}

/** The child deployment's refusal, as its parent sees it: a record that says refused (the change fails its phase). */
async function childRefusal(parent: WorkflowHandle, i: DeploymentInput): Promise<string> {
  const r = (await parent.result()) as DeploymentRecord;
  assert.equal(r.workflowId, idOf(i));
  assert.equal(r.status, 'refused', `${r.status}: ${r.reason ?? ''}`);
  assert.deepEqual(r.steps, [], 'no step ran (not even the lock)');
  assert.equal(r.authority, undefined);
  return r.reason ?? '';
}

describe('deployment authority: its change, or a signed direct order (local Temporal, fake hosts)', () => {
  before(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      /* installed */
    }
    const p = defaultPolicy({ people: testPeople() as never });
    workerPolicy = { ...p, windows: { ...p.windows, blackout: [] } };
    env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: ensureTemporalCli(() => undefined) } } });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TQ,
      workflowsPath: require.resolve('./authority-workflows'),
      activities: {
        ...createLockActivities({ config: { temporal: { taskQueue: TQ } } as never, temporal: async () => env.client }),
        ...createAuthorityActivities({ temporal: async () => env.client, policy: () => workerPolicy }),
        // Like the real store: an event id names one event; the same id with other content is an AuditConflict.
        async appendAuditEvent(e: AuditEvent) {
          const prior = audit.find((x) => x.eventId === e.eventId);
          if (prior && canonicalJson({ ...prior }) !== canonicalJson({ ...e })) throw ApplicationFailure.nonRetryable(`audit event ${e.eventId} was already recorded with different content`, 'AuditConflict');
          if (!prior) audit.push(e);
          return { seq: audit.length, hash: 'h' };
        },
        async loadPolicy(): Promise<LoadedPolicy> {
          return { policy: workerPolicy, digest: policyDigest(workerPolicy), protectedTables: { staging: [], production: [] } };
        },
        ...fakeHostActivities({ calls, recordReads: true }),
      },
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('refuses a direct start with no signed order before the lock and any host step, and audits it', async () => {
    calls.length = 0;
    const i = input({ approvalsValidUntilMs: Date.now() + 86_400_000, emergencyApproved: true });
    const h = await startDirect(i);
    const message = await refusal(h);
    assert.match(message, /started directly, not by a change, with no signed direct order/);
    assert.match(message, /propose it with `steward propose`; or a signed direct order/);
    assert.deepEqual(hostCalls(), [], 'no host activity ran');
    const r = (await h.query('status')) as DeploymentRecord;
    assert.equal(r.status, 'refused');
    assert.equal(r.lockWait, undefined);
    assert.ok(!r.steps.some((s) => /lock/.test(s.name)), `the lock was never asked for: ${r.steps.map((s) => s.name).join(', ')}`);
    const row = audit.find((e) => e.kind === 'rejected-attempt' && e.details.workflowId === idOf(i));
    assert.ok(row, 'the refusal is in the audit log');
    assert.equal(row.details.message, 'deployment');
  });

  it('refuses a direct order that is unsigned, signed with the wrong key, by a wrong role, for another workflow or gitRef, or stale', async () => {
    const digest = () => policyDigest(workerPolicy);
    const cases: { name: string; make: (i: DeploymentInput) => DeploymentInput; expect: RegExp }[] = [
      { name: 'not signed', make: (i) => ({ ...i, directOrder: { statement: '{}', signature: 'none' } as never }), expect: /direct order is refused \(unsigned\)/ },
      { name: "mallory's key, claiming ivan", make: (i) => ({ ...i, directOrder: signDirectOrder(i, digest(), 'ivan', { keyOf: 'mallory' }) }), expect: /\(unknown-key\)/ },
      { name: "carol's key, claiming ivan", make: (i) => ({ ...i, directOrder: signDirectOrder(i, digest(), 'ivan', { keyOf: 'carol' }) }), expect: /\(signer-mismatch\)/ },
      { name: 'an approver (carol) is not an emergency approver', make: (i) => ({ ...i, directOrder: signDirectOrder(i, digest(), 'carol') }), expect: /carol holds none of the roles emergency-approver needed to order a deployment directly/ },
      { name: 'the proposer may not order it', make: (i) => ({ ...i, proposer: 'ivan', directOrder: signDirectOrder(i, digest(), 'ivan') }), expect: /ivan proposed this change and cannot order a deployment directly \(maker-checker\)/ },
      { name: 'an order for another workflow', make: (i) => ({ ...i, directOrder: signDirectOrder(i, digest(), 'ivan', { workflowId: `${idOf(i)}x` }) }), expect: /\(wrong-workflow\)/ },
      { name: 'an order for another gitRef', make: (i) => ({ ...i, directOrder: signDirectOrder({ ...i, gitRef: commitOf('other') }, digest()) }), expect: /direct order is for gitRef .* not / },
      { name: 'an order for another environment', make: (i) => ({ ...i, directOrder: signDirectOrder({ ...i, environment: 'staging' }, digest(), 'ivan', { workflowId: idOf(i) }) }), expect: /direct order is for environment "staging", not production/ },
      { name: 'a stale order (20 minutes old)', make: (i) => ({ ...i, directOrder: signDirectOrder(i, digest(), 'ivan', { issuedAtMs: Date.now() - 20 * 60_000 }) }), expect: /\(stale\)/ },
    ];
    for (const c of cases) {
      calls.length = 0;
      const i = c.make(input());
      const message = await refusal(await startDirect(i));
      assert.match(message, c.expect, c.name);
      assert.deepEqual(hostCalls(), [], `${c.name}: no host activity ran`);
    }
  });

  it('obeys a signed direct order once: recorded (who, in the audit log with its signature); the same order again is refused', async () => {
    calls.length = 0;
    const i = input({ approvalsValidUntilMs: Date.now() - 1000, emergencyApproved: true });
    const order = signDirectOrder(i, policyDigest(workerPolicy));
    const h = await startDirect({ ...i, directOrder: order });
    const r = (await h.result()) as DeploymentRecord;
    // A direct order has no approvals expiry: the input's claim (already expired) is ignored, as is its emergency approval.
    assert.equal(r.status, 'deployed', `${r.status}: ${r.reason ?? ''}`);
    assert.deepEqual(r.authority && { kind: r.authority.kind, by: 'orderedBy' in r.authority ? r.authority.orderedBy : null }, { kind: 'direct-order', by: 'ivan' });
    assert.ok(calls.includes(`switchRelease:${idOf(i).replace(/^deploy-/, '')}`), 'the release was switched');
    const row = audit.find((e) => e.kind === 'deployment-authorised' && e.details.workflowId === idOf(i));
    assert.ok(row, 'the authority is in the audit log');
    assert.equal(row.actor, 'ivan');
    assert.equal(row.details.statement, order.statement);
    assert.equal(row.details.signature, order.signature);
    saveHistory('deployment', 'authority-direct-order', await h.fetchHistory());
    // The same order in a new run of the same workflow id: single use, for ever.
    calls.length = 0;
    const again = await startDirect({ ...i, directOrder: order });
    assert.notEqual(again.firstExecutionRunId, h.firstExecutionRunId);
    assert.match(await refusal(again), /already used by another run \(replay\)/);
    assert.deepEqual(hostCalls(), []);
  });

  it('refuses a forged parent: a workflow named change-X that is not a changeLifecycle', async () => {
    calls.length = 0;
    const i = input();
    const p = await startParent('forgedChange', i, changeState(i));
    const message = await childRefusal(p, i);
    assert.match(message, new RegExp(`started by change-${i.changeId}, which is not this deployment's change deploying it now: .*is a forgedChange, not the change's changeLifecycle`));
    assert.deepEqual(hostCalls(), [], 'no host activity ran');
  });

  it("refuses a change that is not in its deployment phase, or runs another deployment, or approved another commit, or whose approvals expired", async () => {
    const cases: { name: string; over: (i: DeploymentInput) => Partial<ChangeView>; expires?: number; expect: RegExp }[] = [
      { name: 'approval phase', over: () => ({ phase: 'approval' }), expect: /is in its approval phase, not deployment/ },
      { name: 'another deployment', over: (i) => ({ runningDeployment: `deploy-${i.changeId}-production-9` }), expect: /is running deploy-.*-production-9, not/ },
      { name: 'another commit', over: () => ({ commit: commitOf('approved-elsewhere') }), expect: /approved commit [0-9a-f]{40}, not/ },
      { name: 'approvals expired', over: () => ({}), expires: Date.now() - 1000, expect: /approvals no longer make the quorum \(1 more approver\)/ },
    ];
    for (const c of cases) {
      calls.length = 0;
      const i = input({ approvalsValidUntilMs: Date.now() + 86_400_000 });
      const p = await startParent('changeLifecycle', i, changeState(i, c.over(i), c.expires));
      assert.match(await childRefusal(p, i), c.expect, c.name);
      assert.deepEqual(hostCalls(), [], `${c.name}: no host activity ran`);
    }
  });

  it("a child of its changeLifecycle proceeds, with the change's own approvals expiry (the input's later one is ignored)", async () => {
    calls.length = 0;
    const expiresAt = Date.now() + 3_600_000;
    const i = input({ approvalsValidUntilMs: Date.now() + 86_400_000, emergencyApproved: true });
    const p = await startParent('changeLifecycle', i, changeState(i, {}, expiresAt));
    const r = (await p.result()) as DeploymentRecord;
    assert.equal(r.status, 'deployed', `${r.status}: ${r.reason ?? ''}`);
    assert.deepEqual(r.authority, { kind: 'change', changeWorkflowId: `change-${i.changeId}`, changeRunId: p.firstExecutionRunId, phase: 'deployment', approvalsValidUntil: new Date(expiresAt).toISOString(), emergencyApproved: false });
    assert.ok(audit.some((e) => e.kind === 'deployment-authorised' && e.details.workflowId === idOf(i) && e.actor === 'steward'), 'the authority is in the audit log');
    saveHistory('deployment', 'authority-change-child', await env.client.workflow.getHandle(idOf(i)).fetchHistory());
  });

  it("refuses a host step once the change's own approvals expire while the deployment waits for the lock (the input claims a day)", async () => {
    const holder = await env.client.workflow.start('lockHolder', { taskQueue: TQ, workflowId: `holder-${process.pid}-${++n}`, args: [{ environment: 'production', timeoutMs: 60_000 }] as never });
    await until('the holder to hold the production lock', async () => ((await env.client.workflow.getHandle(lockWorkflowId('production', TQ)).query('status')) as LockStatus).holder === holder.workflowId);
    calls.length = 0;
    const expiresAt = Date.now() + 4000;
    const i = input({ approvalsValidUntilMs: Date.now() + 86_400_000 });
    const p = await startParent('changeLifecycle', i, changeState(i, {}, expiresAt));
    const child = env.client.workflow.getHandle(idOf(i));
    await until('the deployment to wait for the lock', async () => ((await child.query('status')) as DeploymentRecord).status === 'waiting-for-lock');
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 500));
    await holder.signal('done');
    await holder.result();
    const r = (await p.result()) as DeploymentRecord;
    assert.equal(r.status, 'refused');
    assert.match(r.reason ?? '', new RegExp(`the change's approvals expired at ${new Date(expiresAt).toISOString().replace(/\./g, '\\.')}`));
    assert.deepEqual(calls, [], 'nothing ran on a host');
  });
});

