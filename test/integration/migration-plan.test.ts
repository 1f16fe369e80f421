// planMigrations against the real stack: Django's sqlmigrate on the staging host (over sshd), read by
// PostgreSQL's parser (libpg-query) in the activity, judged by the pure domain. One release dir of its own,
// removed at the end; no migration is applied.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDatabaseActivities } from '../../src/activities/deployment/database';
import { createReleaseActivities } from '../../src/activities/deployment/release';
import { SshPool } from '../../src/activities/remote/ssh';
import { cmd } from '../../src/commands/shell';
import { judgeMigrations } from '../../src/domain/migration-facts';
import { devConfig } from '../helpers/stack';

const config = devConfig();
const ssh = new SshPool();
const deps = { config, ssh };
const releases = createReleaseActivities(deps);
const db = createDatabaseActivities(deps);
const environment = 'staging';

async function prepare(releaseId: string, gitRef: string): Promise<string> {
  const r = await releases.prepareRelease({ environment, releaseId, gitRef });
  await releases.prepareVirtualenv({ environment, releaseId, requirementsHash: r.requirementsHash });
  return r.releaseDir;
}

describe('planMigrations: sqlmigrate on the host, judged by PostgreSQL\'s parser (real stack)', () => {
  const ids = [`plan-r07-${process.pid}`, `plan-big-${process.pid}`];
  before(async () => {
    await ssh.connect(config.environments[environment]!.hosts[0]!);
  });
  after(async () => {
    for (const releaseId of ids) await releases.removeRelease({ environment, releaseId }).catch(() => undefined);
    ssh.close();
  });

  it('r07-drop-audit-log: facts name DROP TABLE audit_log and its triggers; the judgement refuses it; protected tables come from the worker config', async () => {
    await prepare(ids[0]!, 'r07-drop-audit-log');
    const plan = await db.planMigrations({ environment, releaseId: ids[0]! });
    assert.ok(plan.planned.some((m) => `${m.app}.${m.name}` === 'banking.0004_delete_auditlog'), JSON.stringify(plan.planned));
    assert.ok(plan.protectedTables?.includes('audit_log'), JSON.stringify(plan.protectedTables));
    const drop = plan.facts!.find((f) => f.name === '0004_delete_auditlog')!;
    const ops = drop.forwards.statements.flatMap((s) => s.ops.map((o) => `${o.op}:${o.relation ?? ''}`));
    assert.ok(ops.includes('drop-table:audit_log'), ops.join(', '));
    assert.ok(ops.includes('drop-trigger:audit_log'), ops.join(', '));
    // The reverse re-creates the table and its triggers: judged too, and the sizes of existing tables were measured.
    assert.ok(drop.backwards!.statements.some((s) => s.ops.some((o) => o.op === 'create-trigger')));
    assert.ok(plan.tableSizes && plan.tableSizes.audit_log && plan.tableSizes.audit_log.bytes > 0, JSON.stringify(plan.tableSizes));
    const verdict = judgeMigrations(plan.facts!, { protectedTables: plan.protectedTables!, tableSizes: plan.tableSizes });
    assert.equal(verdict.level, 'forbidden');
  });

  it('a 200 KiB migration comes through SSH whole and is classified whole (DROP TABLE audit_log in its middle)', async () => {
    const dir = await prepare(ids[1]!, 'r03-additive-migration');
    const filler = (i: number) => `ALTER TABLE bank_tenant ADD COLUMN IF NOT EXISTS c${i} varchar(40) NULL;`;
    const lines: string[] = [];
    let i = 0;
    while (lines.join('\n').length < 100 * 1024) lines.push(filler(i++));
    lines.push('DROP TABLE audit_log CASCADE;');
    while (lines.join('\n').length < 210 * 1024) lines.push(filler(i++));
    const py = `from django.db import migrations\n\nSQL = ${JSON.stringify(lines.join('\n'))}\n\nclass Migration(migrations.Migration):\n    dependencies = [("banking", "0003_deposit_channel")]\n    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]\n`;
    await ssh.exec(config.environments[environment]!.hosts[0]!, cmd(['sh', '-c', 'cat > "$1"', 'write', `${dir}/banking/migrations/0004_big.py`]), { stdin: py });
    const plan = await db.planMigrations({ environment, releaseId: ids[1]! });
    const big = plan.planned.find((m) => m.name === '0004_big');
    assert.ok(big, JSON.stringify(plan.planned.map((m) => m.name)));
    assert.ok(big.sql.length >= 200 * 1024, `${big.sql.length} characters`);
    assert.ok(!big.sql.includes('characters cut'));
    const facts = plan.facts!.find((f) => f.name === '0004_big')!;
    assert.equal(facts.forwards.parseError, undefined);
    assert.ok(facts.forwards.statements.length >= lines.length, `${facts.forwards.statements.length} statements`);
    const verdict = judgeMigrations(plan.facts!, { protectedTables: plan.protectedTables! });
    assert.equal(verdict.level, 'forbidden');
    assert.ok(verdict.findings.some((f) => f.kind === 'drop-table' && f.table === 'audit_log' && f.risk === 'protected'));
  });
});
