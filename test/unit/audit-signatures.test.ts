// `steward audit verify` checks signatures while the rows stream past (SignatureVerifier): a row is checked as it
// comes and dropped; only the recorded policies and rows waiting for a policy not seen yet are kept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChainRow } from '../../src/audit/chain';
import { SignatureVerifier, verifyRowSignatures } from '../../src/audit/signatures';
import { parsePolicyConfig, policyDigest } from '../../src/domain/policy';
import { signAs, testPeople } from '../helpers/signing';

const policy = parsePolicyConfig({ people: testPeople() });
const digest = policyDigest(policy);
let seq = 0;
const row = (kind: string, actor: string, details: Record<string, unknown>): ChainRow => ({
  seq: ++seq,
  prevSeq: seq - 1,
  eventId: `e${seq}`,
  subject: 'CHG-1',
  kind,
  actor,
  at: '2026-12-01T00:00:00.000Z',
  details,
  prevHash: '0'.repeat(64),
  hash: '0'.repeat(64),
});
const policyRow = () => row('policy-loaded', 'steward', { digest, policy });
const signed = (actor: string, opts: Parameters<typeof signAs>[4] = {}, d = digest) => {
  const a = signAs(actor === 'mallory' ? 'bob' : actor, 'approve', { subject: 'CHG-1', workflowId: 'change-CHG-1', policyDigest: d }, { comment: 'ok' }, opts);
  return row('approved', actor === 'mallory' ? 'bob' : actor, { statement: a.statement, signature: a.signature });
};

describe('signatures checked while streaming', () => {
  it('keeps no row once its policy is known, and finds no problem in good rows', () => {
    const v = new SignatureVerifier();
    v.add(policyRow());
    for (const who of ['bob', 'carol', 'bob']) {
      v.add(signed(who));
      assert.equal(v.pending, 0, 'a checked row is not kept');
    }
    assert.deepEqual(v.report(), { checked: 3, problems: [] });
  });

  it("holds a row whose policy comes later, and checks it at the end", () => {
    const v = new SignatureVerifier();
    v.add(signed('bob'));
    assert.equal(v.pending, 1);
    v.add(policyRow());
    assert.deepEqual(v.report(), { checked: 1, problems: [] });
  });

  it('finds a forgery, a tampered statement and an unknown policy, in seq order (the check can fail)', () => {
    const forged = signed('mallory', { keyOf: 'mallory', signer: 'bob' });
    const tampered = signed('carol');
    tampered.details.statement = String(tampered.details.statement).replace('"ok"', '"OK"');
    const unknown = signed('bob', {}, 'f'.repeat(64));
    const report = verifyRowSignatures([forged, policyRow(), tampered, unknown]);
    assert.equal(report.checked, 3);
    assert.deepEqual(
      report.problems.map((p) => [p.seq, p.reason.replace(/policy f+…/, 'policy f…')]),
      [
        [forged.seq, "the signing key is not bob's in the policy the statement names"],
        [tampered.seq, 'the signature does not match the statement'],
        [unknown.seq, 'the statement names policy f…, which is not in the audit log'],
      ],
    );
  });
});
