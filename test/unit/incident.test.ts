// Incident response, pure parts: command builders (quoted in one place), the incident file, the message checks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evidencePaths, packEvidence, publishEvidence, setMaintenanceMode, setModuleFlag, stageEvidence, verifyEvidence } from '../../src/commands/incident';
import { toShell, UnsafeArgumentError } from '../../src/commands/shell';
import { parseIncidentYaml } from '../../src/client/incident';
import { CliError } from '../../src/client/temporal';
import { defaultPolicy } from '../../src/domain';
import { DEMO_PEOPLE } from '../../src/dev/stack';
import { INCIDENT_STEPS, type IncidentState } from '../../src/workflows/incident-api';
import { closeProblem, proposePatchProblem, restoreAgreement, restoreProblem, scopeProblem } from '../../src/workflows/incident-checks';

const policy = defaultPolicy({ people: DEMO_PEOPLE as never });
function state(over: Partial<IncidentState> = {}): IncidentState {
  return {
    incidentId: 'INC-1', workflowId: 'incident-INC-1', environment: 'production', affectedModule: 'posting', affects: ['gl-balances'], severity: 'high',
    description: 'd', openedBy: 'steward', openedAt: '2026-01-01T00:00:00Z', step: 'scope', waitingFor: '', steps: INCIDENT_STEPS.map((name) => ({ name, status: 'pending' })),
    frozen: true, maintenance: false, scopeHistory: [], restoreVotes: [], patches: [], rejectedAttempts: [], reminders: [], auditFailures: [], ...over,
  };
}

describe('incident command builders', () => {
  it('freeze, maintenance and the evidence archive are argv, quoted by shell.ts', () => {
    const freeze = toShell(setModuleFlag('/srv/app', 'posting', false, "it's wrong; rm -rf /", 'steward:INC-1'));
    assert.match(freeze, /^cd \/srv\/app\/current && \/srv\/app\/current\/.venv\/bin\/python manage.py feature_flag posting off --reason 'it'\\''s wrong; rm -rf \/' --actor steward:INC-1 --json$/);
    assert.match(toShell(setMaintenanceMode('/srv/app', true, 'x', 'steward:INC-1')), /manage.py maintenance on --reason x/);
    assert.throws(() => setModuleFlag('/srv/app', 'posting;id', false, 'x', 'a'), UnsafeArgumentError);
    assert.throws(() => setModuleFlag('/srv/app', '-rf', false, 'x', 'a'), UnsafeArgumentError);
    assert.throws(() => evidencePaths('/ev', '../etc'), UnsafeArgumentError);
    const p = evidencePaths('/ev', 'INC-7');
    assert.equal(p.archive, '/ev/INC-7-evidence.tar.gz');
    assert.equal(p.sha256File, '/ev/INC-7-evidence.tar.gz.sha256');
    assert.match(toShell(stageEvidence(p, '/srv/app/shared/logs')), /cp -a/);
    assert.match(toShell(packEvidence(p)), /tar -czf \/ev\/.INC-7-evidence.tar.gz.partial -C \/ev\/.INC-7.staging \./);
    // Publishing never overwrites: `ln` without -f refuses an existing name.
    const pub = toShell(publishEvidence(p));
    assert.match(pub, /\( ln -- \/ev\/.INC-7-evidence.tar.gz.partial \/ev\/INC-7-evidence.tar.gz \)/);
    assert.doesNotMatch(pub, /ln -f|mv /);
    assert.match(toShell(verifyEvidence(p)), /sha256sum -c --status/);
  });
});

describe('incident file', () => {
  it('parses a valid file and names every bad field', () => {
    const f = parseIncidentYaml('environment: production\naffectedModule: posting\naffects: [gl-balances]\nseverity: critical\ndescription: deposits booked rounded\n');
    assert.equal(f.severity, 'critical');
    assert.throws(() => parseIncidentYaml('environment: production\naffects: [gl]\nseverity: bad\ndescription: x\nextra: 1\n'), (err: unknown) => {
      assert.ok(err instanceof CliError);
      for (const field of ['affectedModule', 'affects.0', 'severity', 'description', 'extra']) assert.match(err.message, new RegExp(`- ${field.replace('.', '\\.')}|${field}`));
      assert.match(err.message, /steward incident open/);
      return true;
    });
  });
});

describe('incident message checks', () => {
  const scope = { by: 'bob', tenants: ['smoke'], accounts: [], from: '2026-01-01T00:00:00Z', to: '2026-01-01T01:00:00Z' };
  it('scope: shape, people, instants', () => {
    assert.equal(scopeProblem(state(), policy, scope), null);
    assert.equal(scopeProblem(state(), undefined, scope)?.code, 'not-ready');
    assert.equal(scopeProblem(state(), policy, { ...scope, by: 'mallory' })?.code, 'not-a-person');
    assert.equal(scopeProblem(state(), policy, { ...scope, tenants: [] })?.code, 'invalid');
    assert.equal(scopeProblem(state(), policy, { ...scope, from: scope.to, to: scope.from })?.code, 'invalid');
    assert.equal(scopeProblem(state({ step: 'closed' }), policy, scope)?.code, 'closed');
  });
  it('restore: after the scope, by deciders, one vote each, a known backup', () => {
    const vote = { by: 'carol', restore: true, reason: 'r' };
    assert.equal(restoreProblem(state(), policy, vote, '/b/x.dump')?.code, 'wrong-step');
    const scoped = state({ scope: { ...scope, at: 'now' } });
    assert.equal(restoreProblem(scoped, policy, vote, '/b/x.dump'), null);
    assert.equal(restoreProblem(scoped, policy, vote, undefined)?.code, 'invalid');
    assert.equal(restoreProblem(scoped, policy, { ...vote, by: 'alice' }, '/b/x.dump')?.code, 'wrong-role');
    assert.equal(restoreProblem(scoped, policy, { ...vote, backupFile: '/b/../etc/passwd.dump' }, undefined)?.code, 'invalid');
    assert.equal(restoreProblem(state({ ...scoped, restoreVotes: [{ ...vote, at: 'now' }] }), policy, vote, '/b/x.dump')?.code, 'duplicate');
  });
  it('two distinct deciders must agree on the same choice and backup', () => {
    assert.equal(restoreAgreement([{ by: 'carol', restore: true, backupFile: '/a.dump' }]), null);
    assert.equal(restoreAgreement([{ by: 'carol', restore: true, backupFile: '/a.dump' }, { by: 'dave', restore: false }]), null);
    assert.equal(restoreAgreement([{ by: 'carol', restore: true, backupFile: '/a.dump' }, { by: 'dave', restore: true, backupFile: '/b.dump' }]), null);
    assert.deepEqual(restoreAgreement([{ by: 'carol', restore: true, backupFile: '/a.dump' }, { by: 'dave', restore: false }, { by: 'erin', restore: false }]), { restore: false, by: ['dave', 'erin'] });
  });
  it('a corrective patch must be eligible for the hotfix path; closing needs a deployed patch and a decider', () => {
    const proposal = { title: 't', type: 'cosmetic', affectedModules: ['ui'], description: 'd', reason: 'r', financialImpact: false, complianceImpact: false, dataMigrationRequired: false, rollbackComplexity: 'low', proposer: 'alice', gitRef: 'r02-cosmetic', tests: 'written' };
    assert.equal(proposePatchProblem(state(), policy, { by: 'alice', proposal: proposal as never })?.code, 'not-eligible');
    assert.equal(proposePatchProblem(state(), policy, { by: 'alice', proposal: { ...proposal, hotfixReason: 'production-outage' } as never }), null);
    const found = state({ findings: { by: 'erin', summary: 's', rootCause: 'r', at: 'now' } });
    assert.equal(closeProblem(found, policy, { by: 'carol', summary: 'done!' })?.code, 'wrong-step');
    const patched = state({ ...found, patches: [{ changeId: 'C', workflowId: 'change-C', linkedBy: 'alice', linkedAt: 'now', started: false, deployedAt: 'now' }] });
    assert.equal(closeProblem(patched, policy, { by: 'bob', summary: 'done!' })?.code, 'wrong-role');
    assert.equal(closeProblem(patched, policy, { by: 'carol', summary: 'done!' }), null);
  });
});
