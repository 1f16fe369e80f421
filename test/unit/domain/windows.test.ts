import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { deploymentWindow, isWindowOpen, nextWindowOpening, defaultPolicy, type PolicyConfig } from '../../../src/domain';
import { RUNS } from './helpers';

const london = defaultPolicy({ timeZone: 'Europe/London' });
const iso = (s: string) => Date.parse(s);
const MIN = 60_000;

const cases: [string, string, boolean, string?][] = [
  ['Friday 15:59 BST is open', '2025-06-06T14:59:00Z', true],
  ['Friday 16:00 BST is closed', '2025-06-06T15:00:00Z', false, '2025-06-09T05:00:00Z'],
  ['Sunday noon closed', '2025-06-08T12:00:00Z', false, '2025-06-09T05:00:00Z'],
  ['Monday 05:59 BST closed', '2025-06-09T04:59:00Z', false, '2025-06-09T05:00:00Z'],
  ['Monday 06:00 BST open', '2025-06-09T05:00:00Z', true],
  ['Friday 16:00 GMT in winter', '2025-01-10T16:00:00Z', false, '2025-01-13T06:00:00Z'],
  ['weekend of spring-forward (30 Mar 2025)', '2025-03-29T10:00:00Z', false, '2025-03-31T05:00:00Z'],
  ['weekend of fall-back (26 Oct 2025)', '2025-10-25T10:00:00Z', false, '2025-10-27T06:00:00Z'],
  ['Friday 16:30 BST before fall-back', '2025-10-24T15:30:00Z', false, '2025-10-27T06:00:00Z'],
  ['Wednesday open', '2025-10-29T10:00:00Z', true],
];
for (const [name, at, open, next] of cases) {
  test(`deploymentWindow production: ${name}`, () => {
    const v = deploymentWindow(iso(at), london, { environment: 'production' });
    assert.equal(v.open, open, v.reason);
    if (next) assert.equal(new Date(v.nextOpeningMs as number).toISOString(), new Date(iso(next)).toISOString());
    if (!open) assert.match(v.reason, /blackout fri 16:00 → mon 06:00/);
  });
}

test('staging is not blocked by the weekend blackout by default', () => {
  assert.equal(deploymentWindow(iso('2025-06-07T12:00:00Z'), london, { environment: 'staging' }).open, true);
  const both = defaultPolicy({ windows: { blockedEnvironments: ['production', 'staging'] } });
  assert.equal(deploymentWindow(iso('2025-06-07T12:00:00Z'), both, { environment: 'staging' }).open, false);
});

test('hotfix overrides only with an emergency approval; normal changes cannot', () => {
  const sat = iso('2025-06-07T12:00:00Z');
  assert.equal(deploymentWindow(sat, london, { environment: 'production', hotfix: true }).open, false);
  assert.match(deploymentWindow(sat, london, { environment: 'production', hotfix: true }).reason, /emergency approval/);
  const o = deploymentWindow(sat, london, { environment: 'production', hotfix: true, emergencyApproved: true });
  assert.equal(o.open, true);
  assert.equal(o.overridden, true);
  assert.equal(deploymentWindow(sat, london, { environment: 'production', hotfix: false, emergencyApproved: true }).open, false);
});

test('freezes block, chain with the blackout, and date-only freezes are read in the policy time zone', () => {
  const p = defaultPolicy({ timeZone: 'Europe/London', freezes: [{ from: '2025-12-22', to: '2026-01-05T06:00', reason: 'year-end close' }] });
  const v = deploymentWindow(iso('2025-12-23T10:00:00Z'), p, { environment: 'production' });
  assert.equal(v.open, false);
  assert.match(v.reason, /year-end close/);
  // 5 Jan 2026 is a Monday; the freeze and the blackout both end at 06:00 GMT
  assert.equal(v.nextOpeningMs, iso('2026-01-05T06:00:00Z'));
  assert.equal(deploymentWindow(iso('2025-12-21T23:59:00Z'), p, { environment: 'production' }).open, false); // Sunday: blackout
  assert.equal(p.freezes[0]?.fromMs, iso('2025-12-22T00:00:00Z'));
});

test('invalid instants are refused, not thrown', () => {
  for (const t of [NaN, Infinity, -Infinity, 9e15]) assert.equal(deploymentWindow(t, london, { environment: 'production' }).open, false);
});

function checkYear(policy: PolicyConfig, startIso: string, stepMin: number) {
  const start = iso(startIso);
  const end = start + 366 * 24 * 60 * MIN;
  let pendingNext: number | undefined;
  let lastClosedAt = -Infinity;
  let samples = 0;
  for (let t = start; t < end; t += stepMin * MIN) {
    samples++;
    const v = deploymentWindow(t, policy, { environment: 'production' });
    if (pendingNext !== undefined && t < pendingNext) assert.equal(v.open, false, `open at ${new Date(t).toISOString()} before promised next opening ${new Date(pendingNext).toISOString()}`);
    if (!v.open) {
      assert.ok(v.nextOpeningMs !== undefined && v.nextOpeningMs > t);
      assert.equal(isWindowOpen(v.nextOpeningMs, policy, 'production'), true, 'next opening is open');
      assert.equal(isWindowOpen(v.nextOpeningMs - 1, policy, 'production'), false, 'the instant before next opening is closed');
      if (pendingNext !== undefined && lastClosedAt < t && t < pendingNext) assert.equal(v.nextOpeningMs, pendingNext, 'consistent next opening');
      pendingNext = v.nextOpeningMs;
      lastClosedAt = t;
    } else pendingNext = undefined;
  }
  return samples;
}

for (const tz of ['Europe/London', 'America/New_York', 'Australia/Lord_Howe']) {
  test(`windows are total and consistent over a year of instants (7-minute step) in ${tz}`, () => {
    const p = defaultPolicy({ timeZone: tz });
    const n = checkYear(p, '2025-01-01T00:00:00Z', 7);
    assert.ok(n > 75_000);
  });
}

test('property: random instants — nextOpeningMs is open and every minute before it is closed (brute force)', () => {
  const policies = [
    london,
    defaultPolicy({ timeZone: 'America/New_York', windows: { blackout: [{ fromDay: 'sat', fromTime: '01:30', toDay: 'sun', toTime: '02:30' }, { fromDay: 'fri', fromTime: '16:00', toDay: 'mon', toTime: '06:00' }] } }),
    defaultPolicy({ timeZone: 'Europe/Berlin', windows: { blackout: [{ fromDay: 'sun', fromTime: '02:15', toDay: 'sun', toTime: '03:00' }] } }),
  ];
  fc.assert(
    fc.property(fc.integer({ min: iso('2024-01-01T00:00:00Z'), max: iso('2027-01-01T00:00:00Z') }), fc.constantFrom(0, 1, 2), (t, k) => {
      const p = policies[k] as PolicyConfig;
      const v = deploymentWindow(t, p, { environment: 'production' });
      if (v.open) return isWindowOpen(t, p, 'production');
      const next = v.nextOpeningMs;
      if (next === undefined || !isWindowOpen(next, p, 'production') || next <= t) return false;
      for (let u = t; u < next; u += 5 * MIN) if (isWindowOpen(u, p, 'production')) return false;
      return !isWindowOpen(next - 1, p, 'production') && nextWindowOpening(t, p, 'production') === next;
    }),
    { numRuns: RUNS },
  );
});
