// Several hosts per environment: the config rules, the rolling order and the per-host record, without a stack.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createFleetActivities } from '../../src/activities/deployment/fleet';
import { onHost } from '../../src/activities/deployment/context';
import { ConfigError, parseConfig } from '../../src/config/load';
import { primaryHost } from '../../src/config/schema';
import { combineSmoke, describeHosts, rolloutBatches } from '../../src/contracts/fleet';
import { ensureTraversable } from '../../src/dev/postgres';
import { codeBeforeMigrations, rollbackPlan } from '../../src/domain/rollback';
import type { SshPool } from '../../src/activities/remote/ssh';

const host = (name: string, extra = '') =>
  `      - { name: ${name}, address: 10.0.0.5, user: deploy, privateKey: { file: /etc/steward/key }, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVy"${extra} }`;
const config = (hosts: string[], rollout = '') => `
environments:
  production:
    hosts:
${hosts.join('\n')}
    app: { repo: /srv/git/app.git, deployRoot: /srv/app, baseUrl: "http://10.0.0.5:8000" }
    database: { name: banking, url: { env: PROD_DB_URL }, backupDir: /var/backups/banking }
${rollout}`;

const fails = (text: string, field: RegExp) =>
  assert.throws(() => parseConfig(text, 'x.yaml', {}), (err: unknown) => err instanceof ConfigError && field.test(err.message), field.source);

describe('fleet config', () => {
  it('one host needs no roles: it is the web host and the primary', () => {
    const env = parseConfig(config([host('prod-1')]), 'x.yaml', {}).environments.production!;
    assert.deepEqual(env.hosts[0]!.roles, ['web']);
    assert.equal(primaryHost(env).name, 'prod-1');
    assert.equal(env.rollout.batchSize, 1);
  });
  it('the host marked primary is the primary, wherever it is listed', () => {
    const env = parseConfig(config([host('prod-1', ', deployRoot: /srv/a'), host('prod-2', ', roles: [web, primary], deployRoot: /srv/b')], '    rollout: { batchSize: 2 }'), 'x.yaml', {}).environments
      .production!;
    assert.equal(primaryHost(env).name, 'prod-2');
    assert.equal(env.rollout.batchSize, 2);
  });
  it('names the field for two primaries, a duplicate host name, two hosts sharing a deploy root, an unknown role, a zero batch', () => {
    fails(config([host('prod-1', ', roles: [primary]'), host('prod-2', ', roles: [web, primary], deployRoot: /srv/b')]), /hosts\.1\.roles: only one host may be primary \(host prod-1/);
    fails(config([host('prod-1'), host('prod-1', ', deployRoot: /srv/b')]), /hosts\.1\.name: host name prod-1 is used twice/);
    fails(config([host('prod-1'), host('prod-2')]), /hosts\.1\.deployRoot: host prod-1 has the same address and deploy root/);
    fails(config([host('prod-1', ', roles: [db]')]), /hosts\.0\.roles\.0/);
    fails(config([host('prod-1')], '    rollout: { batchSize: 0 }'), /rollout\.batchSize/);
  });
  it('each host sees the app at its own deploy root and address; no host named means the primary', () => {
    const c = parseConfig(config([host('prod-1'), host('prod-2', ', deployRoot: /srv/b, baseUrl: "http://10.0.0.6:8000", bind: "0.0.0.0:8000"')]), 'x.yaml', {});
    const deps = { config: c, ssh: {} as SshPool };
    assert.equal(onHost(deps, 'production').host.name, 'prod-1');
    const two = onHost(deps, 'production', 'prod-2');
    assert.deepEqual([two.env.app.deployRoot, two.env.app.baseUrl, two.env.app.bind], ['/srv/b', 'http://10.0.0.6:8000', '0.0.0.0:8000']);
    assert.equal(onHost(deps, 'production', 'prod-1').env.app.deployRoot, '/srv/app');
    assert.throws(() => onHost(deps, 'production', 'prod-9'), /host "prod-9" is not in environment production \(hosts: prod-1, prod-2\)/);
  });
  it('describeFleet gives the workflow names, roles and the batch size', async () => {
    const c = parseConfig(config([host('prod-1', ', roles: [web]'), host('prod-2', ', roles: [primary], deployRoot: /srv/b')]), 'x.yaml', {});
    const fleet = await createFleetActivities({ config: c, ssh: {} as SshPool }).describeFleet({ environment: 'production' });
    assert.deepEqual(fleet, { hosts: [{ name: 'prod-1', web: true, primary: false }, { name: 'prod-2', web: false, primary: true }], batchSize: 1, absentHooks: [], limits: [] });
  });
});

describe('rolling order and the per-host record', () => {
  const h = (name: string, web = true) => ({ name, web, primary: false });
  it('batches the web hosts in config order; a host without the web role is never switched', () => {
    assert.deepEqual(rolloutBatches([h('a'), h('db', false), h('b'), h('c')], 2).map((b) => b.map((x) => x.name)), [['a', 'b'], ['c']]);
    assert.deepEqual(rolloutBatches([h('a'), h('b')], 1).map((b) => b.map((x) => x.name)), [['a'], ['b']]);
    assert.deepEqual(rolloutBatches([h('a')], 0).map((b) => b.map((x) => x.name)), [['a']]);
  });
  it('combines the smoke results with each check named by its host; red if any host is red', () => {
    const ok = { ok: true, checks: [{ name: 'health', ok: true, ms: 1, detail: '' }], durationMs: 5 };
    const red = { ok: false, checks: [{ name: 'dashboard loads', ok: false, ms: 2, detail: '500' }], durationMs: 7 };
    const c = combineSmoke([{ host: 'a', result: ok }, { host: 'b', result: red }]);
    assert.equal(c.ok, false);
    assert.deepEqual(c.checks.map((x) => x.name), ['a: health', 'b: dashboard loads']);
    assert.equal(c.durationMs, 12);
    assert.equal(combineSmoke([{ host: 'a', result: ok }]).ok, true);
  });
  it('describes each host for status, the details and the report', () => {
    const lines = describeHosts([
      { name: 'p1', web: true, primary: true, previousReleaseId: 'r1', status: 'rolled-back', restartMode: 'reloaded' },
      { name: 'p2', web: true, primary: false, previousReleaseId: null, status: 'live', detail: 'never switched' },
    ]);
    assert.deepEqual(lines, ['p1 (primary): rolled-back; previous r1, reloaded', 'p2: live; previous none — never switched']);
  });
  it('a fleet rollback puts the code back on every switched host before reversing the migrations', () => {
    const plan = rollbackPlan({ changeType: 'feature', migrationsApplied: [{ app: 'banking', name: '0003_x', reversible: true }], releaseSwitched: true, previousRelease: 'r1' });
    assert.deepEqual(plan.steps.map((s) => s.action), ['reverse-migrations', 'switch-to-previous-release', 'restart']);
    const fleet = codeBeforeMigrations(plan);
    assert.deepEqual(fleet.steps.map((s) => s.action), ['switch-to-previous-release', 'restart', 'reverse-migrations']);
    assert.equal(fleet.summary, 'switch-to-previous-release → restart → reverse-migrations');
    const codeOnly = rollbackPlan({ changeType: 'feature', migrationsApplied: [], releaseSwitched: true, previousRelease: 'r1' });
    assert.deepEqual(codeBeforeMigrations(codeOnly), codeOnly);
  });
});

describe('dev stack as root with a 0700 STEWARD_HOME', () => {
  it('makes the dirs inside STEWARD_HOME traversable for the PostgreSQL user, and names a blocking dir outside it', () => {
    const outer = mkdtempSync(path.join(os.tmpdir(), 'steward-home-'));
    try {
      chmodSync(outer, 0o755);
      const home = path.join(outer, 'home');
      mkdirSync(path.join(home, 'postgres', 'data'), { recursive: true, mode: 0o700 });
      chmodSync(home, 0o700);
      chmodSync(path.join(home, 'postgres'), 0o700);
      const logs: string[] = [];
      const other = { uid: 424242, gid: 424242, user: 'pg-probe' };
      ensureTraversable(path.join(home, 'postgres', 'data'), home, other, (l) => logs.push(l));
      assert.equal(statSync(home).mode & 0o777, 0o701);
      assert.equal(statSync(path.join(home, 'postgres')).mode & 0o777, 0o701);
      assert.equal(logs.length, 2);
      chmodSync(outer, 0o700);
      assert.throws(() => ensureTraversable(path.join(home, 'postgres', 'data'), home, other, () => undefined), new RegExp(`${outer} cannot be traversed by pg-probe`));
    } finally {
      chmodSync(outer, 0o755);
      rmSync(outer, { recursive: true, force: true });
    }
  });
});
