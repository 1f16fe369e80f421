// What operators do to running work, against the real local stack: a change terminated mid-migration, a change
// cancelled mid-restart, the lock holder terminated, a forged `release` of the lock. Each from production at r02
// (banking 0002) towards r09 (migration 0003, new venv, full restart). Assertions look at the host, the database
// and HTTP (checkHost); each fault is recorded for the summary table.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { parseProposal, proposalDigest } from '../../src/domain/proposal';
import { parsePolicyConfig, policyDigest } from '../../src/domain/policy';
import { REVIEW_CHECKLIST } from '../../src/domain';
import { changeWorkflowId, type ChangeLifecycleInput, type ChangeState } from '../../src/workflows/lifecycle-api';
import type { DeploymentRecord } from '../../src/workflows/deployment';
import { lockWorkflowId, type LockStatus } from '../../src/workflows/environment-lock';
import { signAs, signForChange } from '../helpers/signing';
import {
  BASELINE_RELEASE,
  checkHost,
  connectClient,
  ENV,
  Host,
  invariants,
  log,
  MIGRATIONS_R02,
  MIGRATIONS_R03,
  pollStatus,
  recordFault,
  relConfig,
  relInput,
  resetBaseline,
  resultOf,
  sleep,
  startDeployment,
  stepsText,
  timeline,
  WorkerProcess,
  writeConfigCopy,
  type Expectation,
  type FaultRecord,
  isStep,
  QUICK,
} from './harness';

const ONLY = process.env.STEWARD_REL_ONLY;
/** The quick run inside `npm test` (CI's time budget): one change fault and one lock fault; the full run has all four. */
const QUICK_SET = ['terminate-change', 'forged-release'];
const maybe = (name: string) => (ONLY ? (name.includes(ONLY) ? it : it.skip) : QUICK && !QUICK_SET.includes(name) ? it.skip : it);

describe('operator actions on running changes and the lock', () => {
  const config = relConfig('ops');
  // The weekly blackout would hold a change in approval on a weekend run: this worker's policy has none.
  const rawPolicy = { ...((config.policy ?? {}) as Record<string, unknown>) };
  // (A blackout must exist: one minute, three days from now.)
  const tz = typeof rawPolicy.timeZone === 'string' ? rawPolicy.timeZone : 'Europe/London';
  const day = new Intl.DateTimeFormat('en-GB', { timeZone: tz, weekday: 'short' }).format(Date.now() + 3 * 86_400_000).toLowerCase();
  rawPolicy.windows = { ...((rawPolicy.windows ?? {}) as Record<string, unknown>), blackout: [{ fromDay: day, fromTime: '03:00', toDay: day, toTime: '03:01' }] };
  config.policy = rawPolicy;
  const policy = parsePolicyConfig(rawPolicy);
  const host = new Host(config);
  const worker = new WorkerProcess('ops', writeConfigCopy(config, 'ops'));
  let temporal: Awaited<ReturnType<typeof connectClient>>;
  let currentBefore: Record<string, unknown> | undefined;

  before(async () => {
    await worker.start().ready();
    temporal = await connectClient(config);
  });
  after(async () => {
    await worker.stop();
    await temporal?.close();
    host.close();
  });

  async function scenario(
    meta: Pick<FaultRecord, 'id' | 'fault'>,
    body: () => Promise<{ where: string; record: DeploymentRecord; expect: Omit<Expectation, 'releaseId' | 'invariantsBefore'>; extra: string[]; notes?: string[] }>,
  ): Promise<void> {
    const t0 = Date.now();
    let where = '';
    let outcome = 'did not finish';
    let problems: string[] = [];
    let dataLost: string[] = [];
    let notes: string[] = [];
    let steps = '';
    let injected = false;
    try {
      await resetBaseline(host, config);
      currentBefore = await invariants(host);
      const res = await body();
      injected = true;
      where = res.where;
      notes = res.notes ?? [];
      outcome = `${res.record.status}${res.record.reason ? ` (${res.record.reason.replace(/\s+/g, ' ').slice(0, 200)})` : ''}`;
      steps = timeline(res.record);
      const v = await checkHost(host, config, { ...res.expect, releaseId: res.record.releaseId, backupFile: res.record.backup?.file, invariantsBefore: currentBefore });
      problems = [...res.extra, ...v.problems];
      dataLost = v.dataLost;
    } catch (err) {
      problems.push(`error: ${(err as Error).message}`);
    }
    recordFault({
      ...meta,
      group: 'operator',
      where,
      injected,
      survived: injected && problems.length === 0,
      dataLost: dataLost.length > 0,
      outcome,
      detail: [...problems, ...dataLost.map((d) => `DATA: ${d}`), ...notes.map((n) => `note: ${n}`)].join('; '),
      seconds: Math.round((Date.now() - t0) / 1000),
      timeline: steps,
    });
    assert.deepEqual(problems, [], meta.id);
  }

  const stepRunning = (name: string) => (r: DeploymentRecord) => (r.steps.some((s) => isStep(s.name, name) && s.outcome === 'running') ? true : undefined);

  let n = 0;
  /** A real change (signed proposal, review, approval) for r09, through staging up to its production deployment. */
  async function changeUpToDeployment(): Promise<{ change: WorkflowHandle; deployment: WorkflowHandle }> {
    const changeId = `OPS${Date.now().toString(36).toUpperCase()}${++n}`;
    const proposal = parseProposal({
      title: 'Deposit channel', type: 'cosmetic', affectedModules: ['ui'], description: 'r09 for the operator tests', reason: 'reliability',
      financialImpact: false, complianceImpact: false, dataMigrationRequired: false, rollbackComplexity: 'low', proposer: 'alice',
      gitRef: 'r09-requirements', tests: 'written', targetEnvironments: ['staging', 'production'],
    });
    const workflowId = changeWorkflowId(changeId);
    const signedProposal = signAs('alice', 'propose', { subject: changeId, workflowId, proposalDigest: proposalDigest(proposal), policyDigest: policyDigest(policy) });
    const input: ChangeLifecycleInput = { changeId, proposal, proposedAtMs: Date.now(), signedProposal, humanDecisionTimeoutMs: 120_000 };
    const change = await temporal.client.workflow.start('changeLifecycle', { taskQueue: config.temporal.taskQueue, workflowId, args: [input] });
    const phase = async () => ((await change.query('status')) as ChangeState);
    const update = async (name: string, as: string, decision: Record<string, unknown>) => {
      try {
        await change.executeUpdate(name, { args: [await signForChange(change, as, name as never, decision)] });
      } catch (err) {
        throw new Error(`${name} by ${as} refused: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`);
      }
    };
    let reviewed = false;
    let approved = false;
    let s = await phase();
    for (; !(s.phase === 'deployment' && s.runningDeployment?.includes(`-${ENV}-`)); s = await phase()) {
      if (s.phase === 'review' && s.commit && !reviewed && s.missing.length > 0) {
        reviewed = true;
        await update('submitReview', 'bob', { mode: 'standard', checklist: [...REVIEW_CHECKLIST] });
      } else if (s.phase === 'approval' && !approved) {
        approved = true;
        await update('approve', 'carol', { comment: 'operator tests' });
      } else if (['rejected', 'withdrawn', 'failed', 'completed'].includes(s.phase)) {
        throw new Error(`the change ended ${s.phase} before its deployment: ${s.outcome}`);
      }
      await sleep(200);
    }
    const deployment = temporal.client.workflow.getHandle(s.runningDeployment!);
    return { change, deployment };
  }

  maybe('terminate-change')('the change is terminated mid-migration: its deployment finishes on its own', async () => {
    await scenario({ id: 'terminate-change-mid-migrate', fault: 'terminate the change while its deployment runs migrate' }, async () => {
      const { change, deployment } = await changeUpToDeployment();
      await pollStatus(deployment, stepRunning('run migrations'));
      await change.terminate('reliability: an operator terminates the change mid-migration');
      log(`terminated ${change.workflowId} during run migrations of ${deployment.workflowId}`);
      const record = await resultOf(deployment);
      const extra = record.status === 'deployed' ? [] : [`ended ${record.status}: ${record.reason}; ${stepsText(record)}`];
      return {
        where: 'run migrations running; the change terminated',
        record,
        extra,
        expect: { current: [record.releaseId], serves: ['r09-requirements'], backup: 'one', releaseDir: 'one', migrations: [MIGRATIONS_R03] },
      };
    });
  });

  maybe('cancel-change')('the change is cancelled mid-restart: the restart finishes, the deployment rolls back, the change records it', async () => {
    await scenario({ id: 'cancel-change-mid-restart', fault: 'cancel the change while its deployment restarts Gunicorn' }, async () => {
      const { change, deployment } = await changeUpToDeployment();
      await pollStatus(deployment, stepRunning('restart gunicorn'), 240_000, 20);
      await change.cancel();
      log(`cancelled ${change.workflowId} during restart gunicorn of ${deployment.workflowId}`);
      const record = await resultOf(deployment);
      const extra: string[] = [];
      if (record.status !== 'rolled-back') extra.push(`ended ${record.status}: ${record.reason}; ${stepsText(record)}`);
      if (!record.cancelled) extra.push('the deployment does not say it was cancelled');
      if (record.releaseTag) extra.push(`a cancelled deployment was tagged ${record.releaseTag}`);
      await change.result().catch(() => undefined);
      const ended = (await change.describe()).status.name;
      const s = (await change.query('status')) as ChangeState;
      if (ended !== 'CANCELLED') extra.push(`the change ended ${ended}, not CANCELLED`);
      if (s.cancelled?.status !== record.status) extra.push(`the change records the deployment as ${s.cancelled?.status}, it ended ${record.status}`);
      return {
        where: 'restart gunicorn running; the change cancelled',
        record,
        extra,
        notes: [`change: ${s.phase}, ${s.outcome}`],
        expect: { current: [BASELINE_RELEASE], serves: ['r02-cosmetic'], backup: 'one', releaseDir: 'any', migrations: [MIGRATIONS_R02] },
      };
    });
  });

  const lock = () => temporal.client.workflow.getHandle(lockWorkflowId(ENV, config.temporal.taskQueue));

  maybe('lock-holder')('the lock holder is terminated: the next deployment gets the lock and deploys', async () => {
    await scenario({ id: 'terminate-lock-holder', fault: 'terminate the deployment that holds the lock (before it changed what is served)' }, async () => {
      const a = await startDeployment(temporal.client, config, relInput('r09-requirements'));
      await pollStatus(a, stepRunning('pull the code'));
      await a.terminate('reliability: an operator terminates the lock holder');
      const t0 = Date.now();
      const b = await startDeployment(temporal.client, config, relInput('r09-requirements'));
      const record = await resultOf(b);
      const waited = record.steps.find((s) => s.name === 'wait for the environment lock');
      const extra: string[] = [];
      if (record.status !== 'deployed') extra.push(`the next deployment ended ${record.status}: ${record.reason}; ${stepsText(record)}`);
      if ((waited?.durationMs ?? Infinity) > 60_000) extra.push(`the next deployment waited ${waited?.durationMs} ms for the lock`);
      return {
        where: 'pull the code running; holder terminated, next deployment started',
        record,
        extra,
        notes: [`the next deployment took the lock after ${((waited?.durationMs ?? 0) / 1000).toFixed(1)} s, deployed in ${((Date.now() - t0) / 1000).toFixed(0)} s`],
        expect: { current: [record.releaseId], serves: ['r09-requirements'], backup: 'one', releaseDir: 'one', migrations: [MIGRATIONS_R03] },
      };
    });
  });

  maybe('forged-release')('a forged release of the lock is refused: the holder keeps it, the next deployment waits', async () => {
    await scenario({ id: 'forged-lock-release', fault: 'send `release` naming the holder (its workflow id, run id and ticket) from outside' }, async () => {
      const a = await startDeployment(temporal.client, config, relInput('r09-requirements'));
      await pollStatus(a, stepRunning('run migrations'));
      const runId = (await a.describe()).runId;
      await lock().signal('release', { requester: a.workflowId, runId, ticket: 1 });
      await lock().signal('release', { requester: a.workflowId });
      const bInput = relInput('r09-requirements');
      const b = await startDeployment(temporal.client, config, bInput);
      const extra: string[] = [];
      // While a still deploys, b must not touch the host: its release dir must not appear.
      const bDir = `${host.env.app.deployRoot}/releases/${bInput.changeId}-${ENV}-1`;
      for (;;) {
        const ra = (await a.query('status')) as DeploymentRecord;
        if ((await host.sh(['test', '-e', bDir])).exitCode === 0) {
          extra.push(`the second deployment prepared ${bDir} while the holder was at ${stepsText(ra).slice(-80)}`);
          break;
        }
        if (ra.finishedAt) break;
        await sleep(250);
      }
      const st = (await lock().query('status')) as LockStatus;
      const ra = await resultOf(a);
      if (ra.status !== 'deployed') extra.push(`the holder ended ${ra.status}: ${ra.reason}`);
      if ((st.refusedReleases ?? 0) < 2) extra.push(`the lock counts ${st.refusedReleases ?? 0} refused releases, expected at least 2`);
      const record = await resultOf(b);
      if (record.status !== 'deployed') extra.push(`the second deployment ended ${record.status}: ${record.reason}`);
      return {
        where: 'run migrations running; two forged releases, a second deployment waiting',
        record,
        extra,
        notes: [`lock: ${st.refusedReleases} refused release(s), last: ${st.lastRefused?.at(-1)?.reason ?? '-'}`],
        // b deploys r09 again after a: nothing left to migrate, the same schema.
        expect: { current: [record.releaseId], serves: ['r09-requirements'], backup: 'one', releaseDir: 'one', migrations: [MIGRATIONS_R03] },
      };
    });
  });
});
