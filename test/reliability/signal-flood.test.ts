// A flood of 5,000 forged Signals against one change waiting for its review (anyone who can reach the cluster can send them): the change
// stays far from Temporal's 51,200-event history limit, keeps only a count and the last few attempts, writes at most
// 100 audit rows for them, and still takes the one real signed action afterwards.
// Asserted against the Temporal server's history and the audit table in PostgreSQL, not Steward's own record.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as PgClient } from 'pg';
import { resolveSecret } from '../../src/config/secrets';
import { parseProposal } from '../../src/domain';
import { proposalDigest } from '../../src/domain/proposal';
import { changeWorkflowId, type ChangeLifecycleInput, type ChangeState } from '../../src/workflows/lifecycle-api';
import { signAs, signForChange } from '../helpers/signing';
import { connectClient, log, QUICK, recordFault, relConfig, sleep, WorkerProcess, writeConfigCopy } from './harness';

const FLOOD = 5_000;
/** Temporal refuses a history over 51,200 events; a flooded change must stay well below it. */
const HISTORY_BOUND = 20_000;
const SENDERS = 8;

// In the full run only (`npm run test:reliability`): the flood takes minutes the quick run inside `npm test` has not got.
describe('a flood of 5,000 forged signals', { skip: QUICK && !process.env.STEWARD_REL_ONLY }, () => {
  const config = relConfig('flood');
  const worker = new WorkerProcess('flood', writeConfigCopy(config, 'flood'));
  before(async () => {
    worker.start();
    await worker.ready();
  });
  after(async () => {
    await worker.stop();
  });

  it('keeps the history bounded, the audit rows capped, and the change working', async () => {
    const t0 = Date.now();
    const { client, close } = await connectClient(config);
    let started: { terminate(reason: string): Promise<unknown> } | undefined;
    try {
      const changeId = `FLOOD${Date.now().toString(36).toUpperCase()}`;
      const workflowId = changeWorkflowId(changeId);
      const proposal = parseProposal({
        title: 'Signal flood probe',
        type: 'feature', // medium risk: it waits for a review, without deploying anything
        affectedModules: ['ui'],
        description: 'probe',
        reason: 'probe',
        financialImpact: false,
        complianceImpact: false,
        dataMigrationRequired: false,
        rollbackComplexity: 'low',
        proposer: 'alice',
        gitRef: 'r02-cosmetic',
        tests: 'written',
      });
      const input: ChangeLifecycleInput = { changeId, proposal, proposedAtMs: Date.now(), signedProposal: signAs('alice', 'propose', { subject: changeId, workflowId, proposalDigest: proposalDigest(proposal) }) };
      const h = await client.workflow.start('changeLifecycle', { taskQueue: config.temporal.taskQueue, workflowId, args: [input] });
      started = h;
      let s = (await h.query('status')) as ChangeState;
      for (let i = 0; i < 1200 && s.phase !== 'review'; i++) {
        await sleep(250);
        s = (await h.query('status')) as ChangeState;
      }
      assert.equal(s.phase, 'review', s.waitingFor);
      // Forgeries of every shape the cheap way: unsigned, garbage, and one real statement by the wrong key, resent.
      const about = { subject: changeId, workflowId, commit: s.commit, proposalDigest: s.proposalDigest, policyDigest: s.policyDigest };
      const shapes: unknown[] = [{ by: 'carol' }, { statement: 'x', signature: 'y' }, signAs('carol', 'approve', about, {}, { keyOf: 'mallory' }), 'approve', null];
      let sent = 0;
      const sender = async () => {
        while (sent < FLOOD) {
          const k = sent++;
          await h.signal(['approve', 'submitReview', 'reject', 'withdraw'][k % 4]!, shapes[k % shapes.length] as never);
        }
      };
      // Eight senders at once: a steady stream as fast as the server takes it (tens a second here).
      await Promise.all(Array.from({ length: SENDERS }, sender));
      log(`flood: ${FLOOD} signals sent in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      // The change has seen them all (a count), and keeps only the last few.
      // A query can fail while the worker is still working through the signals (the task is busy): asked again.
      for (let i = 0; i < 600; i++) {
        const now = (await h.query('status').catch(() => undefined)) as ChangeState | undefined;
        if (now) s = now;
        if (s.rejectedAttemptCount >= FLOOD) break;
        await sleep(500);
      }
      assert.equal(s.rejectedAttemptCount, FLOOD);
      assert.ok(s.rejectedAttempts.length <= 20, `${s.rejectedAttempts.length} attempts kept`);
      // The one real signed action still counts: the proposer withdraws, and the change ends.
      await h.executeUpdate('withdraw', { args: [await signForChange(h, 'alice', 'withdraw', { reason: 'flood probe done' })] });
      const done = (await h.result()) as ChangeState;
      assert.equal(done.phase, 'withdrawn');
      // The server's history: bounded.
      const events = (await h.describe()).historyLength;
      assert.ok(events < HISTORY_BOUND, `history of ${events} events after ${FLOOD} signals`);
      // The audit table: at most 100 rows for the flood, and the withdrawal recorded.
      const db = new PgClient({ connectionString: resolveSecret(config.audit!.databaseUrl).reveal() });
      await db.connect();
      let rows: { kind: string; n: number }[];
      try {
        rows = (await db.query(`SELECT kind, count(*)::int AS n FROM audit_event WHERE subject = $1 GROUP BY kind`, [changeId])).rows;
      } finally {
        await db.end();
      }
      const n = (kind: string) => rows.find((r) => r.kind === kind)?.n ?? 0;
      assert.ok(n('rejected-attempt') > 0 && n('rejected-attempt') <= 100, `rejected-attempt rows: ${n('rejected-attempt')}`);
      assert.equal(n('withdrawn'), 1);
      recordFault({
        id: 'signal-flood',
        group: 'risky',
        fault: `${FLOOD} forged signals`,
        where: 'change awaiting review',
        injected: true,
        survived: true,
        dataLost: false,
        outcome: `history ${events} events; ${n('rejected-attempt')} audit rows; real withdrawal applied`,
        detail: '',
        seconds: Math.round((Date.now() - t0) / 1000),
      });
    } finally {
      // A run the test leaves behind (it failed half-way) is ended, so it cannot load later runs.
      await started?.terminate('signal flood test ended').catch(() => undefined);
      await close();
    }
  });
});
