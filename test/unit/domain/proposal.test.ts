import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseProposal, parseProposalYaml, ProposalError, gitRefProblem, PROPOSAL_FIELDS } from '../../../src/domain';
import { RUNS, validProposalInput } from './helpers';

function issuesOf(fn: () => unknown): { field: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ProposalError, `expected ProposalError, got ${String(e)}`);
    return e.issues;
  }
  assert.fail('expected a ProposalError');
}

test('valid proposal parses with defaults (implementer = proposer, environments staging+production)', () => {
  const p = parseProposal(validProposalInput());
  assert.equal(p.implementer, 'alice');
  assert.deepEqual(p.targetEnvironments, ['staging', 'production']);
  assert.equal(p.riskLevel, undefined);
  assert.equal(p.declaredBalanceChanges, undefined);
});

test('YAML proposal parses; yes/no is refused with advice', () => {
  const yaml = `title: Add approval step
type: workflow
affectedModules: [loans]
description: Adds a second approval.
reason: Audit finding.
financialImpact: false
complianceImpact: true
dataMigrationRequired: false
rollbackComplexity: medium
proposer: alice
implementer: bob
gitRef: v1.2.3
tests: proposed
declaredBalanceChanges: []
`;
  const p = parseProposalYaml(yaml);
  assert.equal(p.type, 'workflow');
  assert.equal(p.implementer, 'bob');
  assert.deepEqual(p.declaredBalanceChanges, []);
  const issues = issuesOf(() => parseProposalYaml(yaml.replace('financialImpact: false', 'financialImpact: yes')));
  assert.equal(issues[0]?.field, 'financialImpact');
  assert.match(issues[0]?.message ?? '', /true\/false/);
});

const bad: [string, Record<string, unknown>, string, RegExp?][] = [
  ['unknown field', { colour: 'red' }, 'colour', /unknown field/],
  ['empty title', { title: '' }, 'title'],
  ['whitespace title', { title: '   \t ' }, 'title', /empty or only whitespace/],
  ['title with newline', { title: 'a\nb' }, 'title', /control/],
  ['over-long title', { title: 'x'.repeat(201) }, 'title'],
  ['over-long description', { description: 'x'.repeat(10_001) }, 'description'],
  ['bad type', { type: 'hack' }, 'type', /cosmetic, feature, workflow, financial-logic/],
  ['bad riskLevel', { riskLevel: 'none' }, 'riskLevel', /low, medium, high, critical/],
  ['empty modules', { affectedModules: [] }, 'affectedModules', /at least one/],
  ['bad module id', { affectedModules: ['Loans!'] }, 'affectedModules[0]'],
  ['duplicate module', { affectedModules: ['a', 'a'] }, 'affectedModules[1]'],
  ['bad proposer', { proposer: 'Alice Smith' }, 'proposer', /person id/],
  ['bad implementer', { implementer: '-x' }, 'implementer'],
  ['bool as string', { dataMigrationRequired: 'no' }, 'dataMigrationRequired'],
  ['bad rollbackComplexity', { rollbackComplexity: 'none' }, 'rollbackComplexity', /low, medium, high/],
  ['bad tests', { tests: 'none' }, 'tests', /written, proposed/],
  ['bad hotfixReason', { hotfixReason: 'impatience' }, 'hotfixReason', /production-outage/],
  ['balance change unknown key', { declaredBalanceChanges: [{ tenant: 't1', metric: 'gl', reason: 'r', x: 1 }] }, 'declaredBalanceChanges[0].x'],
  ['production without staging', { targetEnvironments: ['production'] }, 'targetEnvironments', /staging first/],
  ['bad env', { targetEnvironments: ['qa'] }, 'targetEnvironments[0]'],
  ['missing field', { reason: undefined }, 'reason'],
];
for (const [name, over, field, re] of bad) {
  test(`proposal refused: ${name}`, () => {
    const issues = issuesOf(() => parseProposal(validProposalInput(over)));
    const hit = issues.find((i) => i.field === field);
    assert.ok(hit, `expected an issue on ${field}, got ${JSON.stringify(issues)}`);
    assert.ok(hit.message.includes(field), 'message names the field path');
    if (re) assert.match(hit.message, re);
  });
}

test('hotfix may target production only', () => {
  const p = parseProposal(validProposalInput({ hotfixReason: 'production-outage', targetEnvironments: ['production'] }));
  assert.deepEqual(p.targetEnvironments, ['production']);
});

const badRefs = ['', 'a..b', '-rf', 'a b', 'a\tb', 'x\u0001', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[', 'a\\b', 'a@{1}', 'x.lock', 'x/', 'x.', 'x'.repeat(201), '/abs', 'a//b', '.hidden', 'a/.b', '@', 'naïve'];
for (const ref of badRefs) {
  test(`unsafe gitRef refused: ${JSON.stringify(ref).slice(0, 30)}`, () => {
    assert.notEqual(gitRefProblem(ref), null);
    const issues = issuesOf(() => parseProposal(validProposalInput({ gitRef: ref })));
    assert.ok(issues.some((i) => i.field === 'gitRef'));
  });
}
for (const ref of ['main', 'v1.4.2', 'feature/abc-1_2', 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2', 'release/2025.01']) {
  test(`safe gitRef accepted: ${ref}`, () => assert.equal(gitRefProblem(ref), null));
}

test('YAML syntax error / non-mapping / duplicate keys → ProposalError', () => {
  assert.equal(issuesOf(() => parseProposalYaml('title: [unclosed'))[0]?.field, 'proposal');
  assert.equal(issuesOf(() => parseProposalYaml('- a\n- b'))[0]?.field, 'proposal');
  assert.equal(issuesOf(() => parseProposalYaml('title: a\ntitle: b\n'))[0]?.field, 'proposal');
  assert.equal(issuesOf(() => parseProposalYaml(''))[0]?.field, 'proposal');
});

test('property: parseProposal throws only ProposalError, and every issue names a field', () => {
  const fields = new Set(PROPOSAL_FIELDS);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue(),
        fc.dictionary(fc.constantFrom(...PROPOSAL_FIELDS, '__proto__', 'constructor', 'x'), fc.jsonValue()),
        fc.record({ base: fc.constant(null), k: fc.constantFrom(...PROPOSAL_FIELDS), v: fc.jsonValue() }).map((r) => validProposalInput({ [r.k]: r.v })),
      ),
      (input) => {
        try {
          parseProposal(input);
        } catch (e) {
          if (!(e instanceof ProposalError)) return false;
          if (e.issues.length === 0) return false;
          for (const i of e.issues) {
            if (typeof i.field !== 'string' || i.field.length === 0 || !i.message.includes(i.field)) return false;
            const top = i.field.split(/[.[]/)[0] as string;
            const quoted = i.field.startsWith('"');
            if (top !== 'proposal' && !quoted && !fields.has(top) && !(input && typeof input === 'object' && top in (input as object))) return false;
          }
        }
        return true;
      },
    ),
    { numRuns: RUNS },
  );
});

test('property: parseProposalYaml throws only ProposalError on arbitrary text', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.jsonValue().map((v) => JSON.stringify(v) ?? '')), (text) => {
      try {
        parseProposalYaml(text);
      } catch (e) {
        return e instanceof ProposalError && e.issues.every((i) => i.field.length > 0);
      }
      return true;
    }),
    { numRuns: RUNS },
  );
});
