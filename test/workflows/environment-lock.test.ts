// The environment lock's rules and the deployment's cancellation paths, against a real local Temporal
// (TestWorkflowEnvironment.createLocal with the built binary): the real environmentLock, lock client, lock activities
// (signal-with-start, describe + query of the holder) and deployment workflow; the host activities are fakes that
// record what they were asked to do, so each test can say what would have changed on a host.
import assert from 'node:assert/strict';
import { saveHistory } from '../helpers/histories';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, DefaultLogger, Runtime } from '@temporalio/worker';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { defaultPolicy, type PolicyConfig } from '../../src/domain';
import { policyDigest } from '../../src/domain/policy';
import type { LoadedPolicy } from '../../src/contracts/policy';
import type { AuditEvent } from '../../src/activities/audit/api';
import { createLockActivities } from '../../src/activities/lock';
import { ensureTemporalCli } from '../../src/dev/tools';
import { lockWorkflowId, type LockStatus } from '../../src/workflows/environment-lock';
import type { DeploymentInput, DeploymentRecord } from '../../src/workflows/deployment';
import type { LockWait } from '../../src/workflows/lock-client';
import { commitOf, signDirectOrder, testPeople } from '../helpers/signing';
import { fakeHostActivities } from '../helpers/fake-hosts';
import { until } from '../helpers/until';

const TQ = 'lock-test';
const audit: AuditEvent[] = [];
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let n = 0;
let workerPolicy: PolicyConfig;

/** What the fake host activities were asked to do, in order ("switchRelease:<release>", ...). */
const calls: string[] = [];
/** A step the test holds open: the activity of that name waits until the test lets it go. */
const gates = new Map<string, { entered: boolean; open: () => void; wait: Promise<void> }>();
function gate(name: string) {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  const g = { entered: false, open, wait };
  gates.set(name, g);
  return g;
}
async function through(name: string): Promise<void> {
  const g = gates.get(name);
  if (!g) return;
  g.entered = true;
  await g.wait;
  gates.delete(name);
}

function policy(over: Partial<PolicyConfig> = {}): PolicyConfig {
  const p = defaultPolicy({ people: testPeople() as never });
  return { ...p, windows: { ...p.windows, blackout: [] }, ...over };
}

const LIVE = 'live-release';

const lockId = (environment: string) => lockWorkflowId(environment, TQ);
const lockStatus = async (environment: string) => (await env.client.workflow.getHandle(lockId(environment)).query('status')) as LockStatus;
const holds = (environment: string, workflowId: string) => until(`${workflowId} to hold the ${environment} lock`, async () => (await lockStatus(environment)).holder === workflowId);

type HolderResult = { outcome: string; waits: LockWait[] };
async function startHolder(environment: string, timeoutMs = 60_000): Promise<WorkflowHandleWithFirstExecutionRunId<() => Promise<HolderResult>>> {
  const workflowId = `holder-${process.pid}-${++n}`;
  return env.client.workflow.start<() => Promise<HolderResult>>('lockHolder', { taskQueue: TQ, workflowId, args: [{ environment, timeoutMs }] as never });
}

function deploymentInput(over: Partial<DeploymentInput> = {}): DeploymentInput {
  return { changeId: `LK${process.pid}-${++n}`, environment: 'production', gitRef: commitOf('r09-requirements'), changeType: 'cosmetic', proposer: 'alice', attempt: 1, stagingChecks: false, tagRelease: true, ...over };
}
async function startDeployment(input: DeploymentInput): Promise<WorkflowHandle> {
  // Started outside a change: a direct order signed by an emergency approver (deployment-authority).
  const directOrder = signDirectOrder(input, policyDigest(workerPolicy));
  return env.client.workflow.start('deployment', { taskQueue: TQ, workflowId: `deploy-${input.changeId}-${input.environment}-${input.attempt}`, args: [{ ...input, directOrder }] });
}
const record = (h: WorkflowHandle) => h.query('status') as Promise<DeploymentRecord>;

describe('environment lock and cancellation (local Temporal, real lock and deployment, fake hosts)', () => {
  before(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      /* installed */
    }
    workerPolicy = policy();
    env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: ensureTemporalCli(() => undefined) } } });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TQ,
      workflowsPath: require.resolve('./lock-workflows'),
      activities: {
        ...createLockActivities({ config: { temporal: { taskQueue: TQ } } as never, temporal: async () => env.client }),
        async appendAuditEvent(e: AuditEvent) {
          audit.push(e);
          return { seq: audit.length, hash: 'h' };
        },
        async loadPolicy(): Promise<LoadedPolicy> {
          return { policy: workerPolicy, digest: policyDigest(workerPolicy), protectedTables: { staging: [], production: [] } };
        },
        ...fakeHostActivities({ calls, live: LIVE, through, planned: [{ app: 'banking', name: '0003_deposit_channel', sql: 'ALTER TABLE "banking_deposit" ADD COLUMN "channel" varchar(20) NULL;', irreversible: false }] }),
      },
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('grants in arrival order, tells the waiter who holds it, and refuses a forged release (audited)', async () => {
    const a = await startHolder('lk1');
    await holds('lk1', a.workflowId);
    const b = await startHolder('lk1');
    await until('b to queue', async () => (await lockStatus('lk1')).queue.includes(b.workflowId));
    // Anybody can send `release` naming the holder, its run and its ticket: the holder says it still holds the lock.
    const lock = env.client.workflow.getHandle(lockId('lk1'));
    await lock.signal('release', { requester: a.workflowId, runId: a.firstExecutionRunId, ticket: 1 });
    await lock.signal('release', { requester: a.workflowId });
    const s = await until('the forged releases to be refused', async () => {
      const st = await lockStatus('lk1');
      return (st.refusedReleases ?? 0) >= 2 && st;
    });
    assert.equal(s.holder, a.workflowId, 'the holder keeps the lock');
    assert.deepEqual(s.queue, [b.workflowId]);
    const refused = audit.filter((e) => e.kind === 'lock-release-refused' && e.details.requester === a.workflowId);
    assert.equal(refused.length, 2, 'each refused release is audited');
    assert.ok(refused.some((e) => /still holds/.test(String(e.details.reason))), 'the holder denied it');
    // A forged withdrawal of the waiter is refused too.
    await lock.signal('release', { requester: b.workflowId, runId: b.firstExecutionRunId, ticket: 1 });
    await until('the forged withdrawal to be refused', async () => ((await lockStatus('lk1')).refusedReleases ?? 0) >= 3);
    assert.deepEqual((await lockStatus('lk1')).queue, [b.workflowId]);
    // A forged grant to the waiter: it checks the lock's own state and keeps waiting.
    await b.signal('lockGranted', { lockWorkflowId: lockId('lk1'), ticket: 1 });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(((await b.query('environmentLockState', lockId('lk1'))) as { state: string }).state, 'waiting', 'a forged grant is not taken');
    // The holder's own release counts.
    await a.signal('done');
    assert.equal((await a.result()).outcome, 'granted');
    await holds('lk1', b.workflowId);
    await b.signal('done');
    const rb = await b.result();
    assert.equal(rb.outcome, 'granted');
    assert.ok(rb.waits.some((w) => w.holder === a.workflowId && w.position === 1), `b was told who held the lock: ${JSON.stringify(rb.waits)}`);
  });

  it('frees the lock of a terminated holder when the next one asks, and audits it', async () => {
    const a = await startHolder('lk2');
    await holds('lk2', a.workflowId);
    // The lock names its holder before its grant reaches it: terminated in between, the grant fails and the lock
    // moves on without a liveness check. This test is about a holder that took the lock, so wait until it has.
    await until('a to hold the lock by its own state', async () => ((await a.query('environmentLockState', lockId('lk2'))) as { state: string }).state === 'holding');
    await a.terminate('test: the holder is terminated');
    const b = await startHolder('lk2');
    await holds('lk2', b.workflowId);
    const gone = audit.find((e) => e.kind === 'lock-holder-gone' && e.details.holder === a.workflowId);
    assert.ok(gone, 'the freed lock is audited');
    assert.equal(gone.details.status, 'TERMINATED');
    await b.signal('done');
    assert.equal((await b.result()).outcome, 'granted');
  });

  it('audits a grant it could not deliver (the requester closed before it was granted)', async () => {
    const requester = `gone-${process.pid}-${++n}`;
    // A run id that is not one is dropped (the server would refuse the grant's signal and jam the lock's tasks)…
    await env.client.workflow.signalWithStart('environmentLock', { taskQueue: TQ, workflowId: lockId('lk6'), args: [{ environment: 'lk6' }], signal: 'acquire', signalArgs: [{ requester: `${requester}-bad`, runId: 'no-such-run; rm -rf /', ticket: 1 }] });
    // …and a well-formed one of a run that does not exist is granted, the grant fails, and the lock says so.
    await env.client.workflow.signalWithStart('environmentLock', { taskQueue: TQ, workflowId: lockId('lk6'), args: [{ environment: 'lk6' }], signal: 'acquire', signalArgs: [{ requester, runId: '0b7f4f6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', ticket: 1 }] });
    const gone = await until('the undelivered grant to be audited', async () => audit.find((e) => e.kind === 'lock-holder-gone' && e.details.holder === requester));
    assert.equal(gone.details.status, 'GRANT_UNDELIVERED');
    const s = await lockStatus('lk6');
    assert.equal(s.holder, null, 'nobody holds the lock');
    assert.equal(s.freedHolders, 1);
    assert.ok(!audit.some((e) => e.details.holder === `${requester}-bad`), 'the malformed request was never queued');
    // The lock still works.
    const c = await startHolder('lk6');
    await holds('lk6', c.workflowId);
    await c.signal('done');
    assert.equal((await c.result()).outcome, 'granted');
  });

  it('frees the lock of a holder terminated while somebody waits (periodic liveness check)', async () => {
    await env.client.workflow.start('environmentLock', { taskQueue: TQ, workflowId: lockId('lk3'), args: [{ environment: 'lk3', waitingLivenessCheckMs: 500 }] });
    const a = await startHolder('lk3');
    await holds('lk3', a.workflowId);
    const b = await startHolder('lk3');
    await until('b to queue', async () => (await lockStatus('lk3')).queue.includes(b.workflowId));
    await new Promise((r) => setTimeout(r, 300));
    await a.terminate('test: the holder is terminated while b waits');
    await holds('lk3', b.workflowId);
    await b.signal('done');
    assert.equal((await b.result()).outcome, 'granted');
  });

  it('a bounded wait ends timed-out and withdraws the request', async () => {
    const a = await startHolder('lk4');
    await holds('lk4', a.workflowId);
    const b = await startHolder('lk4', 1000);
    assert.equal((await b.result()).outcome, 'timed-out');
    await until('the withdrawn request to leave the queue', async () => (await lockStatus('lk4')).queue.length === 0);
    assert.equal((await lockStatus('lk4')).holder, a.workflowId);
    await a.signal('done');
    await a.result();
  });

  it('continues as new with the holder and the queue, losing no acquire', async () => {
    const lock = await env.client.workflow.start('environmentLock', { taskQueue: TQ, workflowId: lockId('lk5'), args: [{ environment: 'lk5', maxGrantsPerRun: 2 }] });
    const holders = [];
    for (let i = 0; i < 4; i++) holders.push(await startHolder('lk5'));
    // Their requests race (each is an activity): whoever holds the lock finishes, until all four had it.
    const served = new Set<string>();
    for (let i = 0; i < holders.length; i++) {
      const holder = await until('a holder', async () => {
        const st = await lockStatus('lk5');
        return st.holder && !served.has(st.holder) ? st.holder : undefined;
      });
      served.add(holder);
      const h: WorkflowHandle<() => Promise<HolderResult>> = holders.find((x) => x.workflowId === holder)!;
      await h.signal('done');
      assert.equal((await h.result()).outcome, 'granted');
    }
    assert.equal(served.size, 4);
    saveHistory('environmentLock', 'lock-continued-as-new', await env.client.workflow.getHandle(lock.workflowId, lock.firstExecutionRunId).fetchHistory());
    const d = await env.client.workflow.getHandle(lock.workflowId).describe();
    assert.notEqual(d.runId, lock.firstExecutionRunId, 'the lock continued as new');
  });

  it('a deployment waiting for the lock names the holder; it gives up after its bounded wait, refused, nothing changed', async () => {
    const a = await startHolder('production');
    await holds('production', a.workflowId);
    calls.length = 0;
    const h = await startDeployment(deploymentInput({ lockWaitTimeoutMs: 3000 }));
    const waiting = await until('the deployment to show the holder', async () => (await record(h)).lockWait?.holder === a.workflowId && (await record(h)));
    assert.equal(waiting.status, 'waiting-for-lock');
    const r = (await h.result()) as DeploymentRecord;
    assert.equal(r.status, 'refused');
    assert.match(r.reason ?? '', new RegExp(`deployment lock, held by ${a.workflowId}`));
    assert.deepEqual(calls, [], 'nothing ran on a host');
    assert.equal((await lockStatus('production')).holder, a.workflowId);
    await a.signal('done');
    await a.result();
  });

  it('cancelled mid-migration: the migration finishes, nothing is switched, the migrations are reversed, the lock is freed', async () => {
    calls.length = 0;
    const g = gate('runMigrations');
    const h = await startDeployment(deploymentInput());
    await until('run migrations to start', async () => g.entered);
    await h.cancel();
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!calls.includes('reverseMigrations'), 'nothing is compensated while the migration runs');
    g.open();
    const r = (await h.result()) as DeploymentRecord;
    assert.equal(r.status, 'rolled-back', r.reason);
    assert.ok(r.cancelled, 'the record says it was cancelled');
    // The smoke test after the rollback checks the previous release, which never stopped serving.
    assert.deepEqual(calls, ['prepareRelease', 'runMigrations', 'runMigrations:done', 'reverseMigrations', 'smokeTest']);
    await until('the lock to be released (confirmed by the closed deployment)', async () => (await lockStatus('production')).holder === null);
    saveHistory('deployment', 'deployment-cancelled-mid-migrate', await h.fetchHistory());
  });

  it('cancelled mid-restart: the restart finishes, then the previous release is switched back and restarted', async () => {
    calls.length = 0;
    const g = gate('restartApp');
    const h = await startDeployment(deploymentInput());
    await until('the restart to start', async () => g.entered);
    await h.cancel();
    await new Promise((r) => setTimeout(r, 300));
    g.open();
    const r = (await h.result()) as DeploymentRecord;
    assert.equal(r.status, 'rolled-back', r.reason);
    const rel = r.releaseId;
    assert.deepEqual(
      calls.filter((c) => /^(switchRelease|restartApp|reverseMigrations|tagRelease)/.test(c)),
      // A fleet rollback puts the code back before the migrations are reversed (codeBeforeMigrations).
      [`switchRelease:${rel}`, `restartApp:${rel}`, `restartApp:${rel}:done`, `switchRelease:${LIVE}`, `restartApp:${LIVE}`, `restartApp:${LIVE}:done`, 'reverseMigrations'],
    );
    assert.ok(!r.releaseTag, 'a cancelled deployment is not tagged');
    await until('the lock to be released', async () => (await lockStatus('production')).holder === null);
    saveHistory('deployment', 'deployment-cancelled-mid-restart', await h.fetchHistory());
  });

  it('re-checks the window after the lock: a freeze added meanwhile refuses the migration, nothing served changes', async () => {
    calls.length = 0;
    const g = gate('prepareRelease');
    const h = await startDeployment(deploymentInput());
    await until('the release to be prepared', async () => g.entered);
    const t = Date.now();
    workerPolicy = policy({ freezes: [{ from: new Date(t - 60_000).toISOString(), to: new Date(t + 3_600_000).toISOString(), fromMs: t - 60_000, toMs: t + 3_600_000, reason: 'quarter-end close', environments: ['production'] }] });
    try {
      g.open();
      const r = (await h.result()) as DeploymentRecord;
      assert.equal(r.status, 'refused', r.reason);
      assert.match(r.reason ?? '', /window is closed.*quarter-end close.*"run migrations" is not started/);
      assert.deepEqual(calls, ['prepareRelease', 'removeRelease']);
    } finally {
      workerPolicy = policy();
    }
  });
  // The change's approvals expiring before a host step: test/workflows/deployment-authority.test.ts (since the
  // deployment-authority patch the expiry is the change's own, never the input's).
});

