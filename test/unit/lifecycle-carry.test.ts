// What a continued changeLifecycle run believes of the state its last run carried (src/workflows/lifecycle-carry.ts):
// nothing without the server's continue-as-new mark, and even then only what holds together.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPolicy } from '../../src/domain';
import { policyDigest } from '../../src/domain/policy';
import { checkedCarry, DEFAULT_MAX_HISTORY_EVENTS, maxHistoryEvents, type CarryContext } from '../../src/workflows/lifecycle-carry';
import { testPeople } from '../helpers/signing';

const pol = defaultPolicy({ people: testPeople() as never });
const digest = policyDigest(pol);
const loaded = { policy: pol, digest, protectedTables: {} };
const commit = 'c'.repeat(40);
const ctx: CarryContext = { continuedFromRunId: '0b8e7a4e-4a5c-4f43-9e5a-1a1a1a1a1a1a', proposer: 'alice', wantsStaging: true, hotfix: false };

function good(): Record<string, unknown> {
  return {
    version: 1,
    stage: 'approval',
    state: {
      phase: 'approval',
      waitingFor: 'approvals: approver',
      commit,
      policyDigestAtStart: digest,
      policyDigest: digest,
      refMoves: [],
      rejectedAttemptCount: 3,
      rejectedAttempts: [],
      history: [],
      reminders: [],
      deployments: [{ environment: 'staging', status: 'deployed', commit }],
      auditFailures: [],
    },
    signoffs: [{ kind: 'review', by: 'grace', role: 'dba', mode: 'dba', gitRef: commit, atMs: 1_700_000_000_000 }],
    trust: { start: loaded, latest: loaded, digests: [digest], nonces: [{ nonce: 'n1', untilMs: 1_700_000_000_000 }] },
    auditSeq: 12,
    attempt: 1,
    nextReminderAtMs: 1_700_000_360_000,
  };
}
/** The good carry with some fields changed: paths like "state.phase" or "signoffs.1" (undefined deletes). */
function tweak(changes: Record<string, unknown>): Record<string, unknown> {
  const c = good();
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split('.');
    let o = c as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
    o[keys[keys.length - 1]!] = value;
  }
  return c;
}
const refused = (c: unknown, re: RegExp, context: CarryContext = ctx) =>
  assert.throws(() => checkedCarry(c, context), (e: Error & { type?: string }) => e.type === 'BadInput' && re.test(e.message));

describe('changeLifecycle continue-as-new: the carried state', () => {
  it('is accepted on the change\'s own continue-as-new when it holds together; a fresh start has none', () => {
    assert.equal(checkedCarry(undefined, ctx), undefined);
    assert.equal(checkedCarry(good(), ctx)?.stage, 'approval');
  });

  it('is refused on any start the server did not mark as a continue-as-new (a hostile starter)', () => {
    refused(good(), /carried is only accepted on a continue-as-new/, { ...ctx, continuedFromRunId: undefined });
    refused(good(), /carried is only accepted on a continue-as-new/, { ...ctx, continuedFromRunId: '' });
  });

  it('refuses a start policy or last policy other than the ones whose digests the worker computed', () => {
    const weak = { ...pol, quorum: { ...pol.quorum, high: { approver: 0, reviewer: 0, auditor: 0 } } };
    // the digest kept, the policy weakened
    refused(tweak({ 'trust.start': { ...loaded, policy: weak } }), /carried.trust.start is not the policy the change had/);
    // self-consistent, but not the digest in the state
    refused(tweak({ 'trust.latest': { policy: weak, digest: policyDigest(weak), protectedTables: {} } }), /carried.trust.latest is not the policy the change had/);
    refused(tweak({ 'trust.digests': [] }), /carried.trust.digests must be the policy digests/);
  });

  it('refuses signoffs for another commit, by the proposer, or an approval without its absolute expiry', () => {
    refused(tweak({ 'signoffs.0.gitRef': 'd'.repeat(40) }), /carried.signoffs\[0\].gitRef must be the change's commit/);
    refused(tweak({ 'signoffs.1': { kind: 'approval', by: 'alice', role: 'approver', gitRef: commit, atMs: 1, expiresAtMs: 2 } }), /carried.signoffs\[1\].by is the proposer/);
    refused(tweak({ 'signoffs.1': { kind: 'approval', by: 'carol', role: 'approver', gitRef: commit, atMs: 1 } }), /expiresAtMs must be the absolute time the approval expires/);
  });

  it('refuses fields a continued run does not take over, and stages the state does not stand on', () => {
    refused(tweak({ 'state.rejection': { by: 'x', reason: 'y', at: 'z' } }), /carried.state has fields a continued run does not take over: rejection/);
    refused(tweak({ policy: pol }), /carried has unknown fields: policy/);
    refused(tweak({ stage: 'post-deployment-review', 'state.phase': 'post-deployment-review' }), /no production deployment/);
    refused(tweak({ 'state.deployments': [] }), /no staging deployment/);
    refused(tweak({ 'state.phase': 'deployment' }), /carried.state.phase must be approval/);
    refused(tweak({ stage: 'full-review', 'state.phase': 'full-review' }), /full-review is for hotfixes only/);
  });

  it('refuses a malformed nonce book, audit sequence or attempt count', () => {
    refused(tweak({ 'trust.nonces': ['n1'] }), /carried.trust.nonces must be the used statements/);
    refused(tweak({ auditSeq: 0 }), /carried.auditSeq/);
    refused(tweak({ attempt: 1.5 }), /carried.attempt/);
  });
});

describe('changeLifecycle continue-as-new: the threshold', () => {
  it('defaults, and is refused out of bounds with the field named', () => {
    assert.equal(maxHistoryEvents({}), DEFAULT_MAX_HISTORY_EVENTS);
    assert.equal(maxHistoryEvents({ maxHistoryEventsPerRun: 50 }), 50);
    for (const bad of [0, 49, 40_001, 100.5, '100' as never, Number.NaN]) {
      assert.throws(() => maxHistoryEvents({ maxHistoryEventsPerRun: bad }), /maxHistoryEventsPerRun must be a whole number from 50 to 40000/);
    }
  });
});
