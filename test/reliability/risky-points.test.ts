// The riskiest points of a deployment, each from production at r02 (banking 0002) towards r09 (migration 0003,
// new venv, full restart) — or r04 (migration 0003, smoke fails → rollback):
//   the Temporal server stops mid-deployment · SSH is cut mid-migration · pg_dump fails · the backup disk is full ·
//   the worker is killed during a rollback.
// Assertions look at the host, the database and HTTP; each fault is recorded for the summary table.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { resolveSecret } from '../../src/config/secrets';
import { isAlive, stopByPidFile } from '../../src/dev/processes';
import { startSshHost } from '../../src/dev/sshd';
import { startTemporal } from '../../src/dev/temporal';
import { ensureSshd, ensureTemporalCli } from '../../src/dev/tools';
import type { DeploymentRecord } from '../../src/workflows/deployment';
import {
  BASELINE_RELEASE,
  checkHost,
  childrenOf,
  connectClient,
  Host,
  invariants,
  killWorkerAtStep,
  layout,
  log,
  MIGRATIONS_R02,
  MIGRATIONS_R03,
  pidOf,
  pollStatus,
  ports,
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
  type FaultRecord, isStep } from './harness';

const ONLY = process.env.STEWARD_REL_ONLY;
const maybe = (name: string) => (!ONLY || name.includes(ONLY) ? it : it.skip);

describe('riskiest points of a deployment', () => {
  const config = relConfig('risky');
  const host = new Host(config);
  const worker = new WorkerProcess('risky', writeConfigCopy(config, 'risky'));
  let temporal: Awaited<ReturnType<typeof connectClient>>;

  before(async () => {
    await worker.start().ready();
    temporal = await connectClient(config);
  });
  after(async () => {
    await worker.stop();
    await temporal?.close();
    host.close();
  });

  /** Runs one fault: baseline, deployment, injection, then the host checks; records the outcome, then asserts. */
  async function scenario(
    meta: Pick<FaultRecord, 'id' | 'fault'>,
    body: () => Promise<{ where: string; record: DeploymentRecord; expect: Omit<Expectation, 'releaseId' | 'invariantsBefore'>; extra: string[]; notes?: string[] }>,
  ): Promise<void> {
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
      const v = await checkHost(host, config, { ...res.expect, releaseId: res.record.releaseId, backupFile: res.record.backup?.file, invariantsBefore: currentBefore! });
      problems = [...res.extra, ...v.problems];
      dataLost = v.dataLost;
    } catch (err) {
      problems.push(`error: ${(err as Error).message}`);
      injected = injected || (err as { injected?: boolean }).injected === true;
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

  let currentBefore: Record<string, unknown> | undefined;
  async function baseline(): Promise<void> {
    await resetBaseline(host, config);
    if (!worker.alive) await worker.start().ready();
    currentBefore = await invariants(host);
  }

  const stepRunning = (name: string) => (r: DeploymentRecord) => (r.steps.some((s) => s.name.startsWith(name) && s.outcome === 'running') ? true : undefined);

  maybe('temporal')('the Temporal server stops mid-deployment (during migrations): the deployment finishes', async () => {
    await scenario({ id: 'temporal-server-stop', fault: 'SIGTERM the Temporal dev server, start it again' }, async () => {
      await baseline();
      const handle = await startDeployment(temporal.client, config, relInput('r09-requirements'));
      await pollStatus(handle, stepRunning('run migrations'));
      const pidFile = path.join(layout().pids, 'temporal.pid');
      const pid = pidOf('temporal');
      const stopped = Date.now();
      await stopByPidFile(pidFile, 'temporal');
      log(`Temporal dev server (pid ${pid}) stopped; down for 8 s`);
      await sleep(8000);
      await startTemporal(ensureTemporalCli(log), layout(), ports(), log);
      const downFor = ((Date.now() - stopped) / 1000).toFixed(0);
      log(`Temporal dev server back (pid ${pidOf('temporal')}) after ${downFor} s`);
      const notes: string[] = [];
      await sleep(5000);
      if (!worker.alive) {
        notes.push('the worker process exited while the server was down; restarted (as its supervisor would)');
        await worker.start().ready();
      }
      const record = await resultOf(handle);
      const extra = record.status === 'deployed' ? [] : [`ended ${record.status}: ${record.reason}; ${stepsText(record)}`];
      return {
        where: `run migrations running; server down ${downFor} s (stop + 8 s + start)`,
        record,
        extra,
        notes,
        expect: { current: [record.releaseId], serves: ['r09-requirements'], backup: 'one', releaseDir: 'one', migrations: [MIGRATIONS_R03] },
      };
    });
  });

  maybe('ssh')('SSH to the host is cut mid-migration: the step retries or the deployment rolls back cleanly', async () => {
    await scenario({ id: 'ssh-cut-mid-migration', fault: 'stop the production sshd and kill its sessions, start it again after 4 s' }, async () => {
      await baseline();
      const handle = await startDeployment(temporal.client, config, relInput('r09-requirements'));
      await pollStatus(handle, stepRunning('run migrations'));
      await sleep(300);
      const pidFile = path.join(layout().pids, 'sshd-production.pid');
      const master = pidOf('sshd-production');
      if (!master) throw new Error('no sshd-production pid');
      const sessions = childrenOf(master);
      await stopByPidFile(pidFile, 'sshd-production');
      for (const s of sessions) if (isAlive(s)) process.kill(s, 'SIGKILL');
      log(`sshd-production (pid ${master}) stopped and its ${sessions.length} session(s) killed: ${sessions.join(', ')}`);
      await sleep(4000);
      await startSshHost(ensureSshd(log), layout(), 'production', ports().sshProduction, log);
      log(`sshd-production back (pid ${pidOf('sshd-production')})`);
      const record = await resultOf(handle);
      const retried = record.steps.find((s) => isStep(s.name, 'run migrations'));
      const extra = ['deployed', 'rolled-back'].includes(record.status) ? [] : [`ended ${record.status}: ${record.reason}; ${stepsText(record)}`];
      return {
        where: `run migrations running; ${sessions.length} ssh session(s) cut, sshd down 4 s`,
        record,
        extra,
        notes: [`run migrations ${retried?.outcome} in ${((retried?.durationMs ?? 0) / 1000).toFixed(1)} s`],
        // Either the step retried (new release) or a clean rollback (old release at the old migration state).
        expect: { current: [record.releaseId, BASELINE_RELEASE], serves: ['r09-requirements', 'r02-cosmetic'], backup: 'one', releaseDir: 'any', migrations: [MIGRATIONS_R03, MIGRATIONS_R02] },
      };
    });
  });

  /** A worker on its own task queue with a changed copy of the config (a bad database password, a full backup dir). */
  async function withBadWorker(name: string, change: (c: typeof config) => void, fn: (handle: (gitRef: string) => Promise<WorkflowHandle>) => Promise<void>): Promise<void> {
    const bad = relConfig(name);
    change(bad);
    const w = new WorkerProcess(name, writeConfigCopy(bad, name));
    try {
      await w.start().ready();
      await fn((gitRef) => startDeployment(temporal.client, bad, relInput(gitRef)));
    } finally {
      await w.stop();
    }
  }

  const backupRefused = (record: DeploymentRecord, why: RegExp): string[] => {
    const extra: string[] = [];
    if (record.status !== 'rolled-back') extra.push(`ended ${record.status}, expected rolled-back (nothing served was changed)`);
    if (!why.test(record.reason ?? '')) extra.push(`reason does not say why: ${record.reason}`);
    if (record.steps.some((s) => isStep(s.name, 'run migrations'))) extra.push('a migration step ran without a verified backup');
    if (record.steps.some((s) => isStep(s.name, 'switch current'))) extra.push('current was switched');
    // Since the fresh-run-backup patch the database is sized (psql, same credentials) right before the dump: a
    // wrong password fails there, a full disk in the dump.
    const dbStep = record.steps.find((s) => isStep(s.name, 'size the database work') && s.outcome === 'failed') ?? record.steps.find((s) => isStep(s.name, 'back up the database'));
    if (dbStep?.outcome !== 'failed') extra.push('neither the database sizing nor the backup step failed');
    return extra;
  };

  maybe('pg_dump')('pg_dump fails (wrong database password): no migration, a clear reason, the old release serves', async () => {
    await scenario({ id: 'pg-dump-fails', fault: 'pg_dump with a wrong database password (worker config copy)' }, async () => {
      await baseline();
      let out!: Awaited<ReturnType<Parameters<typeof scenario>[1]>>;
      const badUrlFile = path.join(relDir(), 'bad-database-url');
      await withBadWorker(
        'pgdump',
        (c) => {
          const u = new URL(resolveSecret(c.environments.production!.database.url).reveal());
          u.password = 'wrong-password';
          writeFileSync(badUrlFile, `${u}\n`, { mode: 0o600 });
          c.environments.production!.database.url = { file: badUrlFile };
        },
        async (start) => {
          const handle = await start('r09-requirements');
          const record = await resultOf(handle);
          const partial = await host.sh(['test', '-e', `${host.env.database.backupDir}/${record.releaseId}.dump.partial`]);
          out = {
            where: 'back up the database',
            record,
            extra: [...backupRefused(record, /pg_dump|password/i), ...(partial.exitCode === 0 ? [`${record.releaseId}.dump.partial left in the backup dir`] : [])],
            expect: { current: [BASELINE_RELEASE], serves: ['r02-cosmetic'], backup: 'none', releaseDir: 'none', migrations: [MIGRATIONS_R02] },
          };
        },
      );
      return out;
    });
  });

  maybe('disk')('the backup disk is full: no migration, a clear reason, the old release serves', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('mounting a tmpfs needs root');
      return;
    }
    await scenario({ id: 'backup-disk-full', fault: 'backup dir on a 64 KiB tmpfs filled to the last byte' }, async () => {
      await baseline();
      const dir = path.join(relDir(), 'full-backup-disk');
      mkdirSync(dir, { recursive: true });
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8' });
      if (mount.status !== 0) throw new Error(`mount tmpfs failed: ${mount.stderr}`);
      let out!: Awaited<ReturnType<Parameters<typeof scenario>[1]>>;
      try {
        spawnSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'filler')}`, 'bs=4k'], { encoding: 'utf8' });
        const df = spawnSync('df', ['--output=avail', '-B1', dir], { encoding: 'utf8' }).stdout.trim().split('\n').pop()?.trim();
        log(`backup dir ${dir}: tmpfs 64k, ${df} bytes free`);
        await withBadWorker(
          'diskfull',
          (c) => {
            c.environments.production!.database.backupDir = dir;
          },
          async (start) => {
            const handle = await start('r09-requirements');
            const record = await resultOf(handle);
            const partial = existsSync(path.join(dir, `${record.releaseId}.dump.partial`));
            out = {
              where: `back up the database (${df} bytes free)`,
              record,
              extra: [...backupRefused(record, /No space left|could not write|space/i), ...(partial ? [`${record.releaseId}.dump.partial left on the full disk`] : [])],
              // The normal backup dir has no file for it either: checkHost looks there (backup 'none').
              expect: { current: [BASELINE_RELEASE], serves: ['r02-cosmetic'], backup: 'none', releaseDir: 'none', migrations: [MIGRATIONS_R02] },
            };
          },
        );
      } finally {
        let um = spawnSync('umount', [dir], { encoding: 'utf8' });
        if (um.status !== 0) um = spawnSync('umount', ['-l', dir], { encoding: 'utf8' });
        if (um.status !== 0) log(`could not unmount ${dir}: ${um.stderr}`);
      }
      return out;
    });
  });

  maybe('rollback')('the worker is killed during a rollback (r04, smoke fails): the rollback completes after restart', async () => {
    await scenario({ id: 'kill-during-rollback', fault: 'SIGKILL worker during a rollback step' }, async () => {
      await baseline();
      const handle = await startDeployment(temporal.client, config, relInput('r04-smoke-fails'));
      const { step: running } = await killWorkerAtStep(handle, [worker], { step: (n) => n.startsWith('rollback:'), when: 'during', delayMs: 300, timeoutMs: 300_000, everyMs: 30 }, { restart: true });
      await worker.ready();
      const record = await resultOf(handle);
      const extra: string[] = [];
      if (record.status !== 'rolled-back') extra.push(`ended ${record.status}: ${record.reason}; ${JSON.stringify(record.rollback?.failedCompensations)}`);
      if (!record.rollback?.smokeAfter?.ok) extra.push('the smoke test after the rollback is not green');
      if (record.releaseTag) extra.push(`a rolled-back release was tagged ${record.releaseTag}`);
      const done = record.rollback?.done.map((d) => `${d.action}:${d.ok ? 'ok' : 'FAILED'}`).join(', ');
      return {
        where: `${running} running`,
        record,
        extra,
        notes: [`rollback: ${done}`],
        expect: { current: [BASELINE_RELEASE], serves: ['r02-cosmetic'], backup: 'one', releaseDir: 'any', migrations: [MIGRATIONS_R02] },
      };
    });
  });
});
