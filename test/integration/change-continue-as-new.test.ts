// A long-lived change continues as new on the real stack (a worker with its real activities, the Temporal dev
// server, the audit store in PostgreSQL, the sshd hosts and the demo app): forced to roll over while it waits for
// approval, it is seen, listed and approved through the real CLI on its new run, deploys, and its audit trail is
// whole (the store refuses an event id used again with other content, so a restarted sequence would fail closed).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { createAuditActivities } from '../../src/activities/audit/store';
import { parsePolicyConfig, policyDigest } from '../../src/domain/policy';
import { parseProposal, proposalDigest } from '../../src/domain/proposal';
import { changeWorkflowId, type ChangeLifecycleInput, type ChangeState } from '../../src/workflows/lifecycle-api';
import { signAs } from '../helpers/signing';
import { devConfig } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const config = devConfig('can');
const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-can-'));
const configFile = path.join(dir, 'steward.config.yaml');
writeFileSync(configFile, stringify(config));
const env = { ...process.env, STEWARD_CONFIG: configFile };

function steward(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function status(id: string): ChangeState {
  const r = steward('status', id, '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ChangeState;
}
/** Polls `steward status` (refused while the worker is still starting) until `pred` holds. */
async function waitFor(id: string, pred: (s: ChangeState) => boolean, what: string, timeoutMs = 240_000): Promise<ChangeState> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not readable (the worker is starting)';
  while (Date.now() < deadline) {
    const r = steward('status', id, '--json');
    if (r.code === 0) {
      const s = JSON.parse(r.stdout) as ChangeState;
      if (pred(s)) return s;
      last = `${s.phase} (${s.waitingFor})`;
      if (['rolled-back', 'failed', 'rejected', 'withdrawn'].includes(s.phase)) break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`change ${id} is ${last}, expected ${what}`);
}

describe('a long-lived change continues as new (real stack)', () => {
  // The worker is a process of its own, as deployed (the CLI calls below block this process while they run).
  let worker: ChildProcess;
  let connection: Connection;
  let client: Client;
  before(async () => {
    worker = spawn(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), 'worker'], { env, stdio: 'ignore' });
    connection = await Connection.connect({ address: config.temporal.address });
    client = new Client({ connection, namespace: config.temporal.namespace });
  });
  after(async () => {
    worker.kill('SIGTERM');
    await connection?.close();
  });

  it('rolls over while it waits for approval; status, list and approve reach the new run; it deploys; the audit trail is whole', async () => {
    const proposal = parseProposal(parse(readFileSync(path.join(ROOT, 'examples', 'proposals', 'demo-cosmetic.yaml'), 'utf8')));
    const changeId = `CAN-${process.pid}-${Date.now() % 100000}`;
    const workflowId = changeWorkflowId(changeId);
    const policy = parsePolicyConfig(config.policy ?? {});
    const signedProposal = signAs(proposal.proposer, 'propose', { subject: changeId, workflowId, proposalDigest: proposalDigest(proposal), policyDigest: policyDigest(policy) });
    // As `steward propose` starts it, with a rollover threshold low enough to be reached by the approval wait.
    const input: ChangeLifecycleInput = { changeId, proposal, proposedAtMs: Date.now(), signedProposal, maxHistoryEventsPerRun: 50 };
    const first = await client.workflow.start('changeLifecycle', { taskQueue: config.temporal.taskQueue, workflowId, args: [input], staticSummary: proposal.title });
    const h = client.workflow.getHandle(workflowId);
    await waitFor(changeId, (s) => s.phase === 'approval', 'approval');
    // The staging deployment and the gates take the history past 50 events: the run rolls over at the wait (a
    // refused Signal or two push it if not yet).
    let rolled = false;
    for (let i = 0; i < 80 && !rolled; i++) {
      const d = await h.describe();
      rolled = d.runId !== first.firstExecutionRunId && d.status.name === 'RUNNING';
      if (!rolled) {
        await h.signal('approve', { by: 'nobody' } as never);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    assert.ok(rolled, 'the change continued as new');
    const s = status(changeId);
    assert.equal(s.phase, 'approval');
    assert.match(s.waitingFor, /approvals/);
    assert.equal(s.deployments.map((d) => `${d.environment}:${d.status}`).join(), 'staging:deployed');
    const listed = steward('list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const rows = (JSON.parse(listed.stdout) as { changes: { changeId: string; phase: string }[] }).changes.filter((c) => c.changeId === changeId || c.changeId === '');
    assert.equal(rows.length, 1, `one row for the change: ${JSON.stringify(rows)}`);
    assert.equal(rows[0]!.phase, 'approval');
    // The CLI's signed Update reaches the new run; production deploys the pinned commit.
    const ok = steward('approve', changeId, '--as', 'carol', '--comment', 'after the rollover');
    assert.equal(ok.code, 0, ok.stderr);
    const done = await waitFor(changeId, (x) => x.phase === 'completed', 'completed');
    assert.deepEqual(done.deployments.map((d) => `${d.environment}:${d.status}:${d.commit}`), [`staging:deployed:${done.commit}`, `production:deployed:${done.commit}`]);
    assert.deepEqual(done.auditFailures, [], 'every audit append of every run went through');
    const served = (await (await fetch(new URL('/healthz', config.environments.production!.app.baseUrl))).json()) as { release: string };
    assert.equal(served.release, 'r02-cosmetic');
    // The audit store holds every event of every run once, the ones after the rollover included.
    const events = await createAuditActivities({ config }).listAuditEvents({ subject: changeId });
    assert.equal(new Set(events.map((e) => e.eventId)).size, events.length);
    const phases = events.filter((e) => e.kind === 'phase-changed').map((e) => String(e.details.to));
    assert.deepEqual(phases, ['planning', 'implementation', 'review', 'staging-test', 'approval', 'deployment', 'post-deployment-review', 'completed']);
    assert.deepEqual(events.filter((e) => e.kind === 'approved').map((e) => e.actor), ['carol']);
    const verify = steward('audit', 'verify', '--json');
    assert.equal(verify.code, 0, verify.stderr);
    const runs: string[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push(w.status.name);
    assert.ok(runs.length >= 2 && runs.filter((x) => x === 'CONTINUED_AS_NEW').length === runs.length - 1, runs.join());
  });
});
