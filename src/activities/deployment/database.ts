// Backups, migration plans, migrations and invariants on a host.
import { ApplicationFailure } from '@temporalio/common';
import {
  BACKUP_NAME,
  createScratchDatabase,
  databaseSize,
  dropScratchDatabase,
  existingTables,
  fileModifiedAt,
  fileSizeAndSha,
  finishBackup,
  parseCsv,
  parsePgUrl,
  pgDump,
  pgRestore,
  pgRestoreInto,
  pgRestoreList,
  readOnlyQuery,
  rowCounts,
  type PgTarget,
} from '../../commands/database';
import { databaseLockFile, LOCK_HELD_EXIT, underDatabaseLock } from '../../commands/process';
import { databaseTimeouts, type DatabaseTimeouts } from '../../domain/timeouts';
import type { EnvironmentConfig } from '../../config/schema';
import type { ExecResult } from '../remote/ssh';
import type { InvariantQuery } from '../../config/schema';
import {
  appRelease,
  featureFlag,
  financialInvariants,
  migrateAndShow,
  migrateTo,
  planInOneProcess,
  tableSizes,
} from '../../commands/python';
import { parsePolicyConfig } from '../../domain/policy';
import type { MigrationFacts, TableSize } from '../../domain/migration-facts';
import { loadSqlParser, readMigrationSql } from './sql-facts';
import { releasePaths } from '../../commands/release';
import { cmd } from '../../commands/shell';
import { hookCommand } from '../../commands/hooks';
import { resolveSecret } from '../../config/secrets';
import { heartbeat, onHost, type DeploymentDeps, type HostRun } from './context';

/** The restore check: the backup restored into a scratch database, its protected tables counted against the source. */
export interface BackupVerification {
  scratchDatabase: string;
  /** Only the protected tables were restored (a database above timing.verifyFullBelowBytes). */
  sample: boolean;
  /** Source counts just before and just after the dump; the restored count must lie between them. */
  tables: { table: string; sourceBefore: number | null; sourceAfter: number; restored: number }[];
  durationMs: number;
}

export interface BackupRecord {
  file: string;
  sizeBytes: number;
  sha256: string;
  verifiedEntries: number;
  durationMs: number;
  reused: boolean;
  /** The workflow run the backup was taken for (in the file name too); absent on backups taken before run ids. */
  runId?: string;
  /** When the dump finished (the file's mtime), so its age can be checked before a migration. */
  takenAt?: string;
  /** Absent when the environment verifies by archive list only (database.verifyRestore: archive-list). */
  restoreCheck?: BackupVerification;
}

/** A named, non-retryable failure whose message says what a person has to decide. */
const refuse = (message: string, type: string) => ApplicationFailure.nonRetryable(message, type);
const tail = (r: ExecResult) => (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ');
const pgBinOf = (env: EnvironmentConfig) => (env.database.pgBin ? `${env.database.pgBin.replace(/\/$/, '')}/` : '');
const timeoutsOf = (env: EnvironmentConfig, sizeBytes: number) => databaseTimeouts(sizeBytes, env.database.timing);

async function countRows(h: HostRun, url: PgTarget & { password: string }, tables: string[], pgBin: string): Promise<Record<string, number>> {
  if (tables.length === 0) return {};
  const r = await h.run(rowCounts(url, tables, pgBin), { stdin: `${url.password}\n` });
  return Object.fromEntries(parseCsv(r.stdout).map((row) => [row.table!, Number(row.rows)]));
}

export interface PlannedMigration {
  app: string;
  name: string;
  irreversible: boolean;
  sql: string;
}

export interface MigrationPlan {
  planned: PlannedMigration[];
  /** Per app, the latest applied migration before this deployment ('zero' when none). */
  stateBefore: Record<string, string>;
  /** What PostgreSQL's parser found in each migration's forwards and backwards SQL (absent in plans made before it). */
  facts?: MigrationFacts[];
  /** Size and estimated rows of the existing relations the SQL touches, from the host (absent when not measured). */
  tableSizes?: Record<string, TableSize>;
  /** The protected tables of the worker's config (policy and environment), so the judgement needs no workflow input. */
  protectedTables?: string[];
}

interface CommandOutput {
  code: number;
  out: string;
  err: string;
}
/** What PLAN_PY prints after STEWARD-PLAN. */
interface PlanOutput {
  show: CommandOutput;
  plan: CommandOutput;
  sql: { app: string; name: string; forwards: CommandOutput; backwards: CommandOutput | null }[];
}

const IRREVERSIBLE_ERROR = /IrreversibleError|not reversible|NotImplementedError/;
const RELATION_NAME = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

export type InvariantSnapshot = Record<string, Record<string, string | number>>;

/** Parses `showmigrations --list`: "app\n [X] 0001_x\n [ ] 0002_y". */
export function parseShowMigrations(text: string): Record<string, string> {
  const state: Record<string, string> = {};
  let app: string | null = null;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) {
      app = line.trim();
      if (app) state[app] = 'zero';
      continue;
    }
    const m = line.match(/^\s*\[X\]\s+(\S+)/);
    if (m && app) state[app] = m[1]!;
  }
  return state;
}

/** Parses `migrate --plan`: "app.0002_name" then indented operations, "IRREVERSIBLE" marks one without a reverse. */
export function parseMigratePlan(text: string): { app: string; name: string; irreversible: boolean }[] {
  const out: { app: string; name: string; irreversible: boolean }[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*([a-z_][a-z0-9_]*)\.([0-9]{4}_[A-Za-z0-9_]+)\s*$/);
    if (m) {
      out.push({ app: m[1]!, name: m[2]!, irreversible: false });
      continue;
    }
    if (/IRREVERSIBLE/.test(line) && out.length) out[out.length - 1]!.irreversible = true;
  }
  return out;
}

/** Pure: "holds", or what broke the rule (the row count and the first offending row, for the record). */
export function judgeInvariant(q: InvariantQuery, rows: Record<string, string>[]): string {
  if (q.expect === 'no-rows') return rows.length === 0 ? 'holds' : `broken: ${rows.length} row(s), first ${JSON.stringify(rows[0])}`.slice(0, 300);
  const { column, equals } = q.expect;
  if (rows.length && !(column in rows[0]!)) return `broken: the query returns no column ${column}`;
  const bad = rows.filter((r) => r[column] !== equals);
  return bad.length === 0 ? 'holds' : `broken: ${bad.length} row(s) where ${column} ≠ ${equals}, first ${JSON.stringify(bad[0])}`.slice(0, 300);
}

export function createDatabaseActivities(deps: DeploymentDeps) {
  return {
    /** The database's size, and the timeouts of dump, restore and migrate sized from it and the environment's timing. */
    async measureDatabase(input: { environment: string }): Promise<DatabaseTimeouts> {
      const h = onHost(deps, input.environment);
      const url = parsePgUrl(resolveSecret(h.env.database.url).reveal());
      const r = await h.run(databaseSize(url, pgBinOf(h.env)), { stdin: `${url.password}\n` });
      const bytes = Number(parseCsv(r.stdout)[0]?.bytes);
      if (!Number.isFinite(bytes)) throw refuse(`pg_database_size did not answer a size: ${r.stdout.slice(0, 100)}`, 'BadDatabaseSize');
      return timeoutsOf(h.env, bytes);
    },

    /**
     * pg_dump (custom format) on the host into a partial file, verified by pg_restore --list, then renamed: a backup
     * file that exists is a verified one. With a run id the file is `<backupId>-<runId>.dump`: a retry of this run
     * finds it and reuses it; no other run's file can pass as this run's backup. Then (unless the environment says
     * archive-list) the restore check: restored into a scratch database, the protected tables counted against the
     * source, the scratch database dropped.
     */
    async backupDatabase(input: { environment: string; backupId: string; runId?: string; timeouts?: DatabaseTimeouts }): Promise<BackupRecord> {
      const h = onHost(deps, input.environment);
      const name = input.runId ? `${input.backupId}-${input.runId}` : input.backupId;
      if (!BACKUP_NAME.test(name)) throw refuse(`backup id ${name} is not allowed`, 'BadBackupId');
      const file = `${h.env.database.backupDir}/${name}.dump`;
      const pgBin = pgBinOf(h.env);
      const url = parsePgUrl(resolveSecret(h.env.database.url).reveal());
      const timeouts = input.timeouts ?? timeoutsOf(h.env, 0);
      const check = h.env.database.verifyRestore === 'scratch-database';
      const tables = check ? await presentTables(h, url, protectedTablesOf(deps, h.env.database.protectedTables), pgBin) : [];
      const started = Date.now();
      let reused = true;
      let before: Record<string, number> | undefined;
      const exists = await h.run(cmd(['test', '-s', file]), { allowFailure: true });
      if (exists.exitCode !== 0) {
        reused = false;
        await h.run(cmd(['mkdir', '-p', '--', h.env.database.backupDir]));
        before = await countRows(h, url, tables, pgBin);
        try {
          // A fresh file: a pg_dump orphaned on the host by a killed attempt keeps writing to the old inode, not to ours.
          await h.run(cmd(['rm', '-f', '--', `${file}.partial`]));
          heartbeat(`pg_dump of ${h.env.database.name} (${timeouts.sizeBytes} bytes), timeout ${Math.round(timeouts.dumpMs / 1000)} s`);
          await h.run(pgDump(url, file, pgBin), { stdin: `${url.password}\n`, timeoutMs: timeouts.dumpMs });
        } catch (err) {
          // A failed dump leaves no partial file behind (on a full disk it would keep the space taken).
          await h.run(cmd(['rm', '-f', '--', `${file}.partial`]), { allowFailure: true }).catch(() => undefined);
          throw err;
        }
        const list = await h.run(pgRestoreList(`${file}.partial`, pgBin));
        if (!/; Archive created at/.test(list.stdout)) {
          throw refuse('the backup could not be verified: pg_restore --list did not read it as an archive', 'BackupUnverified');
        }
        await h.run(finishBackup(file));
      }
      const list = await h.run(pgRestoreList(file, pgBin));
      const entries = list.stdout.split('\n').filter((l) => /^\d+;/.test(l)).length;
      if (entries === 0) throw refuse(`backup ${file} has no entries`, 'BackupUnverified');
      const facts = (await h.run(fileSizeAndSha(file))).stdout.trim().split('\n');
      const mtime = Number((await h.run(fileModifiedAt(file))).stdout.trim());
      const record: BackupRecord = {
        file,
        sizeBytes: Number(facts[0]),
        sha256: facts[1]!.split(/\s+/)[0]!,
        verifiedEntries: entries,
        durationMs: 0,
        reused,
        ...(input.runId ? { runId: input.runId } : {}),
        takenAt: new Date(mtime * 1000).toISOString(),
      };
      if (check) record.restoreCheck = await restoreCheck(h, url, file, name, tables, before, timeouts, pgBin);
      record.durationMs = Date.now() - started;
      return record;
    },

    /**
     * The exact SQL each pending migration will run, forwards and backwards, from the new release's code, read by
     * PostgreSQL's own parser. A failing `sqlmigrate` stops the plan (an empty output is not "safe SQL"); the SQL is
     * kept whole, whatever its size.
     */
    async planMigrations(input: { environment: string; releaseId: string }): Promise<MigrationPlan> {
      const h = onHost(deps, input.environment);
      const dir = appRelease(h.env.app, releasePaths(h.env.app.deployRoot, input.releaseId).release);
      await loadSqlParser();
      // One Django start for the whole plan (showmigrations, migrate --plan, sqlmigrate both ways per migration).
      const r = await h.run(planInOneProcess(dir), { whole: true });
      const line = r.stdout.split('\n').find((l) => l.startsWith('STEWARD-PLAN '));
      if (!line) throw ApplicationFailure.nonRetryable(`the migration plan printed no result: ${r.stderr.trim().split('\n').slice(-3).join(' / ') || 'no output'}`, 'PlanFailed');
      const out = JSON.parse(line.slice('STEWARD-PLAN '.length)) as PlanOutput;
      const tail = (x: CommandOutput) => x.err.trim().split('\n').slice(-3).join(' / ') || 'no output';
      if (out.show.code !== 0) throw ApplicationFailure.nonRetryable(`showmigrations failed: ${tail(out.show)}`, 'PlanFailed');
      if (out.plan.code !== 0) throw ApplicationFailure.nonRetryable(`migrate --plan failed: ${tail(out.plan)}`, 'PlanFailed');
      const stateBefore = parseShowMigrations(out.show.out);
      const pending = parseMigratePlan(out.plan.out);
      const planned: PlannedMigration[] = [];
      const facts: MigrationFacts[] = [];
      for (const [i, m] of pending.entries()) {
        const sql = out.sql[i];
        if (!sql || sql.app !== m.app || sql.name !== m.name) {
          throw ApplicationFailure.nonRetryable(`the plan of ${m.app}.${m.name} is missing from the host's answer; the plan stops`, 'SqlMigrateFailed');
        }
        const fwd = sql.forwards;
        if (fwd.code !== 0) {
          throw ApplicationFailure.nonRetryable(`sqlmigrate ${m.app} ${m.name} failed: ${tail(fwd)}; the plan stops (its SQL cannot be judged)`, 'SqlMigrateFailed');
        }
        // Django marks IRREVERSIBLE only in a backwards plan; asking for the backwards SQL tells us for each one.
        const back = sql.backwards ?? { code: 1, out: '', err: 'not asked' };
        const noReverse = back.code !== 0 && IRREVERSIBLE_ERROR.test(back.err);
        if (back.code !== 0 && !noReverse) {
          throw ApplicationFailure.nonRetryable(`sqlmigrate --backwards ${m.app} ${m.name} failed: ${tail(back)}; the plan stops`, 'SqlMigrateFailed');
        }
        const irreversible = m.irreversible || noReverse;
        planned.push({ ...m, irreversible, sql: fwd.out });
        facts.push({
          app: m.app,
          name: m.name,
          irreversible,
          forwards: readMigrationSql(fwd.out),
          ...(noReverse ? {} : { backwards: readMigrationSql(back.out) }),
        });
      }
      const plan: MigrationPlan = { planned, stateBefore, facts, protectedTables: protectedTablesOf(deps, h.env.database.protectedTables) };
      const relations = [...new Set(facts.flatMap((f) => f.forwards.statements.flatMap((s) => [...s.writes, ...s.ops.map((o) => o.relation ?? '')])))].filter((r) => RELATION_NAME.test(r));
      if (relations.length > 0) {
        // Best effort: when the sizes cannot be read, every lock or rewrite is judged as on a large table.
        const r = await h.run(tableSizes(dir), { allowFailure: true, stdin: JSON.stringify(relations.slice(0, 500)) });
        const line = r.exitCode === 0 ? r.stdout.split('\n').find((l) => l.startsWith('STEWARD-SIZES ')) : undefined;
        if (line) {
          try {
            plan.tableSizes = JSON.parse(line.slice('STEWARD-SIZES '.length)) as Record<string, TableSize>;
          } catch {
            // not measured
          }
        }
      }
      return plan;
    },

    /**
     * `migrate` under the database's host-side lock, in a process group killed on timeout or cancellation. A
     * non-zero exit is not retried: the migration may have changed part of the database, and a person decides
     * (the deployment rolls back: reverse migrations, or a restore decision).
     */
    async runMigrations(input: { environment: string; releaseId: string; timeoutMs?: number }): Promise<{ applied: Record<string, string>; durationMs: number }> {
      const h = onHost(deps, input.environment);
      const dir = appRelease(h.env.app, releasePaths(h.env.app.deployRoot, input.releaseId).release);
      const timeoutMs = input.timeoutMs ?? timeoutsOf(h.env, 0).migrateMs;
      // One Django start: migrate, then the state it left (showmigrations) after the line STEWARD-APPLIED; under the
      // database's host lock and in a process group, like a bare migrate.
      const r = await lockedRun(h, migrateAndShow(dir), timeoutMs, 'migrate');
      if (r.exitCode !== 0) {
        throw refuse(`migrate exited with ${r.exitCode}: ${tail(r) || 'no output'}; not retried (it may have changed part of the database): the deployment rolls back and a person decides on a restore`, 'MigrationFailed');
      }
      const at = r.stdout.lastIndexOf('\nSTEWARD-APPLIED\n');
      if (at < 0) throw refuse('migrate printed no state after it ran (no STEWARD-APPLIED line)', 'MigrationFailed');
      const applied = parseShowMigrations(r.stdout.slice(at + '\nSTEWARD-APPLIED\n'.length));
      return { applied, durationMs: r.durationMs };
    },

    /** Reverse migrations to the recorded state, with the code that knows them (the new release). */
    async reverseMigrations(input: { environment: string; releaseId: string; stateBefore: Record<string, string>; apps: string[] }): Promise<{ reversed: string[] }> {
      const h = onHost(deps, input.environment);
      const dir = appRelease(h.env.app, releasePaths(h.env.app.deployRoot, input.releaseId).release);
      const reversed: string[] = [];
      for (const app of input.apps) {
        const target = input.stateBefore[app] ?? 'zero';
        const r = await lockedRun(h, migrateTo(dir, app, target), timeoutsOf(h.env, 0).migrateMs, 'reverse migrations');
        if (r.exitCode !== 0) throw refuse(`migrate ${app} ${target} exited with ${r.exitCode}: ${tail(r) || 'no output'}; not retried: a person decides`, 'ReverseMigrationFailed');
        reversed.push(`${app} → ${target}`);
      }
      return { reversed };
    },

    /**
     * The financial invariants as the app contract declares them: the demo's `financial_invariants` command
     * (tenant → metric → value), or read-only SQL queries, each reported as "holds" or what broke it, under the
     * pseudo-tenant "sql" (so a rule that held before and breaks after is a difference, one broken before is not).
     */
    async readInvariants(input: { environment: string; releaseId: string }): Promise<InvariantSnapshot> {
      const h = onHost(deps, input.environment);
      const hook = h.env.app.hooks.invariants;
      if (hook === 'absent') {
        throw ApplicationFailure.nonRetryable('this app declares no invariants hook (hooks.invariants: absent): there are no financial invariants to read', 'HookAbsent');
      }
      if (hook !== 'builtin') {
        const url = parsePgUrl(resolveSecret(h.env.database.url).reveal());
        const out: Record<string, string> = {};
        for (const q of hook.sql) {
          const r = await h.run(readOnlyQuery(url, q.query), { stdin: `${url.password}\n`, allowFailure: true });
          if (r.exitCode !== 0) throw ApplicationFailure.nonRetryable(`invariant ${q.name}: the query failed: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`, 'BadInvariants');
          out[q.name] = judgeInvariant(q, parseCsv(r.stdout));
        }
        return { sql: out };
      }
      const dir = appRelease(h.env.app, releasePaths(h.env.app.deployRoot, input.releaseId).release);
      const out = (await h.run(financialInvariants(dir))).stdout;
      try {
        const parsed = JSON.parse(out) as { tenants?: InvariantSnapshot };
        if (!parsed.tenants) throw new Error('no "tenants" key');
        return parsed.tenants;
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`financial_invariants did not print the expected JSON: ${(err as Error).message}`, 'BadInvariants');
      }
    },

    async setFeatureFlag(input: { environment: string; releaseId: string; module: string; on: boolean; reason: string }): Promise<void> {
      const h = onHost(deps, input.environment);
      const dir = appRelease(h.env.app, releasePaths(h.env.app.deployRoot, input.releaseId).release);
      const hook = h.env.app.hooks.moduleFreeze;
      if (hook === 'absent') {
        throw ApplicationFailure.nonRetryable(`this app declares no module freeze hook (hooks.moduleFreeze: absent): switch ${input.module} ${input.on ? 'on' : 'off'} by hand`, 'HookAbsent');
      }
      if (hook === 'builtin') await h.run(featureFlag(dir, input.module, input.on, input.reason));
      else await h.run(hookCommand(input.on ? hook.unfreeze : hook.freeze, { module: input.module }, dir.dir));
    },
  };
}

export function createRestoreActivities(deps: DeploymentDeps) {
  const { backupDatabase } = createDatabaseActivities(deps);
  return {
    /** Restores a verified backup, after backing up the database as it is now, so nothing is lost. */
    async restoreDatabase(input: { environment: string; backupFile: string; preRestoreBackupId: string; runId?: string; timeouts?: DatabaseTimeouts }): Promise<{ preRestoreBackup: BackupRecord; durationMs: number }> {
      const h = onHost(deps, input.environment);
      const started = Date.now();
      const pgBin = pgBinOf(h.env);
      const timeouts = input.timeouts ?? timeoutsOf(h.env, 0);
      const preRestoreBackup = await backupDatabase({ environment: input.environment, backupId: input.preRestoreBackupId, runId: input.runId, timeouts });
      await h.run(pgRestoreList(input.backupFile, pgBin));
      const url = parsePgUrl(resolveSecret(h.env.database.url).reveal());
      // One transaction (--single-transaction): a failed restore leaves the database as it was; not retried, a person decides.
      const r = await lockedRun(h, pgRestore(url, input.backupFile, pgBin), timeouts.restoreMs, 'restore', `${url.password}\n`);
      if (r.exitCode !== 0) throw refuse(`pg_restore exited with ${r.exitCode}: ${tail(r) || 'no output'}; not retried: a person decides (the database as it was is kept in ${preRestoreBackup.file})`, 'RestoreFailed');
      return { preRestoreBackup, durationMs: Date.now() - started };
    },
  };
}

/** Protected tables from the worker's config: the policy's (with its defaults) and the environment's own list. */
export function protectedTablesOf(deps: DeploymentDeps, envTables: readonly string[] = []): string[] {
  let fromPolicy: string[];
  try {
    fromPolicy = parsePolicyConfig(deps.config.policy ?? {}).protectedTables;
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`the policy in the worker's config is invalid: ${(err as Error).message}`, 'BadPolicy');
  }
  return [...new Set([...fromPolicy, ...envTables.map((t) => t.toLowerCase())])];
}

/**
 * A command under the database's host-side flock (migrate, reverse, restore: never two at once, whatever retried
 * or duplicated them), given half its time to wait for another holder. Returns non-zero exits for the caller to judge.
 */
async function lockedRun(h: HostRun, command: Parameters<HostRun['run']>[0], timeoutMs: number, what: string, stdin?: string): Promise<ExecResult> {
  await h.run(cmd(['mkdir', '-p', '--', h.env.database.backupDir]));
  const lock = databaseLockFile(h.env.database.backupDir, h.env.database.name);
  const r = await h.run(underDatabaseLock(command, lock, timeoutMs / 2000), { timeoutMs, allowFailure: true, ...(stdin !== undefined ? { stdin } : {}) });
  if (r.exitCode === LOCK_HELD_EXIT) {
    throw ApplicationFailure.retryable(`${what}: another migrate or restore of ${h.env.database.name} held the host lock ${lock} for ${Math.round(timeoutMs / 2000)} s; nothing was run`, 'DatabaseLockHeld');
  }
  return r;
}

/** The protected tables that exist in the database (the policy may name tables another app has). */
async function presentTables(h: HostRun, url: PgTarget & { password: string }, tables: string[], pgBin: string): Promise<string[]> {
  const plain = tables.filter((t) => /^[a-z_][a-z0-9_]{0,62}$/.test(t));
  if (plain.length === 0) return [];
  const r = await h.run(existingTables(url, plain, pgBin), { stdin: `${url.password}\n` });
  return parseCsv(r.stdout).map((row) => row.table!).filter(Boolean);
}

/** The restore check of a backup: into a scratch database, counted, compared, dropped (also when it fails). */
async function restoreCheck(
  h: HostRun,
  url: PgTarget & { password: string },
  file: string,
  name: string,
  tables: string[],
  before: Record<string, number> | undefined,
  timeouts: DatabaseTimeouts,
  pgBin: string,
): Promise<BackupVerification> {
  const t0 = Date.now();
  const scratch = `steward_verify_${name.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(-40)}`;
  const stdin = `${url.password}\n`;
  const after = await countRows(h, url, tables, pgBin);
  await h.run(dropScratchDatabase(url, scratch, pgBin), { stdin });
  const created = await h.run(createScratchDatabase(url, scratch, pgBin), { stdin, allowFailure: true });
  if (created.exitCode !== 0) {
    throw refuse(`the restore check could not create the scratch database ${scratch}: ${tail(created)}; grant the database role CREATEDB, or set database.verifyRestore: archive-list`, 'BackupUnverified');
  }
  try {
    heartbeat(`restoring ${file} into ${scratch}${timeouts.sampleOnly ? ' (protected tables only)' : ''}`);
    const restored = await h.run(pgRestoreInto(url, scratch, file, timeouts.sampleOnly ? tables : [], pgBin), { stdin, timeoutMs: timeouts.restoreMs, allowFailure: true });
    if (restored.exitCode !== 0) throw refuse(`the backup ${file} did not restore into a scratch database: ${tail(restored)}`, 'BackupUnverified');
    const counts = await countRows(h, { ...url, database: scratch }, tables, pgBin).catch((err: Error) => {
      throw refuse(`the protected tables could not be counted in the restored backup: ${err.message}`, 'BackupUnverified');
    });
    const rows = tables.map((table) => ({ table, sourceBefore: before?.[table] ?? null, sourceAfter: after[table] ?? 0, restored: counts[table] ?? -1 }));
    const wrong = rows.filter((r) => r.restored < Math.min(r.sourceBefore ?? 0, r.sourceAfter) || r.restored > Math.max(r.sourceBefore ?? r.sourceAfter, r.sourceAfter));
    if (wrong.length) {
      throw refuse(`the restored backup does not hold the source's rows: ${wrong.map((w) => `${w.table} restored ${w.restored}, source ${w.sourceBefore ?? '?'}→${w.sourceAfter}`).join(', ')}`, 'BackupUnverified');
    }
    return { scratchDatabase: scratch, sample: timeouts.sampleOnly, tables: rows, durationMs: Date.now() - t0 };
  } finally {
    await h.run(dropScratchDatabase(url, scratch, pgBin), { stdin, allowFailure: true }).catch(() => undefined);
  }
}
