import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PHASES, GATES, TERMINAL_PHASES, canTransition, assertTransition, nextPhase, PolicyViolation, type Phase, type Gate } from '../../../src/domain';
import { RUNS } from './helpers';

const allGates = Object.fromEntries(GATES.map((g) => [g, true])) as Record<Gate, boolean>;

const NORMAL: [Phase, Phase][] = [
  ['proposal', 'planning'], ['planning', 'implementation'], ['implementation', 'review'], ['review', 'staging-test'],
  ['review', 'implementation'], ['staging-test', 'approval'], ['staging-test', 'implementation'], ['approval', 'deployment'],
  ['deployment', 'post-deployment-review'], ['deployment', 'rolled-back'], ['deployment', 'failed'], ['post-deployment-review', 'completed'],
  ['proposal', 'rejected'], ['planning', 'rejected'], ['review', 'rejected'], ['staging-test', 'rejected'], ['approval', 'rejected'],
  ['proposal', 'withdrawn'], ['planning', 'withdrawn'], ['implementation', 'withdrawn'], ['review', 'withdrawn'], ['staging-test', 'withdrawn'], ['approval', 'withdrawn'],
];
const HOTFIX: [Phase, Phase][] = [
  ['proposal', 'review'], ['review', 'approval'], ['review', 'staging-test'], ['staging-test', 'approval'], ['approval', 'deployment'],
  ['deployment', 'post-deployment-review'], ['deployment', 'rolled-back'], ['deployment', 'failed'],
  ['post-deployment-review', 'full-review'], ['full-review', 'completed'],
  ['proposal', 'rejected'], ['planning', 'rejected'], ['review', 'rejected'], ['staging-test', 'rejected'], ['approval', 'rejected'],
  ['proposal', 'withdrawn'], ['planning', 'withdrawn'], ['implementation', 'withdrawn'], ['review', 'withdrawn'], ['staging-test', 'withdrawn'], ['approval', 'withdrawn'],
];

for (const [label, hotfix, allowed] of [['normal', false, NORMAL], ['hotfix', true, HOTFIX]] as const) {
  test(`no shortcuts (${label}): every pair of phases is allowed exactly when it is an edge`, () => {
    const set = new Set(allowed.map(([a, b]) => `${a}>${b}`));
    let count = 0;
    for (const from of PHASES) {
      for (const to of PHASES) {
        const v = canTransition(from, to, { hotfix, gates: allGates });
        assert.equal(v.ok, set.has(`${from}>${to}`), `${label} ${from} → ${to}: ${v.ok ? 'allowed' : v.reason}`);
        if (v.ok) count++;
      }
    }
    assert.equal(count, set.size);
  });
}

test('terminal phases have no successors', () => {
  for (const t of TERMINAL_PHASES) {
    for (const to of PHASES) {
      const v = canTransition(t, to, { hotfix: false, gates: allGates });
      assert.equal(v.ok, false);
      if (!v.ok) assert.equal(v.code, 'terminal');
    }
    assert.equal(nextPhase(t, { hotfix: false }).phase, null);
  }
});

test('gates: missing gate refuses naming the gate; hotfix skips planning but not the smoke test', () => {
  const v = canTransition('approval', 'deployment', { hotfix: false });
  assert.equal(v.ok, false);
  if (!v.ok) {
    assert.equal(v.code, 'gate-not-met');
    assert.match(v.reason, /quorumMet/);
  }
  const s = canTransition('deployment', 'post-deployment-review', { hotfix: true, gates: { emergencyApproved: true } });
  assert.equal(s.ok, false);
  if (!s.ok) assert.match(s.reason, /smokePassed/);
  assert.equal(canTransition('proposal', 'review', { hotfix: false, gates: allGates }).ok, false);
  assert.equal(canTransition('proposal', 'review', { hotfix: true, gates: { hotfixEligible: true } }).ok, true);
  assert.throws(() => assertTransition('proposal', 'deployment', { hotfix: true, gates: allGates }), PolicyViolation);
});

test('nextPhase walks the happy path', () => {
  const walk = (hotfix: boolean) => {
    const out: Phase[] = ['proposal'];
    let p: Phase | null = 'proposal';
    while (p) {
      p = nextPhase(p, { hotfix }).phase;
      if (p) out.push(p);
    }
    return out;
  };
  assert.deepEqual(walk(false), ['proposal', 'planning', 'implementation', 'review', 'staging-test', 'approval', 'deployment', 'post-deployment-review', 'completed']);
  assert.deepEqual(walk(true), ['proposal', 'review', 'approval', 'deployment', 'post-deployment-review', 'full-review', 'completed']);
});

test('property: no transition outside the graph, whatever the gates', () => {
  const edges = new Set([...NORMAL.map(([a, b]) => `n:${a}>${b}`), ...HOTFIX.map(([a, b]) => `h:${a}>${b}`)]);
  fc.assert(
    fc.property(
      fc.constantFrom(...PHASES),
      fc.constantFrom(...PHASES),
      fc.boolean(),
      fc.dictionary(fc.constantFrom(...GATES), fc.boolean()),
      (from, to, hotfix, gates) => {
        const v = canTransition(from, to, { hotfix, gates });
        return !v.ok || edges.has(`${hotfix ? 'h' : 'n'}:${from}>${to}`);
      },
    ),
    { numRuns: RUNS },
  );
});
