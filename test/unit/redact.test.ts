import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MASK, redact, redactDeep, redactError, registerSecretValue } from '../../src/config/redact';
import { Secret } from '../../src/config/secrets';

describe('redaction of text that leaves a host', () => {
  it('masks every value resolved as a secret, and a database URL password alone', () => {
    new Secret('postgres://bank:s3cr%3Dt-pass@db:5432/bank', 'env DB');
    const out = redact('psql: FATAL password authentication failed for "bank" (s3cr=t-pass) url postgres://bank:s3cr%3Dt-pass@db:5432/bank');
    assert.ok(!out.includes('s3cr=t-pass'), out);
    assert.ok(!out.includes('s3cr%3Dt-pass'), out);
    assert.ok(out.includes(MASK));
  });

  const shapes: [string, string, string][] = [
    ['URL user-info', 'fatal: unable to access https://deploy:hunter2hunter2@git.bank.internal/app.git', 'hunter2hunter2'],
    ['a token as URL user', 'remote: https://ghp_abcdefghijklmnopqrstuvwxyz0123@github.com/bank/app', 'ghp_abcdefghijklmnopqrstuvwxyz0123'],
    ['a GitHub token', 'token ghp_abcdefghijklmnopqrstuvwxyz0123 rejected', 'ghp_abcdefghijklmnopqrstuvwxyz0123'],
    ['a bearer header', 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl', 'eyJhbGciOiJIUzI1NiJ9'],
    ['an AWS key id', 'using AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'],
    ['password=', 'connect: host=db password=Pa55word! user=x', 'Pa55word!'],
    ['an env assignment', 'export PGPASSWORD="trustno1-really"', 'trustno1-really'],
    ['a private key block', 'oops -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY----- end', 'b3BlbnNzaC1rZXktdjEAAAAA'],
  ];
  for (const [what, text, secret] of shapes) {
    it(`masks ${what}`, () => {
      const out = redact(text);
      assert.ok(!out.includes(secret), out);
      assert.ok(out.includes(MASK), out);
    });
  }

  it('leaves ordinary text alone', () => {
    const text = 'token validation failed; ALTER TABLE "banking_account" ADD COLUMN "nickname" varchar(64) NULL; exited with 1 at https://git.bank.internal/app.git';
    assert.equal(redact(text), text);
  });

  it('redacts inside records and errors, keeping their shape', () => {
    registerSecretValue('planted-secret-value-42');
    const rec = redactDeep({ steps: [{ detail: 'stderr: planted-secret-value-42', ms: 3 }], ok: false });
    assert.deepEqual(rec, { steps: [{ detail: `stderr: ${MASK}`, ms: 3 }], ok: false });
    const err = redactError(new Error('failed: planted-secret-value-42', { cause: new Error('inner planted-secret-value-42') }));
    assert.equal(err.message, `failed: ${MASK}`);
    assert.equal((err.cause as Error).message, `inner ${MASK}`);
    assert.ok(!err.stack!.includes('planted-secret-value-42'));
  });
});
