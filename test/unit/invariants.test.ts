import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareInvariants } from '../../src/domain/invariants';

const base = {
  acme: { debits_minus_credits: '0.00', deposits_minus_ledger: '0.00', journal_entries: 10, total_deposits: '100.00' },
  smoke: { debits_minus_credits: '0.00', deposits_minus_ledger: '0.00', journal_entries: 3, total_deposits: '30.00' },
};
const clone = () => JSON.parse(JSON.stringify(base)) as typeof base;

describe('compareInvariants', () => {
  it('accepts smoke-tenant postings and an unchanged ledger', () => {
    const after = clone();
    after.smoke.journal_entries = 5;
    after.smoke.total_deposits = '40.55';
    assert.deepEqual(compareInvariants(base, after, { smokeTenant: 'smoke' }).differences, []);
  });
  it('catches a ledger that stops balancing, in any tenant', () => {
    const after = clone();
    after.smoke.deposits_minus_ledger = '-0.45';
    const r = compareInvariants(base, after, { smokeTenant: 'smoke' });
    assert.equal(r.ok, false);
    assert.deepEqual(r.differences.map((d) => `${d.tenant}.${d.metric}`), ['smoke.deposits_minus_ledger']);
  });
  it('catches a silent change of a real tenant’s totals unless declared', () => {
    const after = clone();
    after.acme.total_deposits = '99.99';
    assert.equal(compareInvariants(base, after, { smokeTenant: 'smoke' }).ok, false);
    assert.equal(compareInvariants(base, after, { smokeTenant: 'smoke', declared: [{ tenant: 'acme', metric: 'total_deposits' }] }).ok, true);
  });
  it('reports an imbalance that was there before as pre-existing, and catches it moving', () => {
    const before = clone();
    before.smoke.deposits_minus_ledger = '-0.45';
    const same = compareInvariants(before, clone() && before, { smokeTenant: 'smoke' });
    assert.equal(same.ok, true);
    assert.equal(same.preExisting.length, 1);
    const worse = JSON.parse(JSON.stringify(before));
    worse.smoke.deposits_minus_ledger = '-0.90';
    assert.equal(compareInvariants(before, worse, { smokeTenant: 'smoke' }).ok, false);
  });
  it('checks the must-be-zero quantities even without a before snapshot (first deployment)', () => {
    const after = clone();
    after.acme.debits_minus_credits = '1.00';
    assert.equal(compareInvariants(null, after).ok, false);
  });
});
