import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicyConfig, policyConfigSchema, PolicyConfigError, DEFAULT_PROTECTED_TABLES } from '../../../src/domain';

function issues(input: unknown) {
  try {
    parsePolicyConfig(input);
  } catch (e) {
    assert.ok(e instanceof PolicyConfigError);
    return e.issues;
  }
  assert.fail('expected PolicyConfigError');
}

test('defaults', () => {
  const p = parsePolicyConfig({});
  assert.equal(p.timeZone, 'Europe/London');
  assert.equal(p.approvalTtlHours, 72);
  assert.deepEqual(p.windows.blackout, [{ fromDay: 'fri', fromTime: '16:00', toDay: 'mon', toTime: '06:00' }]);
  assert.deepEqual(p.windows.blockedEnvironments, ['production']);
  assert.deepEqual(p.protectedTables, [...DEFAULT_PROTECTED_TABLES]);
  assert.deepEqual(p.quorum.critical, { approver: 2, reviewer: 0, auditor: 1 });
  assert.equal(policyConfigSchema.parse(undefined === undefined ? {} : {}).approvalTtlHours, 72);
});

test('configured protected tables are added to, never replace, the defaults', () => {
  const p = parsePolicyConfig({ protectedTables: ['fin_ledger'] });
  assert.ok(p.protectedTables.includes('audit_log') && p.protectedTables.includes('fin_ledger'));
});

const bad: [string, unknown, string, RegExp?][] = [
  ['weakened quorum', { quorum: { critical: { auditor: 0 } } }, 'policy.quorum.critical.auditor', /weaken/],
  ['weakened approvers', { quorum: { high: { approver: 1 } } }, 'policy.quorum.high.approver', /at least 2/],
  ['bad time zone', { timeZone: 'Mars/Olympus' }, 'policy.timeZone', /IANA/],
  ['unknown field', { colour: 1 }, 'policy.colour', /unknown field/],
  ['bad role', { people: [{ id: 'al', name: 'Al', roles: ['king'] }] }, 'policy.people[0].roles[0]'],
  ['duplicate person', { people: [{ id: 'al', name: 'A', roles: ['approver'] }, { id: 'al', name: 'B', roles: ['auditor'] }] }, 'policy.people[1].id', /duplicate/],
  ['empty blackout', { windows: { blackout: [] } }, 'policy.windows.blackout', /Friday night/],
  ['production unblocked', { windows: { blockedEnvironments: ['staging'] } }, 'policy.windows.blockedEnvironments', /production/],
  ['bad time', { windows: { blackout: [{ fromDay: 'fri', fromTime: '25:00', toDay: 'mon', toTime: '06:00' }] } }, 'policy.windows.blackout[0].fromTime', /HH:MM/],
  ['freeze ends before start', { freezes: [{ from: '2025-12-24', to: '2025-12-20', reason: 'x' }] }, 'policy.freezes[0].to', /after/],
  ['freeze not a date', { freezes: [{ from: '2025-02-30', to: '2025-03-02', reason: 'x' }] }, 'policy.freezes[0].from'],
  ['ttl not positive', { approvalTtlHours: 0 }, 'policy.approvalTtlHours'],
];
for (const [name, input, field, re] of bad) {
  test(`policy refused: ${name}`, () => {
    const is = issues(input);
    const hit = is.find((i) => i.field === field);
    assert.ok(hit, `expected ${field} in ${JSON.stringify(is)}`);
    if (re) assert.match(hit.message, re);
  });
}

test('stricter quorum accepted', () => {
  assert.equal(parsePolicyConfig({ quorum: { low: { approver: 2, reviewer: 1 } } }).quorum.low.reviewer, 1);
});
