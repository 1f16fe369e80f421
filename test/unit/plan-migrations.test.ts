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

const base = (shell: string): Partial<ExecResult> | undefined => {
  if (shell.includes('showmigrations')) return { stdout: 'banking\n [X] 0003_deposit_channel\n [ ] 0004_x\n' };
  if (shell.includes('migrate --plan')) return { stdout: 'Planned operations:\nbanking.0004_x\n    Raw SQL operation\n' };
  if (shell.includes("'shell' '-c'") || shell.includes(' shell -c ')) return { stdout: 'STEWARD-SIZES {"fin_fee": {"bytes": 8192, "rows": 3}}\n' };
  return undefined;
};

test('planMigrations: a failing sqlmigrate stops the plan (an empty output is not safe SQL)', async () => {
  const { ssh } = scriptedHost((shell) => base(shell) ?? (shell.includes('sqlmigrate') ? { exitCode: 1, stderr: 'django.db.utils.OperationalError: boom' } : {}));
  const db = createDatabaseActivities({ config, ssh });
  await assert.rejects(db.planMigrations({ environment: 'staging', releaseId: 'r1' }), (err: Error & { type?: string }) => {
    assert.equal(err.type, 'SqlMigrateFailed');
    assert.match(err.message, /sqlmigrate banking 0004_x exited with 1: .*boom/);
    return true;
  });
});

test('planMigrations: a failing --backwards other than IrreversibleError stops the plan too', async () => {
  const { ssh } = scriptedHost((shell) => base(shell) ?? (shell.includes('--backwards') ? { exitCode: 1, stderr: 'ImportError: x' } : { stdout: 'DELETE FROM fin_fee;' }));
  const db = createDatabaseActivities({ config, ssh });
  await assert.rejects(db.planMigrations({ environment: 'staging', releaseId: 'r1' }), /sqlmigrate --backwards banking 0004_x exited with 1/);
});

test('planMigrations: facts both ways, irreversible from IrreversibleError, SQL asked whole, protected tables from the config', async () => {
  const { ssh, seen } = scriptedHost((shell) => base(shell) ?? (shell.includes('--backwards') ? { exitCode: 1, stderr: 'django.db.migrations.exceptions.IrreversibleError: Operation RunSQL is not reversible' } : { stdout: 'BEGIN;\n--\n-- Raw SQL operation\n--\nDELETE FROM fin_fee;\nCOMMIT;\n' }));
  const db = createDatabaseActivities({ config, ssh });
  const plan = await db.planMigrations({ environment: 'staging', releaseId: 'r1' });
  assert.equal(plan.planned[0]!.irreversible, true);
  const f = plan.facts![0]!;
  assert.equal(f.irreversible, true);
  assert.equal(f.backwards, undefined);
  assert.deepEqual(f.forwards.statements.map((s) => s.kind), ['TransactionStmt', 'DeleteStmt', 'TransactionStmt']);
  assert.equal(f.forwards.statements[1]!.raw, true);
  assert.deepEqual(f.forwards.statements[1]!.writes, ['fin_fee']);
  assert.ok(plan.protectedTables!.includes('fin_fee') && plan.protectedTables!.includes('ledger_extra') && plan.protectedTables!.includes('audit_log'), JSON.stringify(plan.protectedTables));
  assert.deepEqual(plan.tableSizes, { fin_fee: { bytes: 8192, rows: 3 } });
  for (const s of seen.filter((x) => x.shell.includes('sqlmigrate'))) assert.equal(s.opts.whole, true, s.shell);
  // The relation names reach the host on stdin, never in the command line.
  const sizes = seen.find((x) => x.opts.stdin !== undefined && x.shell.includes('STEWARD-SIZES'));
  assert.ok(sizes, 'the sizes query ran');
  assert.deepEqual(JSON.parse(sizes.opts.stdin!), ['fin_fee']);
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
