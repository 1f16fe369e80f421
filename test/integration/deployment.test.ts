// The deployment workflow against the real stack: Temporal dev server, sshd hosts, PostgreSQL, the demo
// Django app under Gunicorn, deployed from its release history (examples/banking-app/RELEASES.md).
// Assertions look at the hosts and the database, not only at Steward's own record.
import assert from 'node:assert/strict';
import { signForDeployment } from '../helpers/signing';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { stringify } from 'yaml';
import { SshPool } from '../../src/activities/remote/ssh';
import { cmd } from '../../src/commands/shell';
import type { StewardConfig } from '../../src/config/schema';
import type { DeploymentRecord } from '../../src/workflows/deployment';
import { deploy, deployInput, healthz, startDeployment } from '../helpers/deploy';
import { resetHostDatabase } from '../helpers/reset';
import { saveHistory } from '../helpers/histories';
import { devConfig, withWorkerAndClient } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '..', '..');

async function onHost(config: StewardConfig, env: string, argv: string[]): Promise<{ exitCode: number; stdout: string }> {
  const pool = new SshPool();
  try {
    return await pool.exec(config.environments[env]!.hosts[0]!, cmd(argv), { allowFailure: true });
  } finally {
    pool.close();
  }
}

async function waitForStatus(client: Client, workflowId: string, status: string, timeoutMs = 120_000): Promise<DeploymentRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = (await client.workflow.getHandle(workflowId).query('status')) as DeploymentRecord;
    if (r.status === status) return r;
    if (r.finishedAt) throw new Error(`deployment ${workflowId} ended ${r.status} (${r.reason ?? ''}), never ${status}`);
    if (Date.now() > deadline) throw new Error(`deployment ${workflowId} is ${r.status}, not ${status}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

function assertDeployed(r: DeploymentRecord): void {
  assert.equal(r.status, 'deployed', `${r.reason ?? ''} ${JSON.stringify(r.steps.filter((s) => s.outcome === 'failed'))}`);
}

describe('deployment on production (real stack)', () => {
  const config = devConfig('deploy-prod');
  const prod = config.environments.production!;

  before(async () => {
    // A run interrupted half-way may have left posting frozen (the financial rollback test freezes it).
    const current = await onHost(config, 'production', ['test', '-e', `${prod.app.deployRoot}/current/manage.py`]);
    if (current.exitCode === 0) {
      await onHost(config, 'production', [`${prod.app.deployRoot}/current/.venv/bin/python`, `${prod.app.deployRoot}/current/manage.py`, 'feature_flag', 'posting', 'on', '--reason', 'test setup']);
    }
  });

  it('deploys a release cleanly: verified backup, migrations, switch, smoke, tag', async () => {
    await withWorkerAndClient(config, async (client) => {
      const r = await deploy(client, config, deployInput({ gitRef: 'r03-additive-migration', environment: 'production' }), 'production-clean');
      assertDeployed(r);
      assert.equal((await healthz(config, 'production')).release, 'r03-additive-migration');
      assert.equal((await healthz(config, 'production')).release_dir, r.releaseId);
      assert.match(r.releaseTag ?? '', /^v\d+\.\d+\.\d+$/);
      assert.ok(r.smoke?.ok && r.smoke.checks.length >= 8);
      // The backup on the host is what the record says it is, and pg_restore reads it.
      const sha = await onHost(config, 'production', ['sha256sum', r.backup!.file]);
      assert.equal(sha.stdout.split(' ')[0], r.backup!.sha256);
      assert.equal((await onHost(config, 'production', ['pg_restore', '--list', r.backup!.file])).exitCode, 0);
      // The tag is in the origin repository, on the deployed commit.
      const tag = await onHost(config, 'production', ['git', '--git-dir', prod.app.repo, 'rev-parse', `${r.releaseTag}^{commit}`]);
      assert.equal(tag.stdout.trim(), r.commit);
      // A redeploy of the same code is a no-op deployment: nothing to migrate, still green.
      const again = await deploy(client, config, deployInput({ gitRef: 'r03-additive-migration', environment: 'production' }));
      assertDeployed(again);
      assert.equal(again.migrations?.planned.length, 0);
      assert.equal(again.restartMode, 'reloaded');
    });
  });

  it('rolls back by itself when the smoke test fails, and the previous release serves', async () => {
    await withWorkerAndClient(config, async (client) => {
      const before = await healthz(config, 'production');
      const r = await deploy(client, config, deployInput({ gitRef: 'r04-smoke-fails', environment: 'production' }), 'production-smoke-rolled-back');
      assert.equal(r.status, 'rolled-back', r.reason);
      assert.match(r.reason ?? '', /smoke tests failed( on production-1)?: dashboard/);
      assert.equal(r.rollback?.smokeAfter?.ok, true);
      const now = await healthz(config, 'production');
      assert.equal(now.release_dir, before.release_dir);
      assert.equal(r.releaseTag, undefined, 'a rolled-back release is never tagged');
    });
  });

  it('catches a silent balance change, disables posting, and waits for the people', async () => {
    await withWorkerAndClient(config, async (client) => {
      const input = deployInput({ gitRef: 'r05-silent-balance', environment: 'production', changeType: 'financial-logic', financialImpact: true, featureModules: ['posting'] });
      const handle = await startDeployment(client, config, input);
      const waiting = await waitForStatus(client, handle.workflowId, 'awaiting-restore-decision');
      assert.match(waiting.reason ?? '', /silent balance change: smoke\.deposits_minus_ledger/);
      // Posting is disabled on the host while people decide.
      const flags = await onHost(config, 'production', [`${prod.app.deployRoot}/current/.venv/bin/python`, `${prod.app.deployRoot}/current/manage.py`, 'feature_flag', '--list', '--json']);
      assert.match(flags.stdout, /"posting"[^}]*false|posting.*off/i, flags.stdout);
      await assert.rejects(handle.executeUpdate('decideRestore', { args: [await signForDeployment(handle, 'erin', 'decideRestore', { restore: 'maybe', reason: 'x' })] }), WorkflowUpdateFailedError);
      await handle.executeUpdate('decideRestore', { args: [await signForDeployment(handle, 'erin', 'decideRestore', { restore: false, reason: 'only smoke-tenant postings were affected' })] });
      const manual = await waitForStatus(client, handle.workflowId, 'awaiting-manual-steps');
      assert.equal(manual.rollback?.restoreDecision?.by, 'erin');
      await handle.executeUpdate('completeManualStep', { args: [await signForDeployment(handle, 'erin', 'completeManualStep', { step: 'reverse smoke deposit', note: 'reversed by journal' })] });
      await handle.executeUpdate('completeManualStep', { args: [await signForDeployment(handle, 'erin', 'completeManualStep', { step: 'all-done' })] });
      const r = (await handle.result()) as DeploymentRecord;
      saveHistory('deployment', 'staging-irreversible-restored', await handle.fetchHistory());
      assert.equal(r.status, 'rolled-back', JSON.stringify(r.rollback?.failedCompensations));
      assert.equal(r.rollback?.incidentRequired, true);
      assert.deepEqual(r.rollback?.manualSteps.map((s) => s.step), ['reverse smoke deposit', 'all-done']);
      assert.equal((await healthz(config, 'production')).release, 'r03-additive-migration');
    });
    // The rollback opened an incident by itself (its own test drives one to the end); close this one's books
    // for the next tests: stop its workflow, then put posting back (the incident would do so after a hotfix).
    await withWorkerAndClient(config, async (client) => {
      for await (const wf of client.workflow.list({ query: `WorkflowType="incidentResponse" AND ExecutionStatus="Running"` })) {
        await client.workflow.getHandle(wf.workflowId).terminate('deployment test cleanup');
      }
    });
    const on = await onHost(config, 'production', [`${prod.app.deployRoot}/current/.venv/bin/python`, `${prod.app.deployRoot}/current/manage.py`, 'feature_flag', 'posting', 'on', '--reason', 'test cleanup']);
    assert.equal(on.exitCode, 0);
  });

  it('refuses a migration that drops a protected table before anything runs', async () => {
    await withWorkerAndClient(config, async (client) => {
      const before = await healthz(config, 'production');
      const r = await deploy(client, config, deployInput({ gitRef: 'r07-drop-audit-log', environment: 'production' }));
      assert.equal(r.status, 'refused');
      assert.match(r.reason ?? '', /audit_log/);
      // Judged by PostgreSQL's parser: the DROP TABLE and the dropped append-only triggers are named.
      assert.match(r.reason ?? '', /drops protected table audit_log/);
      assert.ok(r.migrations?.gatingFindings?.some((l) => /^\[protected\].*trigger/.test(l)), JSON.stringify(r.migrations?.gatingFindings));
      assert.equal(r.backup, undefined, 'no backup was even taken');
      assert.ok(!r.steps.some((s) => s.name === 'run migrations'));
      const dir = await onHost(config, 'production', ['test', '-e', `${prod.app.deployRoot}/releases/${r.releaseId}`]);
      assert.notEqual(dir.exitCode, 0, 'the refused release dir is removed');
      assert.equal((await healthz(config, 'production')).release_dir, before.release_dir);
    });
  });

  it('finishes exactly once when the worker is killed mid-deployment', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'steward-kill-'));
    const killConfig = devConfig('kill');
    const file = path.join(tmp, 'steward.config.yaml');
    writeFileSync(file, stringify(killConfig));
    const startWorkerProcess = (): ChildProcess =>
      spawn(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), 'worker'], { env: { ...process.env, STEWARD_CONFIG: file }, stdio: 'ignore' });
    let worker = startWorkerProcess();
    try {
      await withWorkerAndClient({ ...killConfig, temporal: { ...killConfig.temporal, taskQueue: `${killConfig.temporal.taskQueue}-unused` } }, async (client) => {
        const input = deployInput({ gitRef: 'r09-requirements', environment: 'production' });
        const handle = await startDeployment(client, killConfig, input);
        // Kill -9 while the new requirements install (a long step that changes the host).
        const deadline = Date.now() + 120_000;
        for (;;) {
          const s = (await handle.query('status')) as DeploymentRecord;
          const running = s.steps.find((x) => x.outcome === 'running');
          if (running && /virtualenv|back up/.test(running.name)) break;
          if (Date.now() > deadline || s.finishedAt) throw new Error(`never saw the step running: ${JSON.stringify(s.steps)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        await new Promise((r) => setTimeout(r, 1500));
        worker.kill('SIGKILL');
        await new Promise((r) => worker.once('exit', r));
        worker = startWorkerProcess();
        const r = (await handle.result()) as DeploymentRecord;
        assertDeployed(r);
        // One backup of this release (named by its run since the fresh-run-backup patch), and it is the recorded one.
        const backups = await onHost(config, 'production', ['sh', '-c', 'ls -1 -- "$1" | grep -F -- "$2" || true', 'ls', config.environments.production!.database.backupDir, r.releaseId]);
        assert.deepEqual(backups.stdout.split('\n').filter(Boolean), [path.basename(r.backup!.file)], 'exactly one backup file, no partial left');
        const releases = await onHost(config, 'production', ['sh', '-c', `ls -1a ${prod.app.deployRoot}/releases | grep -c -- "${r.releaseId}"`]);
        assert.equal(releases.stdout.trim(), '1', 'exactly one release directory');
        assert.equal((await healthz(config, 'production')).release, 'r09-requirements');
        assert.equal(r.restartMode, 'restarted', 'new requirements need a new master, not a HUP');
      });
    } finally {
      worker.kill('SIGKILL');
    }
  });
});

describe('deployment on staging: destructive and irreversible migrations (real stack)', () => {
  const config = devConfig('deploy-staging');
  const staging = config.environments.staging!;
  // A worker whose staging smoke checks include one only r03 passes: the new release fails its smoke after an
  // irreversible migration ran, and the previous release (r03) is green again after the rollback.
  const failing = devConfig('deploy-staging-failing');
  failing.environments.staging!.app.smokeChecks = [{ name: 'serves r03 only', kind: 'page', path: '/healthz', expectStatus: 200, expectText: 'r03-additive-migration' }];

  before(async () => {
    await resetHostDatabase('staging');
    await withWorkerAndClient(config, async (client) => {
      assertDeployed(await deploy(client, config, deployInput({ gitRef: 'r03-additive-migration', environment: 'staging' })));
    });
  });

  it('stops for a human decision when an irreversible migration must be rolled back, and restores the backup', async () => {
    await withWorkerAndClient(failing, async (client) => {
      const handle = await startDeployment(client, failing, deployInput({ gitRef: 'r08-irreversible', environment: 'staging' }));
      // A data-rewriting RunSQL is destructive (§6.2): it waits for its approval first.
      await waitForStatus(client, handle.workflowId, 'awaiting-destructive-approval');
      await handle.executeUpdate('approveDestructiveMigration', { args: [await signForDeployment(handle, 'grace', 'approveDestructiveMigration', { backupConfirmed: true, rollbackPlan: 'irreversible: restore the pre-deployment backup' })] });
      const waiting = await waitForStatus(client, handle.workflowId, 'awaiting-restore-decision');
      assert.ok(waiting.migrations?.planned.some((m) => m.irreversible), JSON.stringify(waiting.migrations));
      await handle.executeUpdate('decideRestore', { args: [await signForDeployment(handle, 'grace', 'decideRestore', { restore: true, reason: 'irreversible data change; restore the verified backup' })] });
      const r = (await handle.result()) as DeploymentRecord;
      saveHistory('deployment', 'staging-irreversible-restored', await handle.fetchHistory());
      assert.equal(r.status, 'rolled-back', JSON.stringify(r.rollback?.failedCompensations));
      assert.ok(r.rollback?.done.some((d) => d.action.startsWith('restore') && d.ok));
      const state = await onHost(config, 'staging', [`${staging.app.deployRoot}/current/.venv/bin/python`, `${staging.app.deployRoot}/current/manage.py`, 'showmigrations', 'banking']);
      assert.match(state.stdout, /\[X\] 0003_/);
      assert.doesNotMatch(state.stdout, /\[X\] 0004_/, 'the restored database is at the pre-deployment state');
      // Backups are named by run: this run's backup and its pre-restore backup, no other run's.
      assert.equal(r.backup?.file, `${staging.database.backupDir}/${r.releaseId}-${handle.firstExecutionRunId}.dump`);
      const pre = await onHost(config, 'staging', ['test', '-s', `${staging.database.backupDir}/${r.releaseId}-pre-restore-${handle.firstExecutionRunId}.dump`]);
      assert.equal(pre.exitCode, 0, 'the database as it was before the restore is kept');
    });
  });

  it('holds a destructive migration until an approver other than the proposer approves it (§6.2)', async () => {
    await withWorkerAndClient(config, async (client) => {
      const handle = await startDeployment(client, config, deployInput({ gitRef: 'r06-drop-financial-column', environment: 'staging', proposer: 'alice' }));
      const waiting = await waitForStatus(client, handle.workflowId, 'awaiting-destructive-approval');
      assert.equal(waiting.migrations?.classification.level, 'destructive');
      assert.ok(waiting.migrations?.gatingFindings?.some((l) => /^\[data-loss\] banking\.0004_remove_loan_legacy_reference: drops column legacy_reference of fin_loan/.test(l)), JSON.stringify(waiting.migrations?.gatingFindings));
      // The backup is taken after the approval, right before the migration (a wait of days must not make it stale).
      assert.equal(waiting.backup, undefined, 'no backup is taken before the approval');
      assert.ok(!waiting.steps.some((s) => s.name === 'run migrations'));
      await assert.rejects(
        handle.executeUpdate('approveDestructiveMigration', { args: [await signForDeployment(handle, 'alice', 'approveDestructiveMigration', { backupConfirmed: true, rollbackPlan: 'reverse migration re-adds the column' })] }),
        (err: unknown) => err instanceof WorkflowUpdateFailedError && /proposed this change/.test(String((err.cause as Error)?.message)),
      );
      await assert.rejects(handle.executeUpdate('approveDestructiveMigration', { args: [await signForDeployment(handle, 'grace', 'approveDestructiveMigration', { backupConfirmed: false, rollbackPlan: 'x' })] }), WorkflowUpdateFailedError);
      // §6.2 by someone without the dba role, by a key nobody owns, and a raw unsigned Update: all refused.
      const refusedWith = async (p: Promise<unknown>, re: RegExp) =>
        assert.rejects(p, (err: unknown) => err instanceof WorkflowUpdateFailedError && re.test(String((err.cause as Error)?.message)));
      await refusedWith(handle.executeUpdate('approveDestructiveMigration', { args: [await signForDeployment(handle, 'carol', 'approveDestructiveMigration', { backupConfirmed: true, rollbackPlan: 'reverse migration re-adds the column' })] }), /holds none of the roles dba/);
      await refusedWith(handle.executeUpdate('approveDestructiveMigration', { args: [await signForDeployment(handle, 'grace', 'approveDestructiveMigration', { backupConfirmed: true, rollbackPlan: 'reverse migration re-adds the column' }, { keyOf: 'mallory' })] }), /belongs to nobody/);
      await refusedWith(handle.executeUpdate('approveDestructiveMigration', { args: [{ approver: 'grace', backupConfirmed: true, rollbackPlan: 'reverse migration re-adds the column' } as never] }), /not signed/);
      const pendingNow = (await handle.query('status')) as DeploymentRecord;
      assert.deepEqual(pendingNow.pendingDecision?.roles, ['dba'], 'status says who may decide');
      assert.ok(pendingNow.pendingDecision?.notBy.includes('alice'));
      await handle.signal('approveDestructiveMigration', { approver: 42 } as never);
      await handle.executeUpdate('approveDestructiveMigration', { args: [await signForDeployment(handle, 'grace', 'approveDestructiveMigration', { backupConfirmed: true, rollbackPlan: 'reverse migration re-adds legacy_reference; restore backup if data is needed' })] });
      const r = (await handle.result()) as DeploymentRecord;
      saveHistory('deployment', 'staging-destructive-approved', await handle.fetchHistory());
      assertDeployed(r);
      assert.equal(r.destructiveApproval?.approver, 'grace');
      const approvedAt = Date.parse(r.steps.find((s) => s.name === 'destructive migration: wait for §6.2 approval')!.finishedAt!);
      assert.ok(r.backup && Date.parse(r.backup.takenAt!) >= approvedAt - 1000, `the backup (${r.backup?.takenAt}) is taken after the approval (${new Date(approvedAt).toISOString()})`);
      assert.equal(r.backup.runId, handle.firstExecutionRunId);
      assert.ok(r.backup.restoreCheck && r.backup.restoreCheck.tables.some((t) => t.table === 'fin_loan' && t.restored === t.sourceAfter), `restore check: ${JSON.stringify(r.backup.restoreCheck)}`);
      assert.equal(r.rejectedAttempts.length, 1, 'the malformed signal is recorded, not applied');
      assert.equal(r.pendingDecision, undefined);
    });
    // Back to r03 for the next run: reverse the drop with the code that knows it, then redeploy r03.
    const rev = await onHost(config, 'staging', [`${staging.app.deployRoot}/current/.venv/bin/python`, `${staging.app.deployRoot}/current/manage.py`, 'migrate', 'banking', '0003']);
    assert.equal(rev.exitCode, 0, rev.stdout);
    await withWorkerAndClient(config, async (client) => {
      assertDeployed(await deploy(client, config, deployInput({ gitRef: 'r03-additive-migration', environment: 'staging' })));
    });
  });
});

after(() => undefined);
