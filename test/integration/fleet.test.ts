// A production fleet of two hosts on the real stack (two sshd hosts, one PostgreSQL database, Gunicorn on each):
// both hosts are prepared, the primary migrates once, the hosts are switched one after the other, and a smoke
// failure on the second host rolls back both hosts and the migration. Assertions read the hosts and the database.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Client as PgClient } from 'pg';
import { createReleaseActivities } from '../../src/activities/deployment/release';
import { SshPool } from '../../src/activities/remote/ssh';
import { cmd } from '../../src/commands/shell';
import { resolveSecret } from '../../src/config/secrets';
import type { HostConfig, StewardConfig } from '../../src/config/schema';
import type { DeploymentRecord } from '../../src/workflows/deployment';
import { deploy, deployInput } from '../helpers/deploy';
import { resetHostDatabase } from '../helpers/reset';
import { devConfig, withWorkerAndClient } from '../helpers/stack';

const ENV = 'production';

async function onHost(host: HostConfig, argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const pool = new SshPool();
  try {
    return await pool.exec(host, cmd(argv), { allowFailure: true });
  } finally {
    pool.close();
  }
}

function deployRootOf(config: StewardConfig, host: HostConfig): string {
  return host.deployRoot ?? config.environments[ENV]!.app.deployRoot;
}

async function servingOn(config: StewardConfig, host: HostConfig): Promise<{ release: string; release_dir: string }> {
  const res = await fetch(new URL('/healthz', host.baseUrl ?? config.environments[ENV]!.app.baseUrl));
  return (await res.json()) as { release: string; release_dir: string };
}

async function appliedMigrations(config: StewardConfig): Promise<string[]> {
  const c = new PgClient({ connectionString: resolveSecret(config.environments[ENV]!.database.url).reveal() });
  await c.connect();
  try {
    const r = await c.query("select name from django_migrations where app = 'banking' order by name");
    return r.rows.map((row: { name: string }) => row.name);
  } finally {
    await c.end();
  }
}

describe('a production fleet of two hosts (real stack)', () => {
  const config = devConfig('fleet');
  const hosts = config.environments[ENV]!.hosts;

  before(async () => {
    assert.equal(hosts.length, 2, 'the dev stack production has two hosts');
    // An incident left running by an interrupted earlier run would freeze posting on this task queue's worker.
    await withWorkerAndClient({ ...config, temporal: { ...config.temporal, taskQueue: `${config.temporal.taskQueue}-cleanup` } }, async (client) => {
      for await (const wf of client.workflow.list({ query: `WorkflowType="incidentResponse" AND ExecutionStatus="Running"` })) {
        await client.workflow.getHandle(wf.workflowId).terminate('fleet test set-up');
      }
    });
    // The schema at r02 (no 0003_deposit_channel), so the failing deployment below has a migration to reverse.
    await resetHostDatabase('production');
  });

  it('deploys to both hosts, primary first, and records each host', async () => {
    await withWorkerAndClient(config, async (client) => {
      const r = await deploy(client, config, deployInput({ gitRef: 'r02-cosmetic', environment: ENV }));
      assert.equal(r.status, 'deployed', `${r.reason ?? ''} ${JSON.stringify(r.steps.filter((s) => s.outcome === 'failed'))}`);
      assert.deepEqual(r.hosts?.map((h) => [h.name, h.status, h.primary]), [['production-1', 'serving', true], ['production-2', 'serving', false]]);
      for (const h of hosts) {
        const now = await servingOn(config, h);
        assert.equal(now.release, 'r02-cosmetic', h.name);
        assert.equal(now.release_dir, r.releaseId, h.name);
      }
      // Rolling: the second host is switched only after the first one's smoke test is green.
      const at = (name: string) => r.steps.findIndex((s) => s.name === name);
      assert.ok(at('smoke tests on production-1') >= 0 && at('smoke tests on production-1') < at('switch current on production-2'), JSON.stringify(r.steps.map((s) => s.name)));
      assert.equal(r.steps.filter((s) => s.name.startsWith('back up the database')).length, 1, 'one backup for the one database');
    });
  });

  it("rolls back both hosts and the migration when the second host's smoke test fails", async () => {
    const before1 = await servingOn(config, hosts[0]!);
    const before2 = await servingOn(config, hosts[1]!);
    assert.equal(before1.release_dir, before2.release_dir);
    assert.ok(!(await appliedMigrations(config)).includes('0003_deposit_channel'));
    const input = deployInput({ gitRef: 'r03-additive-migration', environment: ENV });
    const releaseId = `${input.changeId}-${ENV}-${input.attempt}`;
    // A fault on the second host only: its copy of the release has a dashboard that answers 500 (as a bad disk or a
    // hand edit would). The deployment finds the release dir whole (its marker names the commit) and reuses it.
    const pool = new SshPool();
    try {
      await createReleaseActivities({ config, ssh: pool }).prepareRelease({ environment: ENV, host: 'production-2', releaseId, gitRef: 'r03-additive-migration' });
    } finally {
      pool.close();
    }
    const template = `${deployRootOf(config, hosts[1]!)}/releases/${releaseId}/banking/templates/banking/dashboard.html`;
    const broken = await onHost(hosts[1]!, ['sed', '-i', "s/{% block content %}/{% block content %}{% url 'no-such-page' %}/", template]);
    assert.equal(broken.exitCode, 0, broken.stderr);
    assert.equal((await onHost(hosts[1]!, ['grep', '-c', 'no-such-page', template])).stdout.trim(), '1', 'the fault is in place');

    await withWorkerAndClient(config, async (client) => {
      const r: DeploymentRecord = await deploy(client, config, input);
      assert.equal(r.status, 'rolled-back', `${r.reason} ${JSON.stringify(r.rollback?.failedCompensations)}`);
      assert.match(r.reason ?? '', /smoke tests failed on production-2: dashboard/);
      assert.deepEqual(r.hosts?.map((h) => [h.name, h.status]), [['production-1', 'rolled-back'], ['production-2', 'rolled-back']]);
      const done = r.rollback!.done.map((d) => d.action);
      const expected = ['switch to the previous release on production-1', 'switch to the previous release on production-2', 'restart gunicorn on production-1', 'restart gunicorn on production-2', 'reverse migrations'];
      for (const a of expected) assert.ok(done.includes(a), `${a} missing from ${JSON.stringify(done)}`);
      assert.ok(r.rollback!.done.every((d) => d.ok), JSON.stringify(r.rollback!.done));
      // Code back on every switched host first, then the migrations (with the new release's files on the primary).
      assert.ok(done.indexOf('reverse migrations') > Math.max(done.indexOf('restart gunicorn on production-1'), done.indexOf('restart gunicorn on production-2')), JSON.stringify(done));
      assert.equal(r.rollback?.smokeAfter?.ok, true);
    });

    // The hosts, not Steward's record: both serve the old release from the old release dir, and the schema is back.
    for (const [h, was] of [[hosts[0]!, before1], [hosts[1]!, before2]] as const) {
      const now = await servingOn(config, h);
      assert.equal(now.release, 'r02-cosmetic', h.name);
      assert.equal(now.release_dir, was.release_dir, h.name);
      const current = await onHost(h, ['readlink', '--', `${deployRootOf(config, h)}/current`]);
      assert.equal(current.stdout.trim().split('/').pop(), was.release_dir, `${h.name} current`);
    }
    assert.ok(!(await appliedMigrations(config)).includes('0003_deposit_channel'), 'the migration is reversed');
  });
});
