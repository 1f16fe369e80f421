// 6. Backup: Steward's backupDatabase activity (the function itself, through its SSH executor) on a database
//    grown with `seed_bank --size-mb M`, vs raw `pg_dump -Fc` on the same host. The dump is compared; the
//    verification (pg_restore --list, sha256) is reported separately. The grown database is built once per size
//    (database bench_backup_<M>mb in the bench stack's PostgreSQL) and reused.
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { createDatabaseActivities } from '../src/activities/deployment/database';
import { SshPool } from '../src/activities/remote/ssh';
import { parsePgUrl } from '../src/commands/database';
import type { StewardConfig } from '../src/config/schema';
import { devLayout, devPorts } from '../src/dev/paths';
import { ensureDatabase } from '../src/dev/postgres';
import { ENV, hostPaths, sshCalls, toolsCheckout } from './hosts';
import { ratioFigure, shAsync, stat, type Figure, type Opts } from './lib';

async function dbMb(url: string): Promise<number> {
  const c = new PgClient({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query('select pg_database_size(current_database()) as b');
    return Number(r.rows[0].b) / 1024 / 1024;
  } finally {
    await c.end();
  }
}

export async function grownDatabase(config: StewardConfig, sizeMb: number, opts: Opts): Promise<{ url: string; urlFile: string; name: string; mb: number }> {
  const layout = devLayout();
  const name = `bench_backup_${sizeMb}mb`;
  const url = await ensureDatabase(layout, devPorts(), name, name);
  const urlFile = path.join(layout.secrets, `${name}-url`);
  writeFileSync(urlFile, `${url}\n`, { mode: 0o600 });
  let mb = await dbMb(url);
  if (mb < sizeMb * 0.98) {
    opts.log(`  growing ${name} to ${sizeMb} MB with seed_bank (once; reused by later runs)`);
    const t = toolsCheckout(config);
    const envFile = path.join(layout.home, 'bench', `${name}.env`);
    mkdirSync(path.dirname(envFile), { recursive: true });
    writeFileSync(envFile, `DATABASE_URL=${url}\nDJANGO_SECRET_KEY=bench-only-${name}\nDJANGO_ALLOWED_HOSTS=127.0.0.1,localhost\n`, { mode: 0o600 });
    const env = { ...t.env, BANKAPP_ENV_FILE: envFile, BANKAPP_DEMO_PASSWORD: 'bench-only-password' };
    const m = await shAsync(t.python, ['manage.py', 'migrate', '--noinput'], { cwd: t.dir, env });
    if (m.code !== 0) throw new Error(`migrate of ${name} failed: ${m.stderr.slice(-1000)}`);
    const t0 = performance.now();
    const s = await shAsync(t.python, ['manage.py', 'seed_bank', '--size-mb', String(sizeMb)], { cwd: t.dir, env });
    if (s.code !== 0) throw new Error(`seed_bank --size-mb ${sizeMb} failed: ${s.stderr.slice(-1000)}`);
    mb = await dbMb(url);
    opts.log(`  ${name}: ${mb.toFixed(0)} MB after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  return { url, urlFile, name, mb };
}

export async function benchBackup(config: StewardConfig, opts: Opts): Promise<{ figures: Figure[]; raw: unknown }> {
  const sizeMb = opts.quick ? 20 : 1000;
  const db = await grownDatabase(config, sizeMb, opts);
  const p = hostPaths(config);
  const dir = path.join(p.backups, 'bench');
  mkdirSync(dir, { recursive: true });
  // Steward's activity against the grown database: the production environment with its database swapped.
  const cfg: StewardConfig = structuredClone(config);
  cfg.environments[ENV]!.database = { ...cfg.environments[ENV]!.database, name: db.name, url: { file: db.urlFile }, backupDir: dir };
  const ssh = new SshPool();
  const { backupDatabase } = createDatabaseActivities({ config: cfg, ssh });
  const t = parsePgUrl(db.url);
  const runs: { stewardDumpMs: number; stewardTotalMs: number; stewardVerifyMs: number; sshCommands: number; rawDumpMs: number; rawVerifyMs: number; sizeBytes: number; rawSizeBytes: number }[] = [];
  try {
    await ssh.connect(cfg.environments[ENV]!.hosts[0]!); // a warm connection, as in a running worker
    for (let i = 0; i < opts.runs; i++) {
      const id = `bench-${Date.now().toString(36)}-${i}`;
      const from = sshCalls.length;
      const t0 = performance.now();
      const rec = await backupDatabase({ environment: ENV, backupId: id });
      const total = performance.now() - t0;
      const calls = sshCalls.slice(from);
      const dump = calls.filter((c) => c.what.startsWith('pg_dump')).reduce((a, c) => a + c.ms, 0);
      rmSync(rec.file, { force: true });
      // Raw pg_dump -Fc on the same host, same database, same format; then the same verification by hand.
      const rawFile = path.join(dir, `${id}-raw.dump`);
      const r0 = performance.now();
      const d = await shAsync('pg_dump', ['--host', t.host, '--port', String(t.port), '--username', t.user, '--no-password', '--format=custom', '--file', rawFile, '--', t.database], {
        env: { ...process.env, PGPASSWORD: t.password },
      });
      const rawDump = performance.now() - r0;
      if (d.code !== 0) throw new Error(`raw pg_dump failed: ${d.stderr.slice(-500)}`);
      const v0 = performance.now();
      const l = await shAsync('pg_restore', ['--list', '--', rawFile]);
      const s = await shAsync('sha256sum', ['--', rawFile]);
      const rawVerify = performance.now() - v0;
      if (l.code !== 0 || s.code !== 0) throw new Error('raw verification failed');
      const rawSize = existsSync(rawFile) ? statSync(rawFile).size : NaN;
      rmSync(rawFile, { force: true });
      runs.push({ stewardDumpMs: dump, stewardTotalMs: total, stewardVerifyMs: total - dump, sshCommands: calls.length, rawDumpMs: rawDump, rawVerifyMs: rawVerify, sizeBytes: rec.sizeBytes, rawSizeBytes: rawSize });
      opts.log(`  run ${i + 1}/${opts.runs} (${db.mb.toFixed(0)} MB db, ${(rec.sizeBytes / 1e6).toFixed(0)} MB dump): Steward dump ${(dump / 1000).toFixed(2)} s + verification ${((total - dump) / 1000).toFixed(2)} s (${calls.length} SSH commands); raw pg_dump ${(rawDump / 1000).toFixed(2)} s + verification ${(rawVerify / 1000).toFixed(2)} s`);
    }
  } finally {
    ssh.close();
  }
  return {
    figures: [
      ratioFigure({
        id: 'backup.dump',
        figure: `backup of a ${db.mb.toFixed(0)} MB database: the dump`,
        unit: 'ms',
        steward: stat(runs.map((r) => r.stewardDumpMs)),
        baseline: stat(runs.map((r) => r.rawDumpMs)),
        baselineLabel: 'raw pg_dump -Fc',
        factor: 1.05,
        why: 'Steward runs the same pg_dump over an SSH channel (password on stdin); the rest is pg_dump itself',
      }),
      {
        ...ratioFigure({
          id: 'backup.verify',
          figure: 'backup: verification (pg_restore --list, sha256, existence/rename)',
          unit: 'ms',
          steward: stat(runs.map((r) => r.stewardVerifyMs)),
          baseline: stat(runs.map((r) => r.rawVerifyMs)),
          baselineLabel: 'pg_restore --list + sha256sum by hand',
          factor: Infinity,
        }),
        target: 'reported',
        met: null,
      },
    ],
    raw: { database: db.name, databaseMb: db.mb, runs },
  };
}
