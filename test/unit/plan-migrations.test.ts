// planMigrations over a scripted host (the real-stack run is test/integration/migration-plan.test.ts): a failing
// sqlmigrate stops the plan, IrreversibleError marks the migration irreversible, the SQL is asked for whole, and
// the protected tables come from the worker's config, not from the workflow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDatabaseActivities } from '../../src/activities/deployment/database';
import type { ExecOptions, ExecResult, SshPool } from '../../src/activities/remote/ssh';
import type { RemoteCommand } from '../../src/commands/shell';
import { toShell } from '../../src/commands/shell';
import type { StewardConfig } from '../../src/config/schema';

const config = {
  temporal: { address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'steward', webUiUrl: 'http://127.0.0.1:8233' },
  policy: { protectedTables: ['fin_fee'] },
  environments: {
    staging: {
      hosts: [{ name: 'h', roles: ['web', 'primary'], address: '127.0.0.1', port: 22, user: 'deploy', hostKey: 'ssh-ed25519 AAAA', privateKey: { env: 'X' } }],
      app: { repo: 'x', deployRoot: '/srv/app', python: 'python3', settingsModule: 'bankapp.settings', managePy: 'manage.py', baseUrl: 'http://127.0.0.1:1', releasesToKeep: 5, smokeChecks: [], stagingChecks: [] },
      database: { name: 'bank', url: { env: 'Y' }, backupDir: '/srv/backups', protectedTables: ['ledger_extra'] },
    },
  },
} as unknown as StewardConfig;

function scriptedHost(answer: (shell: string, opts: ExecOptions) => Partial<ExecResult>): { ssh: SshPool; seen: { shell: string; opts: ExecOptions }[] } {
  const seen: { shell: string; opts: ExecOptions }[] = [];
  const ssh = {
    async exec(_host: unknown, command: RemoteCommand, opts: ExecOptions = {}): Promise<ExecResult> {
      const shell = toShell(command);
      seen.push({ shell, opts });
      const r = { exitCode: 0, stdout: '', stderr: '', durationMs: 1, ...answer(shell, opts) };
      if (r.exitCode !== 0 && !opts.allowFailure) throw new Error(`exit ${r.exitCode}`);
      return r;
    },
  } as unknown as SshPool;
  return { ssh, seen };
}

// The host's answer to PLAN_PY (one Django process): showmigrations, migrate --plan, sqlmigrate both ways.
type Out = { code: number; out: string; err: string };
const ok = (out: string): Out => ({ code: 0, out, err: '' });
const failed = (err: string): Out => ({ code: 1, out: '', err });
function planAnswer(forwards: Out, backwards: Out | null): string {
  return `STEWARD-PLAN ${JSON.stringify({
    show: ok('banking\n [X] 0003_deposit_channel\n [ ] 0004_x\n'),
    plan: ok('Planned operations:\nbanking.0004_x\n    Raw SQL operation\n'),
    sql: [{ app: 'banking', name: '0004_x', forwards, backwards }],
  })}\n`;
}
const host = (plan: string) => (shell: string): Partial<ExecResult> => {
  if (shell.includes('STEWARD-PLAN')) return { stdout: plan };
  if (shell.includes('STEWARD-SIZES')) return { stdout: 'STEWARD-SIZES {"fin_fee": {"bytes": 8192, "rows": 3}}\n' };
  return {};
};

test('planMigrations: a failing sqlmigrate stops the plan (an empty output is not safe SQL)', async () => {
  const { ssh } = scriptedHost(host(planAnswer(failed('Traceback…\ndjango.db.utils.OperationalError: boom'), null)));
  const db = createDatabaseActivities({ config, ssh });
  await assert.rejects(db.planMigrations({ environment: 'staging', releaseId: 'r1' }), (err: Error & { type?: string }) => {
    assert.equal(err.type, 'SqlMigrateFailed');
    assert.match(err.message, /sqlmigrate banking 0004_x failed: .*boom/);
    return true;
  });
});

test('planMigrations: a failing --backwards other than IrreversibleError stops the plan too', async () => {
  const { ssh } = scriptedHost(host(planAnswer(ok('DELETE FROM fin_fee;'), failed('ImportError: x'))));
  const db = createDatabaseActivities({ config, ssh });
  await assert.rejects(db.planMigrations({ environment: 'staging', releaseId: 'r1' }), /sqlmigrate --backwards banking 0004_x failed: ImportError: x/);
});

test('planMigrations: a pending migration the host did not answer for stops the plan', async () => {
  const answer = `STEWARD-PLAN ${JSON.stringify({ show: ok('banking\n [X] 0003_deposit_channel\n'), plan: ok('Planned operations:\nbanking.0004_x\n'), sql: [] })}\n`;
  const { ssh } = scriptedHost(host(answer));
  await assert.rejects(createDatabaseActivities({ config, ssh }).planMigrations({ environment: 'staging', releaseId: 'r1' }), /0004_x is missing from the host's answer/);
});

test('planMigrations: facts both ways, irreversible from IrreversibleError, one Django process asked whole, protected tables from the config', async () => {
  const { ssh, seen } = scriptedHost(
    host(planAnswer(ok('BEGIN;\n--\n-- Raw SQL operation\n--\nDELETE FROM fin_fee;\nCOMMIT;\n'), failed('django.db.migrations.exceptions.IrreversibleError: Operation RunSQL is not reversible'))),
  );
  const db = createDatabaseActivities({ config, ssh });
  const plan = await db.planMigrations({ environment: 'staging', releaseId: 'r1' });
  assert.equal(plan.planned[0]!.irreversible, true);
  assert.deepEqual(plan.stateBefore, { banking: '0003_deposit_channel' });
  const f = plan.facts![0]!;
  assert.equal(f.irreversible, true);
  assert.equal(f.backwards, undefined);
  assert.deepEqual(f.forwards.statements.map((s) => s.kind), ['TransactionStmt', 'DeleteStmt', 'TransactionStmt']);
  assert.equal(f.forwards.statements[1]!.raw, true);
  assert.deepEqual(f.forwards.statements[1]!.writes, ['fin_fee']);
  assert.ok(plan.protectedTables!.includes('fin_fee') && plan.protectedTables!.includes('ledger_extra') && plan.protectedTables!.includes('audit_log'), JSON.stringify(plan.protectedTables));
  assert.deepEqual(plan.tableSizes, { fin_fee: { bytes: 8192, rows: 3 } });
  // Two execs: the plan (one Django start, its output kept whole) and the sizes.
  assert.equal(seen.length, 2, seen.map((s) => s.shell).join('\n'));
  assert.equal(seen[0]!.opts.whole, true);
  // The relation names reach the host on stdin, never in the command line.
  const sizes = seen.find((x) => x.opts.stdin !== undefined && x.shell.includes('STEWARD-SIZES'));
  assert.ok(sizes, 'the sizes query ran');
  assert.deepEqual(JSON.parse(sizes.opts.stdin!), ['fin_fee']);
});

test('planInOneProcess: the exact command; the script is a constant', async () => {
  const { planInOneProcess, PLAN_PY } = await import('../../src/commands/python');
  assert.deepEqual(planInOneProcess({ dir: '/srv/app/releases/r1', managePy: 'src/manage.py', settingsModule: 'ledger.settings' }), {
    kind: 'argv',
    argv: ['/srv/app/releases/r1/.venv/bin/python', 'src/manage.py', 'shell', '-c', PLAN_PY],
    cwd: '/srv/app/releases/r1',
    env: { DJANGO_SETTINGS_MODULE: 'ledger.settings' },
  });
  for (const c of ['"showmigrations", "--list"', '"migrate", "--plan", "--noinput"', '"sqlmigrate", m.group(1)', '"sqlmigrate", "--backwards"']) assert.ok(PLAN_PY.includes(c), c);
});

test('tableSizes: the exact command; relation names travel on stdin, the script is a constant', async () => {
  const { tableSizes, TABLE_SIZES_PY } = await import('../../src/commands/python');
  assert.deepEqual(tableSizes('/srv/app/releases/r1'), {
    kind: 'argv',
    argv: ['/srv/app/releases/r1/.venv/bin/python', 'manage.py', 'shell', '-c', TABLE_SIZES_PY],
    cwd: '/srv/app/releases/r1',
  });
  assert.match(TABLE_SIZES_PY, /to_regclass\(%s\)/, 'names are bound parameters, never formatted into SQL');
});
