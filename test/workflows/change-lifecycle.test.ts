// changeLifecycle against a real local Temporal (TestWorkflowEnvironment.createLocal with the built temporal
// binary), mocked activities and a fake `deployment` child. No time skipping: short real waits.
import assert from 'node:assert/strict';
import { saveHistory } from '../helpers/histories';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, DefaultLogger, Runtime } from '@temporalio/worker';
import { preloadModules } from '../../src/workers/worker';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { defaultPolicy, parseProposal, REVIEW_CHECKLIST, type PolicyConfig } from '../../src/domain';
import { policyDigest } from '../../src/domain/policy';
import { proposalDigest } from '../../src/domain/proposal';
import type { SignedActionName } from '../../src/domain/statement';
import type { LoadedPolicy } from '../../src/contracts/policy';
import { commitOf, signAs, testPeople } from '../helpers/signing';
import type { BlackoutRule, Weekday } from '../../src/domain/policy';
import { ensureTemporalCli } from '../../src/dev/tools';
import { SEARCH_ATTRIBUTES } from '../../src/dev/temporal';
import type { AuditEvent } from '../../src/activities/audit/api';
import { renderChangeReport } from '../../src/activities/reports';
import { listQuery } from '../../src/client/list';
import { changeWorkflowId, type ChangeLifecycleInput, type ChangeState } from '../../src/workflows/lifecycle-api';

const TQ = 'lifecycle-test';
const audit: AuditEvent[] = [];
/** While set, the fake audit store refuses approvals as an unreachable one would (fail-closed test). */
let auditDown = false;
const reports = new Map<string, string>();
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let n = 0;

/** The worker's policy, as its loadPolicy activity returns it; a test may change it (an edit of the worker's config). */
let workerPolicy: PolicyConfig;
/** Where each ref points in the fake repo; a test may move a ref. */
const refs = new Map<string, string>();

function policy(over: Partial<PolicyConfig> = {}): PolicyConfig {
  const p = defaultPolicy({ people: testPeople() as never });
  // The weekly blackout is tested in the domain; here the window is open unless a freeze says otherwise.
  return { ...p, windows: { ...p.windows, blackout: [] }, approvalReminderHours: 1, ...over };
}

function proposal(over: Record<string, unknown> = {}) {
  return parseProposal({
    title: 'Fix a label',
    type: 'cosmetic',
    affectedModules: ['ui'],
    description: 'd',
    reason: 'r',
    financialImpact: false,
    complianceImpact: false,
    dataMigrationRequired: false,
    rollbackComplexity: 'low',
    proposer: 'alice',
    gitRef: 'r02-cosmetic',
    tests: 'written',
    ...over,
  });
}

async function start(client: Client, p = proposal(), pol = policy(), signer = p.proposer, extra: Partial<ChangeLifecycleInput> = {}, opts: { typedSearchAttributes?: { key: never; value: never }[] } = {}) {
  workerPolicy = pol;
  const changeId = `T${process.pid}-${++n}`;
  const workflowId = changeWorkflowId(changeId);
  const signedProposal = signAs(signer, p.hotfixReason ? 'hotfix' : 'propose', { subject: changeId, workflowId, proposalDigest: proposalDigest(p), policyDigest: policyDigest(pol) });
  const input: ChangeLifecycleInput = { changeId, proposal: p, proposedAtMs: Date.now(), signedProposal, ...extra };
  return client.workflow.start('changeLifecycle', { taskQueue: TQ, workflowId, args: [input], staticSummary: p.title, ...opts });
}

type Handle = Awaited<ReturnType<typeof start>>;
/** A signed action about the change as it is now (its commit, proposal and policy), as the CLI would make it. */
async function signed(h: Handle, as: string, action: SignedActionName, decision: Record<string, unknown> = {}, opts: Parameters<typeof signAs>[4] = {}) {
  const s = await status(h);
  return signAs(as, action, { subject: s.changeId, workflowId: s.workflowId, commit: s.commit ?? null, proposalDigest: s.proposalDigest, policyDigest: s.policyDigest }, decision, opts);
}
const act = async (h: Handle, as: string, action: SignedActionName, decision: Record<string, unknown> = {}) =>
  (await h.executeUpdate(action, { args: [await signed(h, as, action, decision)] })) as ChangeState;

const full = [...REVIEW_CHECKLIST];
const status = async (h: { query: (q: string) => Promise<unknown> }) => (await h.query('status')) as ChangeState;
async function until(h: { query: (q: string) => Promise<unknown> }, pred: (s: ChangeState) => boolean, ms = 20_000): Promise<ChangeState> {
  const t0 = Date.now();
  for (;;) {
    const s = await status(h);
    if (pred(s)) return s;
    if (Date.now() - t0 > ms) throw new Error(`timed out; state: phase ${s.phase}, waiting for ${s.waitingFor}`);
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

async function startWorker(): Promise<void> {
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TQ,
    workflowsPath: require.resolve('./fake-workflows'),
    // The worker's own preloaded modules (shared, frozen zod/yaml/noble): these tests run the workflows as deployed.
    bundlerOptions: { preloadModules: preloadModules() },
    activities: {
      async appendAuditEvent(e: AuditEvent) {
        if (auditDown && e.kind === 'approved') throw new Error('connect ECONNREFUSED 127.0.0.1:5432 (audit store down)');
        audit.push(e);
        return { seq: audit.length, hash: 'h' };
      },
      async listAuditEvents() {
        return [];
      },
      async loadPolicy(): Promise<LoadedPolicy> {
        return { policy: workerPolicy, digest: policyDigest(workerPolicy), protectedTables: { staging: workerPolicy.protectedTables, production: workerPolicy.protectedTables } };
      },
      async resolveCommit(i: { gitRef: string }) {
        return { commit: refs.get(i.gitRef) ?? commitOf(i.gitRef) };
      },
      async writeChangeReport(i: { changeId: string; state: ChangeState }) {
        reports.set(i.changeId, renderChangeReport(i.state));
        return { path: `/reports/${i.changeId}.md`, sha256: 'x' };
      },
    },
  });
  running = worker.run();
}

/**
 * The weekly blackout rule (§15, "not on Friday night": fri 16:00 → mon 06:00 by default) moved to this very minute
 * in the policy's time zone, ending at a minute boundary at least 20 s away: the same rule and the same durable wait
 * as on a Friday night, without a time-skipping server (none is available here).
 */
function blackoutAroundNow(timeZone: string, nowMs: number): { rule: BlackoutRule; endsAtMs: number } {
  const parts = (t: number) => {
    const f = new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(t);
    const get = (type: string) => f.find((x) => x.type === type)!.value;
    return { day: get('weekday').toLowerCase() as Weekday, time: `${get('hour')}:${get('minute')}` };
  };
  let endsAtMs = Math.ceil((nowMs + 1) / 60_000) * 60_000;
  if (endsAtMs - nowMs < 20_000) endsAtMs += 60_000;
  const from = parts(nowMs);
  const to = parts(endsAtMs);
  return { rule: { fromDay: from.day, fromTime: from.time, toDay: to.day, toTime: to.time }, endsAtMs };
}

describe('changeLifecycle (local Temporal, fake deployment)', () => {
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
    await startWorker();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('takes a Low change all the way to completed', async () => {
    const h = await start(env.client);
    await until(h, (s) => s.phase === 'approval');
    const s1 = (await act(h, 'carol', 'approve', { comment: 'ok' })) as ChangeState;
    assert.equal(s1.signoffs.length, 1);
    const s = (await h.result()) as ChangeState;
    assert.equal(s.phase, 'completed');
    assert.deepEqual(s.history.map((x) => x.to), ['planning', 'implementation', 'review', 'staging-test', 'approval', 'deployment', 'post-deployment-review', 'completed']);
    assert.deepEqual(s.deployments.map((d) => `${d.environment}:${d.status}`), ['staging:deployed', 'production:deployed']);
    assert.equal(s.releaseVersion, 'v1.0.1');
    assert.ok(reports.get(s.changeId)?.includes('Post-Deployment Report'));
    const kinds = audit.filter((e) => e.subject === s.changeId).map((e) => e.kind);
    for (const k of ['proposed', 'approved', 'phase-changed', 'deployed', 'report']) assert.ok(kinds.includes(k as never), k);
    const ids = audit.filter((e) => e.subject === s.changeId).map((e) => e.eventId);
    assert.equal(new Set(ids).size, ids.length, 'audit event ids are unique');
    const desc = await h.describe();
    assert.equal(desc.typedSearchAttributes.get({ name: 'ChangePhase', type: 'KEYWORD' } as never), 'completed');
    saveHistory('changeLifecycle', 'low-completed', await h.fetchHistory());
  });

  it('an approval the audit store cannot record is refused and not applied; sent again once the store is back, it counts', async () => {
    const h = await start(env.client);
    await until(h, (s) => s.phase === 'approval');
    auditDown = true;
    try {
      assert.match(await updateError(act(h, 'carol', 'approve', { comment: 'ok' })), /audit store could not record the approval by carol, so it was NOT applied/);
    } finally {
      auditDown = false;
    }
    const held = await status(h);
    assert.equal(held.signoffs.length, 0, 'the unrecorded approval is not applied');
    assert.equal(held.phase, 'approval');
    assert.ok(held.auditFailures.some((f) => /approved.*ECONNREFUSED/.test(f)), JSON.stringify(held.auditFailures));
    await act(h, 'carol', 'approve', { comment: 'ok' });
    const s = (await h.result()) as ChangeState;
    assert.equal(s.phase, 'completed');
    assert.equal(audit.filter((e) => e.subject === s.changeId && e.kind === 'approved').length, 1, 'one approval, recorded once');
  });

  it('refuses self-approval and a wrong role at once, with the reason', async () => {
    const h = await start(env.client);
    await until(h, (s) => s.phase === 'approval');
    assert.match(await updateError(act(h, 'alice', 'approve')), /alice is the proposer.*maker-checker/);
    assert.match(await updateError(act(h, 'bob', 'approve')), /holds none of the roles|does not hold/);
    assert.match(await updateError(act(h, 'erin', 'approve', { role: 'approver' })), /does not hold the approver role/);
    const s = await status(h);
    assert.equal(s.signoffs.length, 0);
    await act(h, 'alice', 'withdraw', { reason: 'test over' });
    assert.equal(((await h.result()) as ChangeState).phase, 'withdrawn');
  });

  it('a Critical financial change needs the auditor review and two distinct approvers', async () => {
    const h = await start(env.client, proposal({ title: 'Interest rounding', type: 'financial-logic', financialImpact: true, gitRef: 'r05' }));
    await until(h, (s) => s.phase === 'review');
    let s = await status(h);
    assert.equal(s.risk, 'critical');
    // A standard review is not what is needed; the auditor-mode review is.
    assert.match(await updateError(act(h, 'bob', 'submitReview', { mode: 'standard', checklist: full })), /no more|not required|needs no/i);
    assert.match(await updateError(act(h, 'erin', 'submitReview', { mode: 'auditor', checklist: ['tenant-safe'] })), /checklist|missing/i);
    await act(h, 'erin', 'submitReview', { mode: 'auditor', checklist: full });
    s = await until(h, (x) => x.phase === 'approval');
    assert.ok(s.awaiting.includes('approver'));
    await act(h, 'carol', 'approve');
    assert.match(await updateError(act(h, 'carol', 'approve')), /already/);
    s = await status(h);
    assert.equal(s.phase, 'approval', 'one approver is not enough');
    await act(h, 'dave', 'approve');
    s = await status(h);
    if (s.phase === 'approval') {
      // the auditor approval slot (Critical: 2 approvers + 1 auditor); erin reviewed already, so another person is needed
      assert.ok(s.missing.length > 0);
      assert.match(await updateError(act(h, 'erin', 'approve')), /already signed|different person/);
      await act(h, 'alice', 'withdraw', { reason: 'no second auditor in the demo policy' });
      assert.equal(((await h.result()) as ChangeState).phase, 'withdrawn');
    } else {
      const done = (await h.result()) as ChangeState;
      assert.notEqual(done.phase, 'approval');
    }
  });

  it('records an invalid signal as a rejected attempt and changes nothing', async () => {
    const h = await start(env.client);
    const before = await until(h, (s) => s.phase === 'approval');
    await h.signal('approve', { by: 42 } as never);
    await h.signal('approve', await signed(h, 'alice', 'approve'));
    const s = await until(h, (x) => x.rejectedAttempts.length === 2);
    assert.equal(s.signoffs.length, before.signoffs.length);
    assert.equal(s.phase, 'approval');
    assert.equal(s.rejectedAttempts[0]!.code, 'unsigned');
    assert.equal(s.rejectedAttempts[1]!.code, 'self-approval');
    // The audit append is an activity that runs after the state changed: wait for it.
    for (let i = 0; i < 100 && !audit.some((e) => e.subject === s.changeId && e.kind === 'rejected-attempt'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(audit.some((e) => e.subject === s.changeId && e.kind === 'rejected-attempt'));
    await h.signal('approve', await signed(h, 'carol', 'approve'));
    assert.equal(((await h.result()) as ChangeState).phase, 'completed');
    saveHistory('changeLifecycle', 'invalid-signal', await h.fetchHistory());
  });

  it('waits for a production window that opens a few seconds later, then deploys', async () => {
    const now = Date.now();
    const pol = policy({ freezes: [{ from: 'x', to: 'y', reason: 'test freeze', environments: ['production'], fromMs: now - 60_000, toMs: now + 20_000 }] });
    const h = await start(env.client, proposal(), pol);
    await until(h, (s) => s.phase === 'approval');
    await act(h, 'carol', 'approve');
    const w = await until(h, (s) => s.window !== undefined);
    assert.equal(w.window!.open, false);
    assert.match(w.waitingFor, /window/);
    assert.equal(w.phase, 'approval');
    const s = (await h.result()) as ChangeState;
    assert.equal(s.phase, 'completed');
    const deployedAt = Date.parse(s.history.find((x) => x.to === 'deployment')!.at);
    assert.ok(deployedAt >= now + 20_000 - 50, 'deployment started only after the freeze ended');
  });

  it('waits durably over the weekly blackout (the Friday-night rule, placed at this minute), across a worker restart', async () => {
    const base = policy();
    const { rule, endsAtMs } = blackoutAroundNow(base.timeZone, Date.now());
    const h = await start(env.client, proposal(), policy({ windows: { ...base.windows, blackout: [rule] } }));
    await until(h, (s) => s.phase === 'approval');
    await act(h, 'carol', 'approve');
    const w = await until(h, (s) => s.window !== undefined);
    assert.equal(w.window!.open, false, JSON.stringify(w.window));
    assert.match(w.window!.reason, /blackout/);
    assert.match(w.waitingFor, /window/);
    // The wait is a durable timer in the history, not a sleeping worker: stop the worker and start a new one.
    worker.shutdown();
    await running;
    await startWorker();
    const s = (await h.result()) as ChangeState;
    assert.equal(s.phase, 'completed');
    const deployedAt = Date.parse(s.history.find((x) => x.to === 'deployment')!.at);
    assert.ok(deployedAt >= endsAtMs - 50, `deployment started at ${new Date(deployedAt).toISOString()}, before the blackout ended`);
  });

  it('ends a High change only after the post-deployment review (§12)', async () => {
    const h = await start(env.client, proposal({ title: 'Migration', type: 'feature', dataMigrationRequired: true, gitRef: 'r03' }));
    await until(h, (s) => s.phase === 'review');
    await act(h, 'grace', 'submitReview', { mode: 'dba', checklist: full });
    await until(h, (s) => s.phase === 'approval');
    await act(h, 'carol', 'approve');
    await act(h, 'dave', 'approve');
    await until(h, (s) => s.phase === 'post-deployment-review');
    assert.match(await updateError(act(h, 'alice', 'submitPostDeploymentReview')), /must be given/);
    await act(h, 'alice', 'submitPostDeploymentReview', { issuesEncountered: 'none', unexpectedBehavior: 'none', performanceImpact: 'none', securityImpact: 'none', followUpRequired: false });
    const s = (await h.result()) as ChangeState;
    assert.equal(s.phase, 'completed');
    assert.match(reports.get(s.changeId)!, /Issues encountered: none/);
    saveHistory('changeLifecycle', 'high-post-deployment-review', await h.fetchHistory());
  });

  describe('trust: the worker owns the policy, the signature is the identity', () => {
    it('refuses an input that carries its own policy or protected tables (temporal workflow start with a weakened policy)', async () => {
      const p = proposal();
      const changeId = `T${process.pid}-${++n}`;
      const workflowId = changeWorkflowId(changeId);
      const signedProposal = signAs('alice', 'propose', { subject: changeId, workflowId, proposalDigest: proposalDigest(p) });
      const weak = { ...policy(), quorum: { low: { approver: 0, reviewer: 0, auditor: 0 } }, protectedTables: [] };
      const h = await env.client.workflow.start('changeLifecycle', { taskQueue: TQ, workflowId, args: [{ changeId, proposal: p, proposedAtMs: Date.now(), signedProposal, policy: weak, protectedTables: [] } as never] });
      await assert.rejects(h.result(), (err: Error) => /policy.*worker's own config/.test(String((err as { cause?: Error }).cause?.message ?? err.message)));
    });

    it('refuses a proposal signed by someone other than its proposer, and an unsigned one', async () => {
      const forged = await start(env.client, proposal(), policy(), 'bob');
      const s = (await forged.result()) as ChangeState;
      assert.equal(s.phase, 'rejected');
      assert.match(s.outcome ?? '', /signer-mismatch|signed by bob/);
      assert.equal(s.signoffs.length, 0);
      const changeId = `T${process.pid}-${++n}`;
      const unsigned = await env.client.workflow.start('changeLifecycle', { taskQueue: TQ, workflowId: changeWorkflowId(changeId), args: [{ changeId, proposal: proposal(), proposedAtMs: Date.now() } as never] });
      const u = (await unsigned.result()) as ChangeState;
      assert.equal(u.phase, 'rejected');
      assert.match(u.outcome ?? '', /unsigned/);
    });

    it('refuses approvals with an unknown key, another person\'s key, a replay, a stale or misdirected statement; unsigned signals are recorded, never applied', async () => {
      const h = await start(env.client);
      const s0 = await until(h, (s) => s.phase === 'approval');
      assert.match(s0.commit ?? '', /^[0-9a-f]{40}$/, 'the ref is resolved to a full commit at review');
      assert.equal(s0.policyDigest, policyDigest(workerPolicy));
      // mallory is nobody in the policy; her key signs "carol"
      assert.match(await updateError(h.executeUpdate('approve', { args: [await signed(h, 'carol', 'approve', {}, { keyOf: 'mallory' })] })), /belongs to nobody/);
      // dave's own key, claiming to be carol
      assert.match(await updateError(h.executeUpdate('approve', { args: [await signed(h, 'dave', 'approve', {}, { signer: 'carol' })] })), /claims signer "carol" but the key is dave's/);
      // stale: issued an hour ago
      assert.match(await updateError(h.executeUpdate('approve', { args: [await signed(h, 'carol', 'approve', {}, { issuedAtMs: Date.now() - 3_600_000 })] })), /minutes ago/);
      // for another change, and for another commit
      const other = signAs('carol', 'approve', { subject: 'CHG-other', workflowId: 'change-CHG-other', commit: s0.commit, proposalDigest: s0.proposalDigest, policyDigest: s0.policyDigest });
      assert.match(await updateError(h.executeUpdate('approve', { args: [other] })), /is for CHG-other/);
      const wrongCommit = signAs('carol', 'approve', { subject: s0.changeId, workflowId: s0.workflowId, commit: 'b'.repeat(40), proposalDigest: s0.proposalDigest, policyDigest: s0.policyDigest });
      assert.match(await updateError(h.executeUpdate('approve', { args: [wrongCommit] })), /about commit b{40}/);
      // tampered: the statement changed after signing
      const good = await signed(h, 'carol', 'approve', { comment: 'fine' });
      const tampered = { ...good, statement: good.statement.replace('"fine"', '"fine!"') };
      assert.match(await updateError(h.executeUpdate('approve', { args: [tampered] })), /does not match the statement/);
      // the Web UI path: unsigned and forged signals are recorded as rejected attempts
      await h.signal('approve', { by: 'carol' } as never);
      await h.signal('approve', await signed(h, 'carol', 'approve', {}, { keyOf: 'mallory' }));
      const r = await until(h, (x) => x.rejectedAttemptCount === 2);
      assert.deepEqual(r.rejectedAttempts.map((a) => a.code), ['unsigned', 'unknown-key']);
      assert.equal(r.signoffs.length, 0, 'nothing counted');
      // a good one counts once; its replay is refused
      const once = await signed(h, 'dave', 'approve');
      await h.executeUpdate('approve', { args: [once] }).catch(() => undefined);
      const after = await status(h);
      if (after.phase === 'approval') assert.match(await updateError(h.executeUpdate('approve', { args: [once] })), /already used|already/);
      const done = (await h.result()) as ChangeState;
      assert.equal(done.phase, 'completed');
      assert.deepEqual(done.signoffs.map((x) => x.by), ['dave']);
      assert.ok(audit.some((e) => e.subject === done.changeId && e.kind === 'approved' && typeof e.details.signature === 'string' && String(e.details.statement).includes('"signer":"dave"')), 'the audit row keeps the statement and signature');
    });

    it('a ref moved after approval never deploys the new commit', async () => {
      const ref = `release-${process.pid}-${n + 1}`;
      refs.set(ref, commitOf(`${ref}-A`));
      const h = await start(env.client, proposal({ gitRef: ref }));
      const s0 = await until(h, (s) => s.phase === 'approval');
      assert.equal(s0.commit, commitOf(`${ref}-A`));
      refs.set(ref, commitOf(`${ref}-B`)); // someone pushes to the branch after staging passed
      await act(h, 'carol', 'approve');
      const done = (await h.result()) as ChangeState;
      assert.equal(done.phase, 'completed');
      assert.deepEqual(done.deployments.map((d) => d.commit), [commitOf(`${ref}-A`), commitOf(`${ref}-A`)], 'staging and production deploy the approved commit');
      assert.equal(done.refMoves.length, 1);
      assert.equal(done.refMoves[0]!.to, commitOf(`${ref}-B`));
      assert.ok(audit.some((e) => e.subject === done.changeId && e.kind === 'ref-moved'));
    });

    it('a ref moved during review re-pins the change and voids the reviews given for the old commit', async () => {
      const ref = `review-${process.pid}-${n + 1}`;
      refs.set(ref, commitOf(`${ref}-A`));
      const h = await start(env.client, proposal({ title: 'Migration', type: 'feature', dataMigrationRequired: true, gitRef: ref }));
      await until(h, (s) => s.phase === 'review' && s.commit !== undefined);
      refs.set(ref, commitOf(`${ref}-B`));
      await act(h, 'grace', 'submitReview', { mode: 'dba', checklist: full });
      const s = await until(h, (x) => x.commit === commitOf(`${ref}-B`));
      assert.equal(s.phase, 'review', 'back to waiting for reviews of the new commit');
      assert.equal(s.refMoves.length, 1);
      await act(h, 'alice', 'withdraw', { reason: 'test over' });
      assert.equal(((await h.result()) as ChangeState).phase, 'withdrawn');
    });

    it('a person removed from the worker\'s policy after the change started can no longer approve (the stricter policy applies)', async () => {
      const pol = policy();
      const h = await start(env.client, proposal(), pol);
      await until(h, (s) => s.phase === 'approval');
      // The worker's config is edited: carol has left. Her approval is accepted under the policy the change has,
      // but the approval gate reloads the worker's policy, and a person who has left counts no more.
      workerPolicy = { ...pol, people: pol.people.filter((p) => p.id !== 'carol') };
      await act(h, 'carol', 'approve');
      const waiting = await until(h, (x) => x.policyDigest !== x.policyDigestAtStart && x.phase === 'approval' && x.missing.length > 0);
      assert.match(waiting.waitingFor, /approvals/);
      await act(h, 'dave', 'approve');
      const s = (await h.result()) as ChangeState;
      assert.equal(s.phase, 'completed');
      assert.notEqual(s.policyDigest, s.policyDigestAtStart, 'the new digest is recorded');
      assert.ok(audit.some((e) => e.subject === s.changeId && e.kind === 'policy-changed'), 'a policy change is an audit event with both digests');
    });
  });

  describe('continue-as-new: a long-lived change rolls over at a wait for people and loses nothing', () => {
    const migration = () => proposal({ title: 'Migration', type: 'feature', dataMigrationRequired: true, gitRef: 'r03' });
    /** A threshold low enough that a run waiting for people rolls over after a few messages. */
    const cheap = { maxHistoryEventsPerRun: 50 };
    /**
     * Waits until the change runs in a new run (continued as new), pushing its history with refused Signals (each
     * one events and an audit append) while the old run is still the current one; returns the new run's id.
     */
    async function rollOver(h: Handle): Promise<string> {
      const from = (await h.describe()).runId;
      for (let i = 0; i < 80; i++) {
        const d = await h.describe();
        if (d.runId !== from && d.status.name === 'RUNNING') return d.runId;
        if (d.runId === from) await h.signal('approve', { by: 'nobody' } as never);
        await new Promise((r) => setTimeout(r, 150));
      }
      throw new Error('the change did not continue as new');
    }

    it('a change forced to continue as new while it waits is reviewed, approved (Update and Signal), deploys and completes', async () => {
      const sa = [
        { key: { name: 'ChangeId', type: 'KEYWORD' }, value: `can-${process.pid}-${n + 1}` },
        { key: { name: 'RiskLevel', type: 'KEYWORD' }, value: 'high' },
      ] as never[];
      const h = await start(env.client, migration(), policy(), undefined, cheap, { typedSearchAttributes: sa });
      const firstRun = h.firstExecutionRunId;
      await until(h, (s) => s.phase === 'review');
      await act(h, 'grace', 'submitReview', { mode: 'dba', checklist: full });
      const before = await until(h, (s) => s.phase === 'approval');
      await rollOver(h);
      const after = await status(h);
      assert.equal(after.phase, 'approval');
      assert.equal(after.commit, before.commit, 'the commit pinning is carried');
      assert.equal(after.policyDigestAtStart, before.policyDigestAtStart);
      assert.deepEqual(after.signoffs, before.signoffs, 'the review is carried');
      assert.deepEqual(after.history, before.history, 'the phase history is carried');
      assert.ok(after.rejectedAttemptCount >= before.rejectedAttemptCount);
      assert.deepEqual(after.awaiting, ['approver']);
      // The new run's Web UI details are drawn at once: the title, the phase, the review given.
      const meta = (await h.query('__temporal_workflow_metadata')) as { currentDetails?: string };
      assert.match(meta.currentDetails ?? '', /: Migration\n[\s\S]*\*\*Phase:\*\* approval[\s\S]*— grace/);
      await act(h, 'carol', 'approve', { comment: 'after the rollover' }); // an Update, to the new run
      await rollOver(h); // and once more: a chain of runs
      await h.signal('approve', await signed(h, 'dave', 'approve')); // a Signal
      await until(h, (s) => s.phase === 'post-deployment-review');
      await rollOver(h); // and while it waits for the post-deployment review
      await act(h, 'alice', 'submitPostDeploymentReview', { issuesEncountered: 'none', unexpectedBehavior: 'none', performanceImpact: 'none', securityImpact: 'none', followUpRequired: false });
      const done = (await h.result()) as ChangeState; // the handle follows the runs
      assert.equal(done.phase, 'completed');
      assert.deepEqual(done.history.map((x) => x.to), ['planning', 'implementation', 'review', 'staging-test', 'approval', 'deployment', 'post-deployment-review', 'completed']);
      assert.deepEqual(done.signoffs.map((x) => `${x.kind}:${x.by}`), ['review:grace', 'approval:carol', 'approval:dave']);
      // Deployment ids are numbered by the carried attempt count: staging 1, production 2, as without a rollover.
      assert.deepEqual(done.deployments.map((d) => `${d.environment}:${d.status}:${d.workflowId.replace(/^.*-(\w+-\d+)$/, '$1')}`), ['staging:deployed:staging-1', 'production:deployed:production-2']);
      assert.equal(done.releaseVersion, 'v1.0.1');
      assert.match(reports.get(done.changeId) ?? '', /Issues encountered: none/);
      // The audit sequence is carried: event ids (the store's idempotency keys) never repeat across runs.
      const rows = audit.filter((e) => e.subject === done.changeId);
      assert.equal(new Set(rows.map((e) => e.eventId)).size, rows.length, 'audit event ids are unique across runs');
      assert.deepEqual(rows.filter((e) => e.kind === 'approved').map((e) => e.actor), ['carol', 'dave']);
      // Three runs or more, all but the last continued as new; the last has the search attributes and summary.
      const runs: string[] = [];
      for await (const w of env.client.workflow.list({ query: `WorkflowId = "${h.workflowId}"` })) runs.push(w.status.name);
      assert.ok(runs.length >= 3, runs.join(','));
      assert.equal(runs.filter((x) => x === 'CONTINUED_AS_NEW').length, runs.length - 1, runs.join(','));
      const desc = await h.describe();
      assert.notEqual(desc.runId, firstRun);
      assert.equal(desc.typedSearchAttributes.get({ name: 'ChangeId', type: 'KEYWORD' } as never), `can-${process.pid}-${n}`);
      assert.equal(desc.typedSearchAttributes.get({ name: 'RiskLevel', type: 'KEYWORD' } as never), 'high');
      assert.equal(desc.typedSearchAttributes.get({ name: 'ChangePhase', type: 'KEYWORD' } as never), 'completed');
      // `steward list` shows the change once (its current run), with the phase of that run.
      const listed: string[] = [];
      for await (const w of env.client.workflow.list({ query: `${listQuery({})} AND WorkflowId = "${h.workflowId}"` })) listed.push(`${w.runId}:${w.status.name}`);
      assert.deepEqual(listed, [`${desc.runId}:COMPLETED`]);
      saveHistory('changeLifecycle', 'continued-as-new-first-run', await env.client.workflow.getHandle(h.workflowId, firstRun).fetchHistory());
      saveHistory('changeLifecycle', 'continued-as-new-last-run', await h.fetchHistory());
    });

    it('a hotfix rolls over while it waits for its full review and keeps the due date', async () => {
      const h = await start(env.client, proposal({ title: 'Outage fix', hotfixReason: 'production-outage', targetEnvironments: ['production'] }), policy(), undefined, cheap);
      await until(h, (s) => s.phase === 'review');
      await act(h, 'bob', 'submitReview', { mode: 'standard', checklist: full });
      await until(h, (s) => s.phase === 'approval');
      await act(h, 'ivan', 'approve', { role: 'emergency-approver' });
      await until(h, (s) => s.phase === 'post-deployment-review');
      await act(h, 'alice', 'submitPostDeploymentReview', { issuesEncountered: 'none', unexpectedBehavior: 'none', performanceImpact: 'none', securityImpact: 'none', followUpRequired: false });
      const before = await until(h, (s) => s.phase === 'full-review' && /due 20/.test(s.waitingFor));
      await rollOver(h);
      const after = await status(h);
      assert.equal(after.phase, 'full-review');
      assert.equal(after.waitingFor, before.waitingFor, 'the due date is carried, not recomputed');
      assert.equal(after.postDeploymentReview?.by, 'alice');
      await act(h, 'bob', 'submitReview', { mode: 'standard', checklist: full });
      const done = (await h.result()) as ChangeState;
      assert.equal(done.phase, 'completed');
      assert.equal(done.fullReview?.by, 'bob');
      assert.deepEqual(done.history.map((x) => x.to), ['review', 'approval', 'deployment', 'post-deployment-review', 'full-review', 'completed']);
    });

    it('a statement used before the rollover is refused after it (the nonce book is carried)', async () => {
      const h = await start(env.client, migration(), policy(), undefined, cheap);
      await until(h, (s) => s.phase === 'review');
      await act(h, 'grace', 'submitReview', { mode: 'dba', checklist: full });
      await until(h, (s) => s.phase === 'approval');
      const carol = await signed(h, 'carol', 'approve');
      await h.executeUpdate('approve', { args: [carol] });
      await rollOver(h);
      assert.match(await updateError(h.executeUpdate('approve', { args: [carol] })), /already used/);
      const count = (await status(h)).rejectedAttemptCount;
      await h.signal('approve', carol);
      const s = await until(h, (x) => x.rejectedAttemptCount > count && x.rejectedAttempts.some((a) => a.code === 'replay'));
      assert.deepEqual(s.signoffs.filter((x) => x.kind === 'approval').map((x) => x.by), ['carol'], 'counted once');
      await act(h, 'alice', 'withdraw', { reason: 'test over' });
      assert.equal(((await h.result()) as ChangeState).phase, 'withdrawn');
    });

    it('an approval deadline that spans the rollover still expires on time (absolute, not restarted)', async () => {
      const ttlMs = 6000;
      const h = await start(env.client, migration(), policy({ approvalTtlHours: ttlMs / 3_600_000 }), undefined, cheap);
      await until(h, (s) => s.phase === 'review');
      await act(h, 'grace', 'submitReview', { mode: 'dba', checklist: full });
      await until(h, (s) => s.phase === 'approval');
      const s1 = await act(h, 'carol', 'approve');
      const expiresAtMs = s1.signoffs.find((x) => x.kind === 'approval' && x.by === 'carol')!.expiresAtMs!;
      await rollOver(h);
      const s2 = await status(h);
      assert.equal(s2.signoffs.find((x) => x.kind === 'approval' && x.by === 'carol')?.expiresAtMs, expiresAtMs, 'the expiry is carried as an absolute time');
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAtMs - Date.now()) + 300));
      await act(h, 'dave', 'approve');
      const s3 = await until(h, (x) => x.signoffs.some((y) => y.by === 'dave'));
      assert.equal(s3.phase, 'approval', "carol's approval expired on time: two approvers are still needed");
      assert.ok(s3.missing.length > 0, JSON.stringify(s3.missing));
      await act(h, 'alice', 'withdraw', { reason: 'test over' });
      assert.equal(((await h.result()) as ChangeState).phase, 'withdrawn');
    });

    it('refuses a start that carries a forged state (it is no continue-as-new of the change), and a threshold out of bounds', async () => {
      const forged = { version: 1, stage: 'post-deployment-review', state: { phase: 'post-deployment-review', commit: 'a'.repeat(40), deployments: [] }, signoffs: [], trust: {}, auditSeq: 1, attempt: 2 };
      const h = await start(env.client, proposal(), policy(), undefined, { carried: forged as never });
      const why = (err: unknown) => String((err as { cause?: Error }).cause?.message ?? (err as Error).message);
      await assert.rejects(h.result(), (err) => /carried is only accepted on a continue-as-new of the same change/.test(why(err)));
      const low = await start(env.client, proposal(), policy(), undefined, { maxHistoryEventsPerRun: 1 });
      await assert.rejects(low.result(), (err) => /maxHistoryEventsPerRun must be a whole number from 50 to 40000/.test(why(err)));
      for (const x of [h, low]) assert.ok(!audit.some((e) => e.subject === x.workflowId.replace(/^change-/, '')), 'nothing recorded');
    });
  });

  it('a failed staging deployment sends the change back to implementation and ends it', async () => {
    const h = await start(env.client, proposal({ gitRef: 'r04-smoke-fails' }));
    const s = (await h.result()) as ChangeState;
    assert.equal(s.phase, 'implementation');
    assert.match(s.outcome ?? '', /^staging-failed/);
    assert.equal(s.deployments[0]!.status, 'rolled-back');
  });
});
