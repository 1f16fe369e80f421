// Database work under faults (issue 16): a dump slower than a fixed timeout would allow, a dump past its sized
// timeout (killed on the host), a migration that fails half-way, the audit store down during an approval, a tag
// push refused after green smoke, and a long wait for a destructive approval before migrate (the backup is fresh).
// Each is asserted against the host and the database (processes, files, django_migrations, columns, rows, the
// audit table, the origin's tags), not only against Steward's record.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { resolveSecret } from '../../src/config/secrets';
import { superuserPasswordFile } from '../../src/dev/postgres';
import type { StewardConfig } from '../../src/config/schema';
import type { DeploymentRecord } from '../../src/workflows/deployment';
import { signForDeployment } from '../helpers/signing';
import {
  BASELINE_RELEASE,
  checkHost,
  connectClient,
  dbQuery,
  Host,
  invariants,
  isStep,
  layout,
  log,
  MIGRATIONS_R02,
  MIGRATIONS_R03,
  pollStatus,
  QUICK,
  recordFault,
  relConfig,
  relDir,
  relInput,
  resetBaseline,
  resultOf,
  sleep,
  startDeployment,
  stepsText,
  timeline,
  WorkerProcess,
  writeConfigCopy,
  type Expectation,
  type FaultRecord,
} from './harness';

const ONLY = process.env.STEWARD_REL_ONLY;
/** The quick subset (inside `npm test`): the two faults that need no throttled waits. */
const QUICK_SET = ['tag-push-refused', 'audit-store-down'];
// STEWARD_REL_ONLY: one fault id (or part of one), or several separated by commas.
const maybe = (id: string) => (ONLY ? (ONLY.split(',').some((o) => id.includes(o.trim())) ? it : it.skip) : QUICK && !QUICK_SET.includes(id) ? it.skip : it);
const MIGRATIONS_R06 = [...MIGRATIONS_R03, '0004_remove_loan_legacy_reference'];

/** A directory of PostgreSQL client programs for `database.pgBin`: the real ones, pg_dump behind a sleep (tests only). */
function slowPgBin(name: string, delaySeconds: number): { dir: string; invocations: string } {
  const dir = path.join(relDir(), name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const invocations = path.join(dir, 'pg_dump.invocations');
  for (const prog of ['pg_dump', 'pg_restore', 'psql', 'createdb', 'dropdb']) {
    const real = spawnSync('bash', ['-c', `command -v ${prog}`], { encoding: 'utf8' }).stdout.trim();
    if (!real) throw new Error(`${prog} is not on PATH`);
    const body = prog === 'pg_dump' ? `echo $$ >> ${invocations}\nsleep ${delaySeconds}\nexec ${real} "$@"\n` : `exec ${real} "$@"\n`;
    writeFileSync(path.join(dir, prog), `#!/bin/bash\n${body}`);
    chmodSync(path.join(dir, prog), 0o755);
  }
  return { dir, invocations };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A TCP proxy in front of the audit store's PostgreSQL: stopping it (and its open connections) is the outage. */
class Outage {
  #server?: net.Server;
  #sockets = new Set<net.Socket>();
  constructor(readonly port: number, readonly target: { host: string; port: number }) {}
  async up(): Promise<void> {
    this.#server = net.createServer((c) => {
      const s = net.connect(this.target.port, this.target.host);
      for (const x of [c, s]) {
        this.#sockets.add(x);
        x.on('close', () => this.#sockets.delete(x));
        x.on('error', () => undefined);
      }
      c.pipe(s).pipe(c);
    });
    await new Promise<void>((r) => this.#server!.listen(this.port, '127.0.0.1', () => r()));
  }
  async down(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (this.#server) await new Promise<void>((r) => this.#server!.close(() => r()));
    this.#server = undefined;
  }
}

describe('database work under faults', () => {
  const config = relConfig('dbwork');
  const host = new Host(config);
  const worker = new WorkerProcess('dbwork', writeConfigCopy(config, 'dbwork'));
  let temporal: Awaited<ReturnType<typeof connectClient>>;
  let before0: Record<string, unknown>;

  before(async () => {
    await worker.start().ready();
    temporal = await connectClient(config);
  });
  after(async () => {
    await worker.stop();
    await temporal?.close();
    host.close();
  });

  async function baseline(): Promise<void> {
    await undoR06();
    await resetBaseline(host, config);
    if (!worker.alive) await worker.start().ready();
    before0 = await invariants(host);
  }

  type Body = () => Promise<{ where: string; record: DeploymentRecord; expect: Omit<Expectation, 'releaseId' | 'invariantsBefore'>; extra: string[]; notes?: string[] }>;
  async function scenario(meta: Pick<FaultRecord, 'id' | 'fault'>, body: Body): Promise<void> {
    const t0 = Date.now();
    let where = '';
    let outcome = 'did not finish';
    let problems: string[] = [];
    let dataLost: string[] = [];
    let notes: string[] = [];
    let steps = '';
    let injected = false;
    try {
      const res = await body();
      injected = true;
      where = res.where;
      notes = res.notes ?? [];
      outcome = `${res.record.status}${res.record.reason ? ` (${res.record.reason.replace(/\s+/g, ' ').slice(0, 200)})` : ''}`;
      steps = timeline(res.record);
      const v = await checkHost(host, config, { ...res.expect, releaseId: res.record.releaseId, backupFile: res.record.backup?.file, invariantsBefore: before0 });
      problems = [...res.extra, ...v.problems];
      dataLost = v.dataLost;
    } catch (err) {
      problems.push(`error: ${(err as Error).message}`);
    }
    recordFault({
      ...meta,
      group: 'risky',
      where,
      injected,
      survived: injected && problems.length === 0,
      dataLost: dataLost.length > 0,
      outcome,
      detail: [...problems, ...dataLost.map((d) => `DATA: ${d}`), ...notes.map((n) => `note: ${n}`)].join('; '),
      seconds: Math.round((Date.now() - t0) / 1000),
      timeline: steps,
    });
    assert.deepEqual(problems, [], meta.id);
  }

  /** A worker on its own task queue with a changed copy of the config. */
  async function withWorker<T>(name: string, change: (c: StewardConfig) => void, fn: (c: StewardConfig) => Promise<T>): Promise<T> {
    const c = relConfig(name);
    change(c);
    const w = new WorkerProcess(name, writeConfigCopy(c, name));
    try {
      await w.start().ready();
      return await fn(c);
    } finally {
      await w.stop();
    }
  }

  const dbSize = async () => Number((await dbQuery<{ b: string }>(config, 'SELECT pg_database_size(current_database()) AS b'))[0]!.b);
  const stepOf = (r: DeploymentRecord, name: string) => r.steps.find((s) => isStep(s.name, name));
  const columns = async (table: string) => (await dbQuery<{ c: string }>(config, `SELECT column_name AS c FROM information_schema.columns WHERE table_name = $1 ORDER BY 1`, [table])).map((r) => r.c);

  /**
   * Back from r06 (0004 applied) to the baseline's 0002 with the code that knows 0004 (a release of r06 of its own
   * on the primary), as an operator would; resetBaseline's r03 code cannot reverse 0004.
   */
  async function undoR06(): Promise<void> {
    const applied = (await dbQuery<{ name: string }>(config, `SELECT name FROM django_migrations WHERE app = 'banking'`)).map((r) => r.name);
    if (!applied.includes('0004_remove_loan_legacy_reference')) return;
    const primary = host.env.hosts.find((h) => h.roles.includes('primary'))?.name ?? host.env.hosts[0]!.name;
    const p = await host.acts.prepareRelease({ environment: 'production', host: primary, releaseId: 'relbase-r06', gitRef: 'r06-drop-financial-column' });
    await host.acts.prepareVirtualenv({ environment: 'production', host: primary, releaseId: 'relbase-r06', requirementsHash: p.requirementsHash });
    const dir = `${host.env.app.deployRoot}/releases/relbase-r06`;
    const r = await host.sh([`${dir}/.venv/bin/python`, `${dir}/manage.py`, 'migrate', 'banking', '0002']);
    if (r.exitCode !== 0) throw new Error(`undo r06: ${r.stderr.slice(-400)}`);
    log('undo r06: banking back at 0002 with the r06 code');
  }

  /** As the superuser (an event trigger needs one): refuse any DDL that names legacy_reference, i.e. migration 0004. */
  async function superuser(sql: string): Promise<void> {
    const u = new URL(resolveSecret(config.environments.production!.database.url).reveal());
    u.username = 'postgres';
    u.password = readFileSync(superuserPasswordFile(layout()), 'utf8').trim();
    const pg = new PgClient({ connectionString: u.toString() });
    await pg.connect();
    try {
      await pg.query(sql);
    } finally {
      await pg.end();
    }
  }

  maybe('slow-dump')('a dump slower than a fixed timeout would allow: sized from the database, kept alive by heartbeats', async () => {
    await scenario({ id: 'slow-dump', fault: 'pg_dump throttled to take 45 s (a pg_dump wrapper in database.pgBin); the heartbeat timeout is 30 s, the timing floor 15 s' }, async () => {
      await baseline();
      const size = await dbSize();
      const slow = slowPgBin('slow-pg-45', 45);
      return withWorker(
        'slowdump',
        (c) => {
          const db = c.environments.production!.database;
          db.pgBin = slow.dir;
          // Sized: size / rate × 3 = 100 s for this database; a fixed 15 s (the floor) would cut it off.
          db.timing = { ...db.timing, minMinutes: 0.25, dumpBytesPerSecond: (size * 3) / 100, restoreBytesPerSecond: (size * 3) / 180 };
        },
        async (c) => {
          const handle = await startDeployment(temporal.client, c, relInput('r09-requirements'));
          const record = await resultOf(handle);
          const extra: string[] = [];
          if (record.status !== 'deployed') extra.push(`ended ${record.status}: ${record.reason}; ${stepsText(record)}`);
          const pids = existsSync(slow.invocations) ? readFileSync(slow.invocations, 'utf8').trim().split('\n').filter(Boolean) : [];
          if (pids.length !== 1) extra.push(`pg_dump ran ${pids.length} times on the host, expected once (no timeout, no retry)`);
          const took = stepOf(record, 'back up the database')?.durationMs ?? 0;
          if (took < 45_000) extra.push(`the backup took ${took} ms, less than the throttled dump`);
          const dumpMs = record.databaseTimeouts?.dumpMs ?? 0;
          if (dumpMs < 90_000 || dumpMs > 110_000) extra.push(`dump timeout ${dumpMs} ms, expected about 100 s sized from ${size} bytes`);
          return {
            where: `back up the database: pg_dump throttled 45 s; ${size} bytes; sized dump timeout ${Math.round(dumpMs / 1000)} s`,
            record,
            extra,
            notes: [`backup step ${(took / 1000).toFixed(1)} s; restore check ${record.backup?.restoreCheck?.durationMs ?? '?'} ms`],
            expect: { current: [record.releaseId], serves: ['r09-requirements'], backup: 'one', releaseDir: 'one', migrations: [MIGRATIONS_R03] },
          };
        },
      );
    });
  });

  maybe('dump-past-timeout')('a dump past its sized timeout is killed on the host (its whole process group), and nothing migrates', async () => {
    await scenario({ id: 'dump-past-timeout', fault: 'pg_dump throttled to 120 s against a sized dump timeout of 20 s' }, async () => {
      await baseline();
      const size = await dbSize();
      const slow = slowPgBin('slow-pg-120', 120);
      return withWorker(
        'dumpkill',
        (c) => {
          const db = c.environments.production!.database;
          db.pgBin = slow.dir;
          db.timing = { ...db.timing, minMinutes: 0.1, dumpBytesPerSecond: (size * 3) / 20, restoreBytesPerSecond: (size * 3) / 180 };
        },
        async (c) => {
          const handle = await startDeployment(temporal.client, c, relInput('r09-requirements'));
          const record = await resultOf(handle);
          const extra: string[] = [];
          if (record.status !== 'rolled-back') extra.push(`ended ${record.status}, expected rolled-back (nothing served changed)`);
          if (!/timed out/.test(record.reason ?? '')) extra.push(`reason does not say the dump timed out: ${record.reason}`);
          if (record.steps.some((s) => isStep(s.name, 'run migrations'))) extra.push('migrations ran without a backup');
          await sleep(1000);
          const pids = readFileSync(slow.invocations, 'utf8').trim().split('\n').filter(Boolean).map(Number);
          const left = pids.filter(alive);
          if (left.length) extra.push(`pg_dump process groups still running on the host: ${left.join(', ')}`);
          for (const p of left) process.kill(-p, 'SIGKILL');
          const partial = await host.sh(['bash', '-c', 'ls -1 -- "$1" | grep -F -- "$2" || true', 'ls', host.env.database.backupDir, record.releaseId]);
          if (partial.stdout.trim()) extra.push(`files left in the backup dir: ${partial.stdout.trim()}`);
          const groups = await host.sh(['bash', '-c', 'ls /tmp | grep -c ^steward-pgid- || true']);
          return {
            where: `back up the database: ${pids.length} attempt(s), each cut at the sized 20 s`,
            record,
            extra,
            notes: [`pg_dump attempts ${pids.length}, all killed; pid files left in /tmp: ${groups.stdout.trim()}`],
            expect: { current: [BASELINE_RELEASE], serves: ['r02-cosmetic'], backup: 'none', releaseDir: 'none', migrations: [MIGRATIONS_R02] },
          };
        },
      );
    });
  });

  maybe('migration-fails-half-way')('a migration that fails after changing half its tables: not retried, the database is as before', async () => {
    await scenario({ id: 'migration-fails-half-way', fault: 'r06 from 0002: 0003 adds fin_deposit.channel, then 0004 is refused by PostgreSQL (an event trigger on its DDL)' }, async () => {
      await baseline();
      const depositBefore = await columns('fin_deposit');
      const loanBefore = await columns('fin_loan');
      try {
        const handle = await startDeployment(temporal.client, config, relInput('r06-drop-financial-column', { changeType: 'feature' }));
        await pollStatus(handle, (r) => (r.status === 'awaiting-destructive-approval' ? true : undefined), 300_000, 200);
        await handle.executeUpdate('approveDestructiveMigration', { args: [await signForDeployment(handle, 'grace', 'approveDestructiveMigration', { backupConfirmed: true, rollbackPlan: 'reverse migrations to 0002; restore the fresh backup if needed' })] });
        // Django drops a column with CASCADE (a dependent view would not stop it): an event trigger refuses 0004's
        // DDL. Installed once the backup is taken: in the dump it would make the backup unrestorable by the app's
        // role, and the restore check would (rightly) refuse it.
        await pollStatus(handle, (r) => (stepOf(r, 'back up the database')?.outcome === 'ok' ? true : undefined), 300_000, 100);
        await superuser(`CREATE OR REPLACE FUNCTION steward_fault_block() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN IF current_query() ILIKE '%legacy_reference%' THEN RAISE EXCEPTION 'reliability fault: DDL on legacy_reference refused'; END IF; END $$`);
        await superuser('DROP EVENT TRIGGER IF EXISTS steward_fault_block');
        await superuser('CREATE EVENT TRIGGER steward_fault_block ON ddl_command_start EXECUTE FUNCTION steward_fault_block()');
        const rec = await pollStatus(handle, (r) => (r.status === 'awaiting-restore-decision' || r.finishedAt ? r : undefined), 300_000, 200);
        if (rec.status === 'awaiting-restore-decision') {
          await handle.executeUpdate('decideRestore', { args: [await signForDeployment(handle, 'grace', 'decideRestore', { restore: false, reason: 'the reverse migrations put the schema back' })] });
        }
        const record = await resultOf(handle);
        const extra: string[] = [];
        const mig = stepOf(record, 'run migrations');
        if (mig?.outcome !== 'failed') extra.push(`run migrations ${mig?.outcome}, expected failed`);
        if (!/not retried/.test(mig?.detail ?? '')) extra.push(`the migrate failure does not say it is not retried: ${mig?.detail}`);
        if (!['rolled-back', 'rollback-failed'].includes(record.status)) extra.push(`ended ${record.status}`);
        // The database itself, not the record: both tables as before.
        const depositAfter = await columns('fin_deposit');
        const loanAfter = await columns('fin_loan');
        if (JSON.stringify(depositAfter) !== JSON.stringify(depositBefore)) extra.push(`fin_deposit columns ${depositAfter.join(',')} ≠ before ${depositBefore.join(',')}`);
        if (JSON.stringify(loanAfter) !== JSON.stringify(loanBefore)) extra.push(`fin_loan columns changed`);
        const attempts = (record.steps.filter((s) => isStep(s.name, 'run migrations'))).length;
        return {
          where: 'run migrations: 0003 applied, 0004 refused by PostgreSQL',
          record,
          extra,
          notes: [`migrate steps ${attempts}; rollback ${record.rollback?.done.map((d) => `${d.action}:${d.ok ? 'ok' : 'FAILED'}`).join(', ')}`],
          expect: { current: [BASELINE_RELEASE], serves: ['r02-cosmetic'], backup: 'one', releaseDir: 'any', migrations: [MIGRATIONS_R02] },
        };
      } finally {
        await superuser('DROP EVENT TRIGGER IF EXISTS steward_fault_block');
        await superuser('DROP FUNCTION IF EXISTS steward_fault_block()');
      }
    });
  });

  maybe('audit-store-down')('the audit store is down during an approval: not applied, then applied once it is back', async () => {
    await scenario({ id: 'audit-store-down', fault: "the audit store's connection (a TCP proxy the worker uses) cut during the §6.2 approval, back 10 s later" }, async () => {
      await baseline();
      const a = config.audit!;
      const writer = new URL(resolveSecret(a.databaseUrl!).reveal());
      const proxy = new Outage(Number(writer.port) + 50, { host: writer.hostname, port: Number(writer.port) });
      await proxy.up();
      try {
        return await withWorker(
          'auditdown',
          (c) => {
            for (const key of ['databaseUrl', 'ownerUrl'] as const) {
              const ref = c.audit?.[key];
              if (!ref) continue;
              const u = new URL(resolveSecret(ref).reveal());
              u.port = String(proxy.port);
              const file = path.join(relDir(), `audit-proxy-${key}`);
              writeFileSync(file, `${u}\n`, { mode: 0o600 });
              c.audit![key] = { file };
            }
          },
          async (c) => {
            const handle = await startDeployment(temporal.client, c, relInput('r06-drop-financial-column', { changeType: 'feature' }));
            await pollStatus(handle, (r) => (r.status === 'awaiting-destructive-approval' ? true : undefined), 300_000, 200);
            await proxy.down();
            log('audit store cut (proxy down)');
            const extra: string[] = [];
            const refused = await handle
              .executeUpdate('approveDestructiveMigration', { args: [await signForDeployment(handle, 'grace', 'approveDestructiveMigration', { backupConfirmed: true, rollbackPlan: 'reverse migration re-adds legacy_reference' })] })
              .then(() => null, (err: unknown) => err);
            if (!(refused instanceof WorkflowUpdateFailedError) || !/audit store could not record .* NOT applied/.test(String((refused.cause as Error)?.message))) {
              extra.push(`the approval during the outage was not refused with the audit reason: ${String((refused as Error | null)?.message ?? 'accepted')} ${String(((refused as WorkflowUpdateFailedError | null)?.cause as Error | undefined)?.message ?? '')}`);
            }
            await sleep(3000);
            const during = (await handle.query('status')) as DeploymentRecord;
            if (during.status !== 'awaiting-destructive-approval' || during.destructiveApproval) extra.push(`during the outage the deployment is ${during.status}, approval ${JSON.stringify(during.destructiveApproval)}`);
            const mid = (await dbQuery<{ name: string }>(config, `SELECT name FROM django_migrations WHERE app = 'banking' ORDER BY name`)).map((r) => r.name);
            if (JSON.stringify(mid) !== JSON.stringify(MIGRATIONS_R02)) extra.push(`migrations ran during the outage: ${mid.join(', ')}`);
            await proxy.up();
            log('audit store back');
            await handle.executeUpdate('approveDestructiveMigration', { args: [await signForDeployment(handle, 'grace', 'approveDestructiveMigration', { backupConfirmed: true, rollbackPlan: 'reverse migration re-adds legacy_reference' })] });
            const record = await resultOf(handle);
            if (record.status !== 'deployed') extra.push(`ended ${record.status}: ${record.reason}; ${stepsText(record)}`);
            const rows = await auditApprovals(config, record.workflowId);
            if (rows[0]?.n !== 1) extra.push(`audit rows of the approval: ${rows[0]?.n}, expected exactly 1 (the applied one)`);
            const out = {
              where: 'awaiting-destructive-approval; the approval sent while the audit store was unreachable, again once it was back',
              record,
              extra,
              expect: { current: [record.releaseId], serves: ['r06-drop-financial-column'], backup: 'one' as const, releaseDir: 'one' as const, migrations: [MIGRATIONS_R06] },
            };
            return out;
          },
        );
      } finally {
        await proxy.down();
      }
    });
    await undoR06();
  });

  maybe('tag-push-refused')('a tag push refused after green smoke: the release stays, the failure is reported', async () => {
    await scenario({ id: 'tag-push-refused', fault: "the origin's pre-receive hook refuses every tag push" }, async () => {
      await baseline();
      const hook = path.join(layout().originRepo, 'hooks', 'pre-receive');
      writeFileSync(hook, '#!/bin/sh\nwhile read old new ref; do case "$ref" in refs/tags/*) echo "tag pushes refused (reliability test)" >&2; exit 1;; esac; done\n');
      chmodSync(hook, 0o755);
      try {
        const handle = await startDeployment(temporal.client, config, relInput('r09-requirements'));
        const record = await resultOf(handle);
        const extra: string[] = [];
        if (record.status !== 'deployed') extra.push(`ended ${record.status}: ${record.reason}; ${stepsText(record)}`);
        if (record.rollback) extra.push('a healthy release was rolled back');
        if (!record.releaseTagFailure || !/refused/.test(record.releaseTagFailure.error)) extra.push(`the tag failure is not reported: ${JSON.stringify(record.releaseTagFailure)}`);
        const tags = spawnSync('git', ['--git-dir', layout().originRepo, 'tag', '--points-at', record.commit ?? 'HEAD', '--list', 'v*'], { encoding: 'utf8' }).stdout.trim();
        if (tags) extra.push(`the origin has a tag on the commit after all: ${tags}`);
        return {
          where: 'tag the release (after green smoke and invariants)',
          record,
          extra,
          notes: [`reported: ${record.releaseTagFailure?.error.slice(0, 120)}`],
          expect: { current: [record.releaseId], serves: ['r09-requirements'], backup: 'one', releaseDir: 'one', migrations: [MIGRATIONS_R03] },
        };
      } finally {
        rmSync(hook, { force: true });
      }
    });
  });

  maybe('long-destructive-wait')('a long wait for a destructive approval, then migrate: the backup used is the fresh one', async () => {
    await scenario({ id: 'long-destructive-wait', fault: 'r06 waits 25 s for its §6.2 approval while the bank writes a row; then migrate' }, async () => {
      await baseline();
      const handle = await startDeployment(temporal.client, config, relInput('r06-drop-financial-column', { changeType: 'feature' }));
      await pollStatus(handle, (r) => (r.status === 'awaiting-destructive-approval' ? true : undefined), 300_000, 200);
      const marker = `fresh-backup-${Date.now()}`;
      await sleep(10_000);
      await dbQuery(config, `INSERT INTO audit_log (created_at, tenant, actor, action, object_type, object_id, details) VALUES (now(), '', 'reliability', 'marker', '', $1, '{}')`, [marker]);
      await sleep(15_000);
      const approvedAt = Date.now();
      await handle.executeUpdate('approveDestructiveMigration', { args: [await signForDeployment(handle, 'grace', 'approveDestructiveMigration', { backupConfirmed: true, rollbackPlan: 'reverse migration re-adds legacy_reference' })] });
      const record = await resultOf(handle);
      const extra: string[] = [];
      if (record.status !== 'deployed') extra.push(`ended ${record.status}: ${record.reason}; ${stepsText(record)}`);
      const file = record.backup?.file ?? '';
      if (!file.includes(record.releaseId) || !/-[0-9a-f-]{36}\.dump$/.test(file)) extra.push(`the backup file is not named by this run: ${file}`);
      // On the host: the dump was written after the approval, and it holds the row written during the wait.
      const mtime = Number((await host.sh(['stat', '-c', '%Y', '--', file])).stdout.trim()) * 1000;
      if (!(mtime >= approvedAt - 1000)) extra.push(`the backup file was written ${Math.round((approvedAt - mtime) / 1000)} s before the approval`);
      const data = await host.sh(['bash', '-c', 'pg_restore --data-only --table audit_log --file - -- "$1" | grep -c -F -- "$2" || true', 'grep', file, marker]);
      if (data.stdout.trim() !== '1') extra.push(`the backup does not hold the row written during the wait (${data.stdout.trim()} matches)`);
      const out = {
        where: 'awaiting-destructive-approval for 25 s, a row written meanwhile',
        record,
        extra,
        notes: [`backup written ${((mtime - approvedAt) / 1000).toFixed(1)} s after the approval; restore check ${record.backup?.restoreCheck?.tables.map((t) => `${t.table}=${t.restored}`).join(' ')}`],
        expect: { current: [record.releaseId], serves: ['r06-drop-financial-column'], backup: 'one' as const, releaseDir: 'one' as const, migrations: [MIGRATIONS_R06] },
      };
      return out;
    });
    await undoR06();
  });
});

/** The audit store's rows (its own database, read directly, not through the worker) of one deployment's approval. */
async function auditApprovals(c: StewardConfig, workflowId: string): Promise<{ n: number }[]> {
  const pg = new PgClient({ connectionString: resolveSecret(c.audit!.databaseUrl!).reveal() });
  await pg.connect();
  try {
    return (await pg.query(`SELECT count(*)::int AS n FROM audit_event WHERE kind = 'destructive-migration-approved' AND details->>'workflowId' = $1`, [workflowId])).rows as { n: number }[];
  } finally {
    await pg.end();
  }
}
