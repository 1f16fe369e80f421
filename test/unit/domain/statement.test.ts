// Signed statements and SSHSIG verification (DESIGN "Trust model"), against real `ssh-keygen -Y sign` output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { defaultPolicy, parsePolicyConfig, PolicyConfigError } from '../../../src/domain';
import { mayDecide, policyDigest, stricterPolicy } from '../../../src/domain/policy';
import { ACTION_NAMESPACE, normalisePublicKey, parseSshSignature, verifySshSignature } from '../../../src/domain/sshsig';
import { nonceUsed, parseStatement, spendNonce, verifySignedAction, type NonceBook, type StatementExpectation } from '../../../src/domain/statement';
import { publicKey, signAs, testKey, testPeople } from '../../helpers/signing';

const policy = defaultPolicy({ people: testPeople() as never });
const DIGEST = policyDigest(policy);
const base = { subject: 'CHG-1', workflowId: 'change-CHG-1', commit: 'a'.repeat(40), proposalDigest: 'b'.repeat(64), policyDigest: DIGEST };
function expectation(over: Partial<StatementExpectation> = {}): StatementExpectation {
  return { actions: ['approve'], subject: 'CHG-1', workflowId: 'change-CHG-1', commit: 'a'.repeat(40), proposalDigest: 'b'.repeat(64), policyDigests: [DIGEST], nowMs: Date.now(), maxAgeMs: 600_000, nonceUsed: () => false, ...over };
}
const code = (r: ReturnType<typeof verifySignedAction>) => (r.ok ? 'ok' : r.code);

describe('SSHSIG verification (pure JS, as in the workflow sandbox)', () => {
  for (const type of ['ed25519', 'ecdsa'] as const) {
    it(`verifies a real ${type} signature from ssh-keygen, refuses a tampered message and another namespace`, () => {
      const key = testKey(`sig-${type}`, type);
      const file = path.join(path.dirname(key), 'msg.txt');
      writeFileSync(file, '{"a":1}');
      const r = spawnSync('ssh-keygen', ['-q', '-Y', 'sign', '-f', key, '-n', ACTION_NAMESPACE, file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const sig = parseSshSignature(readFileSync(`${file}.sig`, 'utf8'));
      assert.equal(sig.publicKey, normalisePublicKey(publicKey(key)));
      assert.equal(verifySshSignature(sig, '{"a":1}', ACTION_NAMESPACE), true);
      assert.equal(verifySshSignature(sig, '{"a":2}', ACTION_NAMESPACE), false);
      assert.equal(verifySshSignature(sig, '{"a":1}', 'git'), false);
    });
  }
  it('refuses RSA keys with a clear message (the sandbox has no node:crypto)', () => {
    assert.throws(() => normalisePublicKey(publicKey(testKey('rsa-person', 'rsa'))), /RSA keys cannot be verified inside the workflow sandbox/);
  });
});

describe('verifySignedAction: the signature is the identity', () => {
  it('accepts a statement signed by the key of the person it names', () => {
    const r = verifySignedAction(signAs('carol', 'approve', base, { comment: 'ok' }), expectation(), policy);
    assert.equal(code(r), 'ok');
    assert.equal(r.ok && r.signer, 'carol');
  });
  const cases: [string, () => unknown, Partial<StatementExpectation>, string][] = [
    ['no signature', () => ({ by: 'carol' }), {}, 'unsigned'],
    ['a key nobody owns', () => signAs('carol', 'approve', base, {}, { keyOf: 'mallory' }), {}, 'unknown-key'],
    ["another person's key", () => signAs('carol', 'approve', base, {}, { keyOf: 'dave' }), {}, 'signer-mismatch'],
    ['another action', () => signAs('carol', 'reject', base, { reason: 'x' }), {}, 'wrong-action'],
    ['another change', () => signAs('carol', 'approve', { ...base, subject: 'CHG-2' }), {}, 'wrong-subject'],
    ['another workflow', () => signAs('carol', 'approve', { ...base, workflowId: 'change-CHG-2' }), {}, 'wrong-workflow'],
    ['another commit', () => signAs('carol', 'approve', { ...base, commit: 'c'.repeat(40) }), {}, 'wrong-commit'],
    ['another proposal', () => signAs('carol', 'approve', { ...base, proposalDigest: 'd'.repeat(64) }), {}, 'wrong-proposal'],
    ['a policy never in force', () => signAs('carol', 'approve', { ...base, policyDigest: 'e'.repeat(64) }), {}, 'wrong-policy'],
    ['a stale statement', () => signAs('carol', 'approve', base, {}, { issuedAtMs: Date.now() - 11 * 60_000 }), {}, 'stale'],
    ['a statement from the future', () => signAs('carol', 'approve', base, {}, { issuedAtMs: Date.now() + 10 * 60_000 }), {}, 'stale'],
    ['a replay', () => signAs('carol', 'approve', base), { nonceUsed: () => true }, 'replay'],
  ];
  for (const [name, make, over, expected] of cases) {
    it(`refuses ${name} (${expected})`, () => assert.equal(code(verifySignedAction(make(), expectation(over), policy)), expected));
  }
  it('refuses a statement whose text was changed after signing, or that is not canonical', () => {
    const good = signAs('carol', 'approve', base, { comment: 'fine' });
    assert.equal(code(verifySignedAction({ ...good, statement: good.statement.replace('fine', 'FINE') }, expectation(), policy)), 'bad-signature');
    assert.match(String(parseStatement(` ${good.statement}`)), /not valid JSON|canonical/);
    assert.match(String(parseStatement(JSON.stringify(JSON.parse(good.statement), null, 1))), /canonical/);
  });
  it('spends a nonce once and forgets it only when it could not pass the freshness check anyway', () => {
    const book: NonceBook = { nonces: [] };
    const now = Date.now();
    spendNonce(book, 'f'.repeat(32), now, now);
    assert.equal(nonceUsed(book, 'f'.repeat(32)), true);
    spendNonce(book, '0'.repeat(32), now + 2 * 3_600_000, now + 2 * 3_600_000);
    assert.equal(nonceUsed(book, 'f'.repeat(32)), false, 'pruned after the longest freshness');
  });
});

describe('policy keys and the stricter of two policies', () => {
  it('names the field of a key that cannot be used, and refuses one key for two people', () => {
    const people = testPeople();
    try {
      parsePolicyConfig({ people: [{ ...people[0], keys: [publicKey(testKey('rsa-person', 'rsa'))] }] });
      assert.fail('accepted an RSA key');
    } catch (err) {
      assert.ok(err instanceof PolicyConfigError);
      assert.equal(err.issues[0]!.field, 'policy.people[0].keys[0]');
    }
    assert.throws(() => parsePolicyConfig({ people: [people[0], { ...people[1], keys: people[0]!.keys }] }), /already enrolled for alice/);
  });
  it('keeps only people in both, with the roles both give; quorums, freezes, protected tables grow; limits shrink', () => {
    const then = defaultPolicy({ people: testPeople() as never });
    const now = defaultPolicy({
      people: testPeople().filter((p) => p.id !== 'carol').map((p) => (p.id === 'ivan' ? { ...p, roles: ['approver'] } : p)) as never,
      quorum: { low: { approver: 2 } },
      protectedTables: ['fin_interest'],
      approvalTtlHours: 24,
      freezes: [{ from: '2030-12-24', to: '2030-12-27', reason: 'Christmas' }],
    });
    const s = stricterPolicy(then, now);
    assert.equal(s.people.some((p) => p.id === 'carol'), false, 'a person who left counts at once');
    assert.deepEqual(s.people.find((p) => p.id === 'ivan')!.roles, ['approver'], 'a role removed counts at once');
    assert.equal(s.quorum.low.approver, 2);
    assert.ok(s.protectedTables.includes('fin_interest') && s.protectedTables.includes('audit_log'));
    assert.equal(s.approvalTtlHours, 24);
    assert.equal(s.freezes.length, 1);
    // and the other way round: a later weakening never loosens an open change
    const back = stricterPolicy(now, then);
    assert.equal(back.quorum.low.approver, 2);
    assert.equal(back.people.some((p) => p.id === 'carol'), false, 'a person added later does not count for an open change');
  });
  it('gives the deployment decisions to the configured roles (default: dba for destructive migrations)', () => {
    assert.equal(mayDecide(policy, 'grace', 'destructiveMigration'), true);
    assert.equal(mayDecide(policy, 'carol', 'destructiveMigration'), false);
    assert.equal(mayDecide(policy, 'carol', 'restore'), true);
    assert.equal(mayDecide(policy, 'mallory', 'manualStep'), false);
  });
});
