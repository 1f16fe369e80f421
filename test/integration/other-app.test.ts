// An app that is not the demo, deployed with nothing but config (examples/ledger-app): project `ledger`, a settings
// package, manage.py in src/, no Steward management commands, Gunicorn under supervisord restarted by a `command`
// hook, the financial invariant as a read-only SQL query, maintenance and module freeze declared absent.
// Real stack: the staging sshd host (another deploy root), the stack's PostgreSQL, a supervisord of the test's own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client as PgClient } from 'pg';
import { stringify } from 'yaml';
import { buildVenv, venvPath } from '../../src/commands/python';
import { toShell } from '../../src/commands/shell';
import { parseConfig } from '../../src/config/load';
import { devLayout, devPorts } from '../../src/dev/paths';
import { ensureDatabase, pgUrl, superuserPasswordFile } from '../../src/dev/postgres';
import { ensureSecretFile } from '../../src/dev/secrets';
import { deploy, deployInput } from '../helpers/deploy';
import { devConfig, withWorkerAndClient } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const APP = path.join(ROOT, 'examples', 'ledger-app');
const DB = 'ledger_test';

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** The app's release history as a bare repository: v1 (the tree), v2 (v2/ copied over it). */
function buildOrigin(dest: string): void {
  const work = mkdtempSync(path.join(os.tmpdir(), 'ledger-repo-'));
  const env = { ...process.env, GIT_AUTHOR_NAME: 'Ledger', GIT_AUTHOR_EMAIL: 'ledger@example.invalid', GIT_COMMITTER_NAME: 'Ledger', GIT_COMMITTER_EMAIL: 'ledger@example.invalid' };
  try {
    sh('git', ['init', '-q', '-b', 'main', work]);
    for (const f of ['requirements.txt', 'src', 'README.md']) cpSync(path.join(APP, f), path.join(work, f), { recursive: true });
    sh('git', ['add', '-A'], { cwd: work });
    sh('git', ['commit', '-q', '-m', 'ledger v1'], { cwd: work, env });
    sh('git', ['tag', 'v1'], { cwd: work });
    cpSync(path.join(APP, 'v2'), work, { recursive: true });
    sh('git', ['add', '-A'], { cwd: work });
    sh('git', ['commit', '-q', '-m', 'ledger v2: memo on ledger lines'], { cwd: work, env });
    sh('git', ['tag', 'v2'], { cwd: work });
    rmSync(dest, { recursive: true, force: true });
    sh('git', ['clone', '-q', '--bare', work, dest]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function superuser<T>(fn: (c: PgClient) => Promise<T>, db = 'postgres'): Promise<T> {
  const layout = devLayout();
  const c = new PgClient({ connectionString: pgUrl('postgres', ensureSecretFile(superuserPasswordFile(layout)), devPorts().postgres, db) });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('an app that is not the demo, deployed from config alone (real stack)', () => {
  const layout = devLayout();
  const ports = devPorts();
  const root = path.join(layout.home, 'hosts', 'ledger');
  const deployRoot = path.join(root, 'srv', 'ledger');
  const conf = path.join(root, 'supervisord.conf');
  const pidFile = path.join(root, 'supervisord.pid');
  const supervisorVenv = path.join(root, 'supervisor-venv');
  const baseUrl = `http://127.0.0.1:${ports.appFixture}`;
  const base = devConfig('other-app');
  let config: ReturnType<typeof devConfig>;

  const stopSupervisor = () => {
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      spawnSync('sleep', ['0.1']);
    }
  };

  before(async () => {
    stopSupervisor();
    rmSync(deployRoot, { recursive: true, force: true });
    mkdirSync(path.join(deployRoot, 'shared'), { recursive: true });
    mkdirSync(path.join(root, 'backups'), { recursive: true });
    await superuser((c) => c.query(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`));
    const dbUrl = await ensureDatabase(layout, ports, DB, DB);
    const dbUrlFile = path.join(layout.secrets, 'ledger-database-url');
    writeFileSync(dbUrlFile, `${dbUrl}\n`, { mode: 0o600 });
    writeFileSync(path.join(deployRoot, 'shared', 'ledger.env'), `LEDGER_DATABASE_URL=${dbUrl}\nLEDGER_SECRET_KEY=${ensureSecretFile(path.join(layout.secrets, 'ledger-secret-key'))}\n`, { mode: 0o600 });
    buildOrigin(path.join(root, 'origin.git'));
    // The bank's host already runs the app with data before Steward's first deployment (as the dev stack does for
    // the demo): v1's schema and two balanced lines, from a venv at the path a deployment reuses.
    const boot = path.join(deployRoot, 'releases', 'bootstrap');
    mkdirSync(boot, { recursive: true });
    sh('sh', ['-c', 'git --git-dir="$1" archive --format=tar v1 | tar -x -C "$2"', 'bootstrap', path.join(root, 'origin.git'), boot]);
    const venv = venvPath(path.join(deployRoot, 'venvs'), createHash('sha256').update(readFileSync(path.join(boot, 'requirements.txt'))).digest('hex'));
    mkdirSync(path.dirname(venv), { recursive: true });
    sh('bash', ['-c', toShell(buildVenv('python3', venv, path.join(boot, 'requirements.txt')))]);
    sh(path.join(venv, 'bin', 'python'), ['src/manage.py', 'migrate', '--noinput'], { cwd: boot, env: { ...process.env, DJANGO_SETTINGS_MODULE: 'ledger.settings.production' } });
    rmSync(boot, { recursive: true, force: true });
    await superuser((c) => c.query("insert into books_line (tenant, account, debit, credit) values ('acme', 'cash', 100, 0), ('acme', 'deposits', 0, 100)"), DB);
    // The host's process supervisor (provisioned before any deployment, as an OS package would be).
    if (!existsSync(path.join(supervisorVenv, 'bin', 'supervisord'))) {
      sh('python3', ['-m', 'venv', supervisorVenv]);
      sh(path.join(supervisorVenv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', 'supervisor==4.3.0']);
    }
    writeFileSync(
      conf,
      [
        '[unix_http_server]',
        `file=${root}/supervisor.sock`,
        '[supervisord]',
        `pidfile=${pidFile}`,
        `logfile=${root}/supervisord.log`,
        'user=root',
        '[rpcinterface:supervisor]',
        'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
        '[supervisorctl]',
        `serverurl=unix://${root}/supervisor.sock`,
        '[program:ledger]',
        `command=/bin/sh -c 'cd ${deployRoot}/current/src && exec ../.venv/bin/gunicorn ledger.wsgi:application --bind 127.0.0.1:${ports.appFixture} --workers 1'`,
        'environment=DJANGO_SETTINGS_MODULE="ledger.settings.production"',
        'autostart=false',
        'autorestart=true',
        'startsecs=1',
        'stopasgroup=true',
        'killasgroup=true',
        `stdout_logfile=${root}/ledger.log`,
        'redirect_stderr=true',
        '',
      ].join('\n'),
    );
    sh(path.join(supervisorVenv, 'bin', 'supervisord'), ['-c', conf]);
    const staging = base.environments.staging!.hosts[0]!;
    const ledger = {
      hosts: [{ ...staging, name: 'ledger-1', roles: ['web', 'primary'] }],
      app: {
        repo: path.join(root, 'origin.git'),
        deployRoot,
        python: 'python3',
        wsgi: 'ledger.wsgi:application',
        settingsModule: 'ledger.settings.production',
        managePy: 'src/manage.py',
        baseUrl,
        health: { path: '/status/', releaseField: 'release' },
        smokeChecklist: 'none',
        // The §9 checklist as this app's config declares it: a page, a JSON field, no 5xx on its pages.
        smokeChecks: [
          { name: 'ledger-lines', path: '/lines/', expectStatus: 200, expectText: '"lines"' },
          { name: 'status-ok', kind: 'json', path: '/status/', field: 'status', equals: 'ok' },
          { name: 'no-500', kind: 'no-server-errors', paths: ['/status/', '/lines/'] },
        ],
        hooks: {
          restart: { strategy: 'command', reload: [path.join(supervisorVenv, 'bin', 'supervisorctl'), '-c', conf, 'restart', 'ledger'] },
          maintenance: 'absent',
          moduleFreeze: 'absent',
          invariants: {
            sql: [{ name: 'balanced_per_tenant', query: 'select tenant, sum(debit) - sum(credit) as diff from books_line group by tenant having sum(debit) <> sum(credit)', expect: 'no-rows' }],
          },
        },
      },
      database: { name: DB, url: { file: dbUrlFile }, backupDir: path.join(root, 'backups') },
    };
    // Through the same parser as steward.config.yaml: the test config is what a user would write.
    config = parseConfig(stringify({ ...base, environments: { ledger } }), 'ledger.config.yaml', {});
  });

  after(() => stopSupervisor());

  it('deploys v1, then v2 with its migration, restarting through supervisorctl and checking the SQL invariant', async () => {
    await withWorkerAndClient(config, async (client) => {
      const input = (gitRef: string) => ({ ...deployInput({ gitRef, environment: 'ledger' }), tagRelease: false, stagingChecks: false });
      const v1 = await deploy(client, config, input('v1'));
      assert.equal(v1.status, 'deployed', `${v1.reason} ${JSON.stringify(v1.steps.filter((s) => s.outcome === 'failed'))}`);
      assert.deepEqual(v1.smoke?.checks.map((c) => [c.name, c.ok, c.detail]), [
        ['health', true, v1.smoke!.checks[0]!.detail],
        ['ledger-lines', true, v1.smoke!.checks[1]!.detail],
        ['status-ok', true, 'status = "ok"'],
        ['no-500', true, '2 pages without a server error'],
      ]);
      assert.deepEqual(v1.invariants?.after, { sql: { balanced_per_tenant: 'holds' } });
      assert.equal(v1.limits?.length, 2, 'maintenance and module freeze are declared absent and said so');
      assert.match(v1.limits!.join(' '), /cannot disable the feature/);
      const s1 = (await (await fetch(`${baseUrl}/status/`)).json()) as { version: string; release: string };
      assert.deepEqual([s1.version, s1.release], ['1', v1.releaseId]);

      const v2 = await deploy(client, config, input('v2'));
      assert.equal(v2.status, 'deployed', `${v2.reason} ${JSON.stringify(v2.steps.filter((s) => s.outcome === 'failed'))}`);
      assert.deepEqual(v2.migrations?.planned.map((m) => `${m.app}.${m.name}`), ['books.0002_line_memo']);
      assert.deepEqual(v2.invariants?.before, { sql: { balanced_per_tenant: 'holds' } });
      assert.equal(v2.restartMode, 'reloaded', 'same requirements: the reload command');
      assert.ok(v2.backup && v2.backup.verifiedEntries > 0);
      const s2 = (await (await fetch(`${baseUrl}/status/`)).json()) as { version: string; release: string };
      assert.deepEqual([s2.version, s2.release], ['2', v2.releaseId]);
    });
    // On the host and in the database, not only in the record: supervisord runs it, the column exists.
    assert.match(sh(path.join(supervisorVenv, 'bin', 'supervisorctl'), ['-c', conf, 'status', 'ledger']), /RUNNING/);
    const cols = await superuser((c) => c.query("select column_name from information_schema.columns where table_name = 'books_line' and column_name = 'memo'"), DB);
    assert.equal(cols.rowCount, 1);
  });
});
