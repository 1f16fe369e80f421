// Incident response on the real stack (the "done when" of issue 7): a financial change (r05-silent-balance)
// deployed to production breaks the deposits/ledger invariant and is rolled back; an incident opens by itself;
// posting is refused on the host; the evidence archive's checksum verifies on the host; scope, a two-approver
// restore (the current database backed up first; the restored data matches the chosen backup), findings; a hotfix
// deploys through the emergency path; the module is unfrozen; the audit report lists every step with who and when.
// Human steps go through the `steward` CLI, as people would.
import assert from 'node:assert/strict';
import { signForChange, signForDeployment } from '../helpers/signing';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { stringify } from 'yaml';
import { HttpSession, selectOptions } from '../../src/activities/http/client';
import { SshPool } from '../../src/activities/remote/ssh';
import { cmd } from '../../src/commands/shell';
import { resolveSecret } from '../../src/config/secrets';
import type { StewardConfig } from '../../src/config/schema';
import { REVIEW_CHECKLIST } from '../../src/domain';
import type { DeploymentRecord } from '../../src/workflows/deployment';
import { incidentWorkflowId, type IncidentState } from '../../src/workflows/incident-api';
import { changeWorkflowId, type ChangeState } from '../../src/workflows/lifecycle-api';
import { deploy, deployInput, healthz, startDeployment } from '../helpers/deploy';
import { devConfig, withWorkerAndClient } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '..', '..');

async function onHost(config: StewardConfig, argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const pool = new SshPool();
  try {
    return await pool.exec(config.environments.production!.hosts[0]!, cmd(argv), { allowFailure: true });
  } finally {
    pool.close();
  }
}
const manage = (config: StewardConfig, args: string[]) => {
  const root = config.environments.production!.app.deployRoot;
  return onHost(config, [`${root}/current/.venv/bin/python`, `${root}/current/manage.py`, ...args]);
};

async function waitFor<T>(what: string, read: () => Promise<T>, pred: (x: T) => boolean, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const x = await read();
    if (pred(x)) return x;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(x).slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A deposit as the smoke maker: the status code the app answers. */
async function tryDeposit(config: StewardConfig, amount = '1.00'): Promise<number> {
  const app = config.environments.production!.app;
  const s = new HttpSession(app.baseUrl);
  const login = await s.submit('/login/', { username: app.smokeUsers!.maker, password: resolveSecret(app.smokeUsers!.password).reveal() });
  assert.equal(login.status, 302, `login answered ${login.status}`);
  const form = await s.get('/deposits/new/');
  const account = selectOptions(form.body, 'account')[0] ?? '2000-0001';
  const r = await s.request('POST', '/deposits/new/', { account, amount, reference: `incident-test-${Date.now()}` });
  return r.status;
}

const invariants = async (config: StewardConfig) => JSON.parse((await manage(config, ['financial_invariants'])).stdout) as { healthy: boolean; tenants: Record<string, Record<string, string>> };

describe('incident response on production (real stack)', () => {
  const config = devConfig('incident');
  const prod = config.environments.production!;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'steward-incident-'));
  const configFile = path.join(tmp, 'steward.config.yaml');
  writeFileSync(configFile, stringify(config));
  // Asynchronous: the worker runs in this process, and a blocked event loop would stall the CLI's own Update.
  const steward = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), ...args], { env: { ...process.env, STEWARD_CONFIG: configFile } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const stewardOk = async (...args: string[]) => {
    const r = await steward(...args);
    assert.equal(r.code, 0, `steward ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };

  it('a silent balance change is rolled back, an incident opens by itself and runs §13 to its audit report', async () => {
    await withWorkerAndClient(config, async (client: Client) => {
      // A known good production: r03 serving, posting on, no maintenance.
      const base = await deploy(client, config, deployInput({ gitRef: 'r03-additive-migration', environment: 'production' }));
      assert.equal(base.status, 'deployed', base.reason);
      await manage(config, ['feature_flag', 'posting', 'on', '--reason', 'incident test setup']);
      await manage(config, ['maintenance', 'off']);
      const beforeAll = await invariants(config);

      // The financial change: the invariant check catches it; the rollback disables posting and asks people.
      const input = deployInput({ gitRef: 'r05-silent-balance', environment: 'production', changeType: 'financial-logic', financialImpact: true, featureModules: ['posting'] });
      const dh = await startDeployment(client, config, input);
      await waitFor('the restore decision', () => dh.query('status') as Promise<DeploymentRecord>, (r) => r.status === 'awaiting-restore-decision');
      await dh.executeUpdate('decideRestore', { args: [await signForDeployment(dh, 'erin', 'decideRestore', { restore: false, reason: 'decided in the incident by two approvers' })] });
      await waitFor('manual steps', () => dh.query('status') as Promise<DeploymentRecord>, (r) => r.status === 'awaiting-manual-steps');
      await dh.executeUpdate('completeManualStep', { args: [await signForDeployment(dh, 'erin', 'completeManualStep', { step: 'all-done', note: 'reversal through the incident' })] });
      const rec = (await dh.result()) as DeploymentRecord;
      assert.equal(rec.status, 'rolled-back', JSON.stringify(rec.rollback?.failedCompensations));
      assert.equal(rec.rollback?.incidentRequired, true);
      assert.match(rec.reason ?? '', /silent balance change/);
      const incidentId = rec.rollback?.incidentId;
      assert.equal(incidentId, `INC-${rec.releaseId}`, 'the rollback opened an incident by itself');
      const ih = client.workflow.getHandle(incidentWorkflowId(incidentId!));
      const status = () => ih.query('status') as Promise<IncidentState>;

      // 1. Frozen: the app refuses a deposit on the host.
      let s = await waitFor('the scope step', status, (x) => x.step === 'scope');
      assert.equal(s.frozen, true);
      assert.equal(s.changeId, input.changeId);
      assert.equal(await tryDeposit(config), 503, 'posting is refused while the module is frozen');
      const flags = JSON.parse((await manage(config, ['feature_flag', '--list', '--json'])).stdout) as { flags: { name: string; enabled: boolean }[] };
      assert.equal(flags.flags.find((f) => f.name === 'posting')?.enabled, false);

      // 2. Evidence with a checksum that verifies on the host.
      const ev = s.evidence!;
      assert.ok(ev, JSON.stringify(s.steps));
      assert.equal(ev.archive, `${prod.evidenceDir}/${incidentId}-evidence.tar.gz`);
      const sha = await onHost(config, ['sha256sum', ev.archive]);
      assert.equal(sha.stdout.split(' ')[0], ev.sha256, 'recomputed on the host');
      assert.equal((await onHost(config, ['cat', ev.sha256File])).stdout.split(' ')[0], ev.sha256);
      assert.equal((await onHost(config, ['sh', '-c', `cd ${prod.evidenceDir} && sha256sum -c --status ${incidentId}-evidence.tar.gz.sha256`])).exitCode, 0);
      const toc = (await onHost(config, ['tar', '-tzf', ev.archive])).stdout;
      for (const f of ['deployment-record.json', 'audit-events.json', 'incident.json', 'logs/']) assert.ok(toc.includes(f), `archive lacks ${f}: ${toc}`);
      assert.match(toc, /logs\/gunicorn-(access|error)\.log/);
      const recInArchive = (await onHost(config, ['sh', '-c', `tar -xzOf ${ev.archive} ./deployment-record.json`])).stdout;
      assert.equal((JSON.parse(recInArchive) as DeploymentRecord).workflowId, rec.workflowId);

      // 3. Scope (CLI), with an invalid attempt first: the error says what to do.
      const bad = await steward('incident', 'scope', incidentId!, '--as', 'bob', '--tenants', 'smoke', '--from', 'yesterday', '--to', 'now');
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /recordScope refused.*ISO instants/s);
      const t0 = rec.startedAt;
      await stewardOk('incident', 'scope', incidentId!, '--as', 'bob', '--tenants', 'smoke', '--accounts', '2000-0001', '--from', t0, '--to', new Date().toISOString(), '--notes', 'the smoke deposit of the r05 deployment', '--json');

      // 4. Restore: two distinct approvers agree; the current database is backed up first.
      await waitFor('the restore step', status, (x) => x.step === 'restore');
      const self = await steward('incident', 'restore', incidentId!, '--as', 'alice', '--restore', '--reason', 'x');
      assert.match(self.stderr, /holds none of the roles/);
      await stewardOk('incident', 'restore', incidentId!, '--as', 'carol', '--restore', '--reason', 'the ledger is wrong for the smoke tenant');
      s = await status();
      assert.equal(s.restoreDecision, undefined, 'one approver is not enough');
      await stewardOk('incident', 'restore', incidentId!, '--as', 'erin', '--restore', '--reason', 'agreed: restore the pre-deployment backup');
      s = await waitFor('the findings step', status, (x) => x.step === 'findings');
      assert.equal(s.restore?.backupFile, rec.backup!.file);
      const pre = await onHost(config, ['pg_restore', '--list', `${prod.database.backupDir}/${incidentId}-pre-restore.dump`]);
      assert.equal(pre.exitCode, 0, 'the database as it was before the restore is kept, and readable');
      const restored = await invariants(config);
      // (healthy unless an earlier run left an imbalance in this stack's database: the backup is what it is)
      assert.equal(restored.healthy, beforeAll.healthy, JSON.stringify(restored));
      assert.deepEqual(restored.tenants, rec.invariants!.before, 'the restored data is the chosen backup (the pre-deployment snapshot)');
      assert.deepEqual(restored.tenants, beforeAll.tenants);
      assert.equal(await tryDeposit(config), 503, 'still frozen after the restore (the flags live in the database)');

      // 5. Findings.
      await stewardOk('incident', 'findings', incidentId!, '--as', 'erin', '--summary', 'deposits were booked rounded to whole units by r05', '--root-cause', 'posting_rules rounds the ledger amount of a deposit');

      // 6. The corrective patch through the emergency path (§11), started by the incident.
      await waitFor('the corrective-patch step', status, (x) => x.step === 'corrective-patch');
      const notEligible = await steward('hotfix', path.join(ROOT, 'examples/proposals/hotfix-not-eligible.yaml'));
      assert.equal(notEligible.code, 2);
      assert.match(notEligible.stderr, /not eligible for the hotfix path/);
      const fixId = `${incidentId}-FIX`;
      await stewardOk('hotfix', path.join(ROOT, 'examples/proposals/hotfix-deposit-rounding.yaml'), '--incident', incidentId!, '--id', fixId, '--json');
      const ch = client.workflow.getHandle(changeWorkflowId(fixId));
      let cs = await waitFor('the hotfix review', () => ch.query('status') as Promise<ChangeState>, (x) => x.phase === 'review');
      assert.equal(cs.hotfix, true);
      const reviewSlot = cs.requiredSignoffs.find((x) => x.kind === 'review')!;
      const reviewer = reviewSlot.mode === 'auditor' ? 'erin' : reviewSlot.mode === 'standard' ? 'bob' : 'grace';
      await ch.executeUpdate('submitReview', { args: [await signForChange(ch, reviewer, 'submitReview', { mode: reviewSlot.mode, checklist: [...REVIEW_CHECKLIST] })] });
      await waitFor('the emergency approval', () => ch.query('status') as Promise<ChangeState>, (x) => x.phase === 'approval');
      await stewardOk('approve', fixId, '--as', 'ivan', '--role', 'emergency-approver');
      cs = await waitFor('the hotfix deployment', () => ch.query('status') as Promise<ChangeState>, (x) => x.phase === 'post-deployment-review' || x.finishedAt !== undefined, 300_000);
      assert.equal(cs.phase, 'post-deployment-review', `${cs.outcome} ${JSON.stringify(cs.deployments.map((d) => [d.status, d.reason]))}`);
      const hot = cs.deployments.find((d) => d.environment === 'production')!;
      assert.ok(hot.smoke?.checks.some((c) => c.name.includes('refused') && c.ok), `the smoke test proved the freeze: ${JSON.stringify(hot.smoke?.checks)}`);
      assert.match(hot.releaseTag ?? '', /^v\d+\.\d+\.\d+$/);
      await ch.executeUpdate('submitPostDeploymentReview', {
        args: [await signForChange(ch, 'alice', 'submitPostDeploymentReview', { issuesEncountered: 'none', unexpectedBehavior: 'none', performanceImpact: 'none', securityImpact: 'none', followUpRequired: true })],
      });
      // The phase shows as soon as it changes; the due date a moment later (after the transition's audit append).
      cs = await waitFor('the full review', () => ch.query('status') as Promise<ChangeState>, (x) => x.phase === 'full-review' && /due \d{4}-/.test(x.waitingFor));
      assert.match(cs.waitingFor, /full review of this hotfix, due/);

      // 7. Unfreeze on close, only now.
      s = await waitFor('the unfreeze step', status, (x) => x.step === 'unfreeze');
      assert.equal(s.patches[0]!.deployedAt !== undefined, true);
      assert.equal(await tryDeposit(config), 503, 'still frozen until the incident is closed');
      await stewardOk('incident', 'close', incidentId!, '--as', 'carol', '--summary', 'hotfix deployed, balances restored from the backup');
      const done = (await ih.result()) as IncidentState;
      assert.equal(done.step, 'closed');
      assert.equal(await tryDeposit(config), 302, 'posting works again');

      // 8. The audit report: every step with who and when.
      const report = readFileSync(done.reportPath!, 'utf8');
      for (const needle of ['| freeze | done | steward', '| preserve-logs | done | steward', '| scope | done | bob', '| restore | done | carol + erin', '| findings | done | erin', `| corrective-patch | done | alice`, '| unfreeze | done | carol', '| audit-report | done | steward', fixId, ev.sha256]) {
        assert.ok(report.includes(needle), `the report lacks "${needle}":\n${report}`);
      }
      assert.match(report, /\| scope \| done \| bob \| \d{4}-\d\d-\d\dT[^|]+\| \d{4}-/);
      const st = JSON.parse(await stewardOk('incident', 'status', incidentId!, '--json')) as IncidentState;
      assert.equal(st.step, 'closed');

      // Finish the hotfix's full review (§11.5) so nothing is left waiting.
      await ch.executeUpdate('submitReview', { args: [await signForChange(ch, 'bob', 'submitReview', { mode: 'standard', checklist: [...REVIEW_CHECKLIST] })] });
      assert.equal(((await ch.result()) as ChangeState).phase, 'completed');
      assert.equal((await healthz(config, 'production')).release, 'r03-additive-migration');
    });
  });
});
