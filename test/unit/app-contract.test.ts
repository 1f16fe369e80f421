// The app contract in steward.config.yaml: validation that names the field, the JSON Schema, and the exact
// commands the hooks become (argv arrays, Kamal style).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { judgeInvariant } from '../../src/activities/deployment/database';
import { parseCsv, readOnlyQuery } from '../../src/commands/database';
import * as g from '../../src/commands/gunicorn';
import { hookCommand } from '../../src/commands/hooks';
import { appRelease, manage, migrate } from '../../src/commands/python';
import { toShell } from '../../src/commands/shell';
import { systemctl } from '../../src/commands/systemd';
import { ConfigError, parseConfig } from '../../src/config/load';
import { hookLimits } from '../../src/contracts/fleet';
import { configJsonSchema } from '../../scripts/config-schema';

const ROOT = path.resolve(__dirname, '..', '..');
const withApp = (app: string) => `
environments:
  production:
    hosts:
      - { name: prod-1, address: 10.0.0.5, user: deploy, privateKey: { file: /etc/steward/key }, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVy" }
    app: { repo: /srv/git/app.git, deployRoot: /srv/app, baseUrl: "http://10.0.0.5:8000"${app} }
    database: { name: banking, url: { env: PROD_DB_URL }, backupDir: /var/backups/banking }
`;
const appOf = (app: string) => parseConfig(withApp(app), 'x.yaml', {}).environments.production!.app;
const fails = (app: string, field: RegExp) =>
  assert.throws(() => parseConfig(withApp(app), 'x.yaml', {}), (err: unknown) => err instanceof ConfigError && field.test(err.message), field.source);

describe('app contract: config', () => {
  it("defaults to the demo app's contract (built-in hooks, Gunicorn, /healthz naming its release dir)", () => {
    const app = appOf('');
    assert.equal(app.wsgi, 'bankapp.wsgi:application');
    assert.equal(app.managePy, 'manage.py');
    assert.deepEqual(app.health, { path: '/healthz', releaseField: 'release_dir' });
    assert.deepEqual(app.hooks, { restart: { strategy: 'gunicorn' }, maintenance: 'builtin', moduleFreeze: 'builtin', invariants: 'builtin' });
  });
  it('takes another app: settings package, manage.py elsewhere, command restart, SQL invariants, absent hooks', () => {
    const app = appOf(`, wsgi: "ledger.wsgi:app", settingsModule: ledger.settings.production, managePy: src/manage.py,
        health: { path: /status/, expectText: ok },
        hooks: { restart: { strategy: command, reload: [supervisorctl, restart, ledger] }, maintenance: absent, moduleFreeze: absent,
                 invariants: { sql: [{ name: balanced, query: "select tenant from ledger_line group by tenant having sum(debit) <> sum(credit)", expect: no-rows }] } }`);
    assert.equal(app.hooks.restart.strategy, 'command');
    assert.equal(app.settingsModule, 'ledger.settings.production');
    assert.deepEqual(app.hooks.invariants, { sql: [{ name: 'balanced', query: 'select tenant from ledger_line group by tenant having sum(debit) <> sum(credit)', expect: 'no-rows' }] });
  });
  it('names the field of each mistake', () => {
    fails(', wsgi: "ledger.wsgi"', /app\.wsgi: module:callable/);
    fails(', managePy: ../manage.py', /app\.managePy/);
    fails(', settingsModule: "ledger settings"', /app\.settingsModule: a dotted Python module path/);
    fails(', health: { path: /status/ }', /app\.health: say what a healthy answer shows/);
    fails(', hooks: { restart: { strategy: upstart } }', /app\.hooks\.restart/);
    fails(', hooks: { restart: { strategy: command, reload: "supervisorctl restart web" } }', /app\.hooks\.restart\.reload/);
    fails(', hooks: { restart: { strategy: systemd, unit: "web; reboot" } }', /app\.hooks\.restart\.unit: a unit name/);
    fails(', hooks: { maintenance: maybe }', /app\.hooks\.maintenance/);
    fails(', hooks: { invariants: { sql: [{ name: x, query: "delete from ledger", expect: no-rows }] } }', /app\.hooks\.invariants\.sql\.0\.query: one SELECT/);
    fails(', hooks: { invariants: { sql: [{ name: x, query: "select 1; drop table t", expect: no-rows }] } }', /app\.hooks\.invariants\.sql\.0\.query/);
  });
  it('the committed JSON Schema is the one the zod schema gives (scripts/config-schema.ts)', () => {
    const committed = readFileSync(path.join(ROOT, 'schema', 'steward.config.schema.json'), 'utf8');
    assert.equal(committed, configJsonSchema(), 'run: node bin/run-ts.js scripts/config-schema.ts');
    const s = JSON.parse(committed) as { properties: { environments: { additionalProperties: { properties: { app: { properties: Record<string, unknown> } } } } } };
    assert.ok('hooks' in s.properties.environments.additionalProperties.properties.app.properties);
  });
  it('says what the playbook cannot do for each absent hook', () => {
    const limits = hookLimits(['invariants', 'moduleFreeze']);
    assert.equal(limits.length, 2);
    assert.match(limits[0]!, /cannot detect a silent balance change/);
    assert.match(limits[1]!, /cannot disable the feature/);
  });
});

describe('app contract: commands', () => {
  it('manage.py where the contract says, with DJANGO_SETTINGS_MODULE', () => {
    const rel = appRelease({ managePy: 'src/manage.py', settingsModule: 'ledger.settings.production' }, '/srv/app/releases/r1');
    assert.equal(toShell(migrate(rel)), "cd /srv/app/releases/r1 && DJANGO_SETTINGS_MODULE=ledger.settings.production /srv/app/releases/r1/.venv/bin/python src/manage.py migrate --noinput");
    assert.equal(toShell(manage('/srv/app/releases/r1', ['check'])), 'cd /srv/app/releases/r1 && /srv/app/releases/r1/.venv/bin/python manage.py check');
  });
  it('systemd: reload or restart, through sudo -n unless root', () => {
    assert.equal(toShell(systemctl('ledger.service', 'reload', { sudo: true })), 'sudo -n systemctl reload -- ledger.service');
    assert.equal(toShell(systemctl('ledger.service', 'restart', { sudo: false })), 'systemctl restart -- ledger.service');
    assert.throws(() => systemctl('x;y', 'reload', { sudo: false }), /not a .service unit/);
  });
  it('hook commands: the whole-argument {module} placeholder only, validated', () => {
    assert.equal(toShell(hookCommand(['bin/flags', 'off', '{module}'], { module: 'posting' }, '/srv/r1')), 'cd /srv/r1 && bin/flags off posting');
    assert.equal(toShell(hookCommand(['echo', '--x={module}'], { module: 'posting' }, '/srv/r1')), "cd /srv/r1 && echo '--x={module}'");
    assert.throws(() => hookCommand(['bin/flags', '{module}'], { module: 'a;b' }, '/srv/r1'), /not a safe name/);
  });
  it('invariant queries run in a read-only transaction, the password on stdin, and are judged by their expectation', () => {
    const sh = toShell(readOnlyQuery({ host: '127.0.0.1', port: 5432, user: 'app', database: 'ledger' }, 'select 1 as one'));
    assert.match(sh, /^IFS= read -r PGPASSWORD && export PGPASSWORD && \( psql --no-psqlrc --quiet --csv --set=ON_ERROR_STOP=1 /);
    assert.match(sh, /'--command=BEGIN TRANSACTION READ ONLY' '--command=select 1 as one' --command=ROLLBACK/);
    assert.deepEqual(parseCsv('tenant,diff\nacme,0.00\n"b, ""x""",1.5\n'), [{ tenant: 'acme', diff: '0.00' }, { tenant: 'b, "x"', diff: '1.5' }]);
    const q = (expect: 'no-rows' | { column: string; equals: string }) => ({ name: 'balanced', query: 'select 1', expect });
    assert.equal(judgeInvariant(q('no-rows'), []), 'holds');
    assert.match(judgeInvariant(q('no-rows'), [{ tenant: 'acme' }]), /^broken: 1 row\(s\), first \{"tenant":"acme"\}/);
    assert.equal(judgeInvariant(q({ column: 'diff', equals: '0.00' }), [{ diff: '0.00' }, { diff: '0.00' }]), 'holds');
    assert.match(judgeInvariant(q({ column: 'diff', equals: '0.00' }), [{ diff: '0.00' }, { diff: '-0.45' }]), /1 row\(s\) where diff ≠ 0.00/);
    assert.match(judgeInvariant(q({ column: 'nope', equals: '0' }), [{ diff: '0' }]), /no column nope/);
  });
});

describe('gunicorn restart strategy: the zero-downtime handover commands', () => {
  it('starts the master with Steward\'s handover config, which loads the app\'s own gunicorn.conf.py', () => {
    const start = g.startGunicorn({ deployRoot: '/srv/app', bind: '127.0.0.1:8000', wsgi: 'bankapp.wsgi:application', workers: 2, venv: '/srv/app/venvs/abc' });
    assert.equal(start.kind, 'argv');
    const argv = (start as { argv: readonly string[] }).argv;
    assert.deepEqual(argv.slice(0, 6), ['/srv/app/current/.venv/bin/gunicorn', 'bankapp.wsgi:application', '--config', '/srv/app/shared/steward-gunicorn.conf.py', '--chdir', '/srv/app/current']);
    assert.match(g.HANDOVER_CONFIG_TEXT, /def pre_exec\(server\):/);
    assert.match(g.HANDOVER_CONFIG_TEXT, /exec\(compile\(_steward_f\.read\(\), _steward_app_conf, "exec"\)\)/, "the app's own config still applies");
    assert.match(g.HANDOVER_CONFIG_TEXT, /server\.START_CTX\[0\] = python/, 'the re-exec runs the new venv interpreter, not sys.executable');
    assert.match(g.HANDOVER_CONFIG_TEXT, /env_orig\["STEWARD_VENV"\] = venv/);
  });
  it('hands over with USR2, waits for the new master\'s workers, retires the old one with TERM (graceful), never QUIT', () => {
    const re = (g.reexecMaster(4242, '/srv/app', 3) as { argv: readonly string[] }).argv;
    assert.deepEqual(re.slice(0, 2), ['sh', '-c']);
    assert.deepEqual(re.slice(3), ['gunicorn-reexec', '4242', '/srv/app/shared/gunicorn.pid', '3', '60']);
    assert.match(re[2]!, /kill -USR2 "\$old"/);
    assert.match(re[2]!, /echo "\$old" > "\$pidf"/, 'a failed new master gives the pid file back');
    const retire = (g.retireMaster(4242, 5151, '/srv/app') as { argv: readonly string[] }).argv;
    assert.match(retire[2]!, /kill -TERM "\$1"/);
    assert.doesNotMatch(retire[2]!, /QUIT/, "QUIT is Gunicorn's quick stop: it would drop requests in flight");
    assert.deepEqual(retire.slice(3), ['gunicorn-retire', '4242', '5151', '/srv/app/shared/gunicorn.pid']);
    assert.throws(() => g.reexecMaster(1, '/srv/app', 2), /not a process/);
    assert.throws(() => g.retireMaster(4242, Number.NaN, '/srv/app'), /not a process/);
    assert.throws(() => g.reexecMaster(4242, '/srv/app', 0), /not a count/);
    const write = (g.writeHandoverConfig('/srv/app') as { argv: readonly string[] }).argv;
    assert.deepEqual(write.slice(3), ['write-gunicorn-config', g.HANDOVER_CONFIG_TEXT, '/srv/app/shared/steward-gunicorn.conf.py']);
  });
});
