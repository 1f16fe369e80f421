// The audit store against the dev stack's real PostgreSQL. Each scenario that writes gets a throwaway database
// (created by the superuser, owned by the audit owner role, dropped at the end), so the shared store stays clean.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { Client, Pool } from 'pg';
import { parse, stringify } from 'yaml';
import { createAuditActivities, prepareAuditStore } from '../../src/activities/audit/store';
import type { AuditEvent } from '../../src/activities/audit/api';
import { poolFor } from '../../src/audit/connection';
import { migrateAuditStore } from '../../src/audit/migrate';
import { verifyAuditChain } from '../../src/audit/verify';
import { computeAuditHash, GENESIS_HASH, normaliseTime } from '../../src/audit/canonical';
import { fromDb, ROW_COLUMNS } from '../../src/audit/log';
import { signCheckpoint, storeCheckpoint } from '../../src/audit/checkpoint';
import { loadConfig } from '../../src/config/load';
import type { StewardConfig } from '../../src/config/schema';
import { devLayout, devPorts, REPO_ROOT } from '../../src/dev/paths';
import { AUDIT_OWNER, superuserPasswordFile } from '../../src/dev/postgres';
import { Tally } from '../helpers/outcomes';

const layout = devLayout();
const port = devPorts().postgres;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'steward-audit-test-'));
const devConfigText = readFileSync(layout.configFile, 'utf8');

function superuserUrl(db: string): string {
  const pw = readFileSync(superuserPasswordFile(layout), 'utf8').trim();
  return `postgres://postgres:${encodeURIComponent(pw)}@127.0.0.1:${port}/${db}`;
}

async function asSuperuser<T>(db: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: superuserUrl(db) });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function withDatabase(secretFile: string, db: string, out: string): { file: string } {
  const u = new URL(readFileSync(secretFile, 'utf8').trim());
  u.pathname = `/${db}`;
  writeFileSync(out, `${u.toString()}\n`, { mode: 0o600 });
  return { file: out };
}

interface Store {
  db: string;
  config: StewardConfig;
  configFile: string;
  drop(): Promise<void>;
}

/** A fresh, empty audit database (not yet migrated) with a config file of its own for the CLI. */
async function throwawayStore(label: string): Promise<Store> {
  const db = `steward_audit_${label}_${process.pid}`;
  await asSuperuser('postgres', async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${db}" OWNER "${AUDIT_OWNER}"`);
  });
  const audit = {
    databaseUrl: withDatabase(path.join(layout.secrets, 'audit-writer-url'), db, path.join(tmp, `${db}-writer-url`)),
    ownerUrl: withDatabase(path.join(layout.secrets, 'audit-owner-url'), db, path.join(tmp, `${db}-owner-url`)),
  };
  const raw = parse(devConfigText) as Record<string, unknown>;
  raw.audit = audit;
  const configFile = path.join(tmp, `${db}.yaml`);
  writeFileSync(configFile, stringify(raw));
  return {
    db,
    config: loadConfig(configFile),
    configFile,
    drop: () => asSuperuser('postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)).then(() => undefined),
  };
}

function event(id: string, over: Partial<AuditEvent> = {}): AuditEvent {
  return { eventId: id, subject: 'CHG-1', kind: 'approved', actor: 'carol', at: '2025-06-02T09:30:00.000Z', details: { comment: 'ok', amount: 12.5, list: [1, 'b'] }, ...over };
}

function cliVerify(configFile: string): { code: number; stdout: string; stderr: string; report: { ok: boolean; rows: number; firstBroken?: { seq: number; eventId: string; kind: string; message: string } } } {
  const r = spawnSync(process.execPath, ['bin/steward.js', '--config', configFile, 'audit', 'verify', '--json'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, report: JSON.parse(r.stdout || 'null') };
}

/** What a superuser can do behind the trigger's back: disable it, change the table, enable it again. */
async function tamper(db: string, sql: string, params: unknown[] = []): Promise<void> {
  await asSuperuser(db, async (c) => {
    await c.query('BEGIN');
    await c.query('ALTER TABLE audit_event DISABLE TRIGGER ALL');
    await c.query(sql, params);
    await c.query('ALTER TABLE audit_event ENABLE TRIGGER ALL');
    await c.query('COMMIT');
  });
}

describe('audit store (real PostgreSQL)', () => {
  const stores: Store[] = [];
  const pools: Pool[] = [];
  /** Each tampering tried below; "through" is one neither refused by PostgreSQL nor found by `audit verify`. */
  const tampering = new Tally('tamper', 'audit trail: changes refused by PostgreSQL or found by `audit verify`');
  after(async () => {
    tampering.record();
    for (const p of pools) await p.end().catch(() => undefined);
    for (const s of stores) await s.drop();
    rmSync(tmp, { recursive: true, force: true });
  });
  async function store(label: string): Promise<Store> {
    const s = await throwawayStore(label);
    stores.push(s);
    return s;
  }

  it('migrates the shared dev store idempotently and finds its chain intact', async () => {
    const config = loadConfig(layout.configFile);
    assert.ok(config.audit?.ownerUrl, 'the dev config names audit.ownerUrl (run `steward dev up`)');
    const first = await prepareAuditStore(config);
    pools.push(first.pool);
    const second = await prepareAuditStore(config);
    pools.push(second.pool);
    assert.deepEqual(second.migration.applied, []);
    assert.ok(second.migration.alreadyApplied.includes('001_audit_event.sql'));
    assert.equal(second.migration.writerRole, 'steward_audit_writer');
    assert.deepEqual(second.migration.warnings, []);
    const report = await verifyAuditChain(second.pool);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
  });

  it('applies migrations once on a fresh database, even when two workers start together', async () => {
    const s = await store('mig');
    const owner = poolFor(s.config.audit!.ownerUrl!);
    pools.push(owner);
    const [a, b] = await Promise.all([
      migrateAuditStore(owner, { writerRole: 'steward_audit_writer' }),
      migrateAuditStore(owner, { writerRole: 'steward_audit_writer' }),
    ]);
    assert.deepEqual([...a.applied, ...b.applied], ['001_audit_event.sql']);
    const again = await migrateAuditStore(owner, { writerRole: 'steward_audit_writer' });
    assert.deepEqual(again.applied, []);
    const rows = await owner.query('SELECT version FROM schema_migrations');
    assert.equal(rows.rowCount, 1);
  });

  it('appends idempotently under the same event id and lists by subject', async () => {
    const s = await store('idem');
    const acts = createAuditActivities({ config: s.config });
    const one = await acts.appendAuditEvent(event('e-1'));
    const again = await acts.appendAuditEvent(event('e-1'));
    assert.deepEqual(again, one);
    const two = await acts.appendAuditEvent(event('e-2', { subject: 'CHG-2', kind: 'proposed', actor: 'alice' }));
    const three = await acts.appendAuditEvent(event('e-3', { details: { b: 1, a: { y: 2, x: 1 } } }));
    assert.ok(two.seq > one.seq && three.seq > two.seq);
    const listed = await acts.listAuditEvents({ subject: 'CHG-1' });
    assert.deepEqual(listed.map((r) => r.eventId), ['e-1', 'e-3']);
    assert.equal(listed[0]!.hash, one.hash);
    assert.equal(listed[1]!.prevHash, two.hash);
    assert.deepEqual(listed[1]!.details, { a: { x: 1, y: 2 }, b: 1 });
    // The same id with other content is a bug in the caller, never silently accepted.
    await assert.rejects(acts.appendAuditEvent(event('e-1', { actor: 'mallory' })), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'AuditConflict');
      assert.equal(err.nonRetryable, true);
      return true;
    });
    await assert.rejects(acts.appendAuditEvent(event('e-bad', { kind: 'deleted' as never })), (err: unknown) => err instanceof ApplicationFailure && err.type === 'BadAuditEvent' && err.nonRetryable);
    const cli = cliVerify(s.configFile);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.report.rows, 3);
  });

  it('keeps a valid chain under 20 concurrent appends (and their retries)', async () => {
    const s = await store('conc');
    const acts = createAuditActivities({ config: s.config });
    const acts2 = createAuditActivities({ config: s.config }); // a second worker
    const events = Array.from({ length: 20 }, (_, i) => event(`c-${i}`, { subject: `CHG-${i % 4}`, details: { i } }));
    const results = await Promise.all(events.flatMap((e, i) => [acts.appendAuditEvent(e), ...(i % 3 === 0 ? [acts2.appendAuditEvent(e)] : [])]));
    assert.equal(new Set(results.map((r) => r.seq)).size, 20);
    const writer = poolFor(s.config.audit!.databaseUrl);
    pools.push(writer);
    const report = await verifyAuditChain(writer);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.rows, 20);
  });

  it('keeps a valid chain when two worker processes append at once (and both append some of the same events)', async () => {
    const s = await store('procs');
    // Each child is a process of its own with its own pool (as two workers on two machines are): it migrates, waits
    // for the go file, then fires its appends all at once. Events s-* are appended by both (a retry from the other
    // worker); p<n>-* by one.
    const go = path.join(tmp, `go-${process.pid}`);
    const child = (n: number) => `
      require('tsx/cjs');
      const { existsSync } = require('node:fs');
      const { createAuditActivities } = require(${JSON.stringify(path.join(REPO_ROOT, 'src/activities/audit/store.ts'))});
      const { loadConfig } = require(${JSON.stringify(path.join(REPO_ROOT, 'src/config/load.ts'))});
      (async () => {
        const acts = createAuditActivities({ config: loadConfig(${JSON.stringify(s.configFile)}) });
        await acts.appendAuditEvent({ eventId: 'warm-${n}', subject: 'CHG-W', kind: 'approved', actor: 'carol', at: '2025-06-02T09:30:00.000Z', details: { n: ${n} } });
        while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 5));
        const ev = (id, i) => ({ eventId: id, subject: 'CHG-' + (i % 3), kind: 'approved', actor: 'carol', at: '2025-06-02T09:30:00.000Z', details: { i } });
        const all = [];
        for (let i = 0; i < 30; i++) all.push(acts.appendAuditEvent(ev('p${n}-' + i, i)));
        for (let i = 0; i < 10; i++) all.push(acts.appendAuditEvent(ev('s-' + i, i)));
        const r = await Promise.all(all);
        process.stdout.write(JSON.stringify(r.map((x) => x.seq)));
        process.exit(0);
      })().catch((e) => { console.error(e.stack || e); process.exit(1); });`;
    const run = (n: number) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const c = spawn(process.execPath, ['-e', child(n)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.stderr.on('data', (d: Buffer) => (err += d.toString()));
        c.once('exit', (code) => resolve({ code, out, err }));
      });
    const both = Promise.all([run(1), run(2)]);
    // Both have migrated and warmed their pools (the two warm-up rows are in) before the go.
    const writer = poolFor(s.config.audit!.databaseUrl);
    pools.push(writer);
    for (const deadline = Date.now() + 60_000; ; ) {
      const n = await writer.query("SELECT count(*)::int AS n FROM audit_event WHERE event_id LIKE 'warm-%'").catch(() => ({ rows: [{ n: 0 }] }));
      if (n.rows[0].n === 2) break;
      if (Date.now() > deadline) throw new Error('the two appending processes did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    writeFileSync(go, '');
    const [a, b] = await both;
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    const seqA = JSON.parse(a.out) as number[];
    const seqB = JSON.parse(b.out) as number[];
    // The shared events got one row each, the same in both processes.
    assert.deepEqual(seqA.slice(30), seqB.slice(30));
    assert.equal(new Set([...seqA, ...seqB]).size, 70);
    const report = await verifyAuditChain(writer);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.rows, 72);
    const cli = cliVerify(s.configFile);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.report.rows, 72);
  });

  it('gives the writer role no UPDATE, DELETE or TRUNCATE, and the trigger stops even the owner', async () => {
    const s = await store('perm');
    const acts = createAuditActivities({ config: s.config });
    await acts.appendAuditEvent(event('p-1'));
    const writer = poolFor(s.config.audit!.databaseUrl);
    const owner = poolFor(s.config.audit!.ownerUrl!);
    pools.push(writer, owner);
    const refusal = (p: Pool, sql: string) => p.query(sql).then(() => undefined, (err: Error & { code?: string }) => err);
    for (const sql of ["UPDATE audit_event SET actor = 'mallory'", 'DELETE FROM audit_event', 'TRUNCATE audit_event']) {
      const err = await refusal(writer, sql);
      tampering.count(err?.code !== '42501', `writer role: ${sql}`);
      assert.equal(err?.code, '42501', sql);
      assert.match(err.message, /permission denied/);
    }
    await assert.rejects(writer.query('SELECT * FROM schema_migrations'), /permission denied/);
    for (const sql of ["UPDATE audit_event SET actor = 'mallory'", 'DELETE FROM audit_event', 'TRUNCATE audit_event']) {
      const err = await refusal(owner, sql);
      tampering.count(!/append-only/.test(err?.message ?? ''), `owner role: ${sql}`);
      assert.match(err?.message ?? 'accepted', /append-only/, sql);
    }
    const n = await writer.query('SELECT count(*)::int AS n FROM audit_event');
    assert.equal(n.rows[0].n, 1);
  });

  it('`steward audit verify` names a row the superuser altered behind the trigger', async () => {
    const s = await store('alter');
    const acts = createAuditActivities({ config: s.config });
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) seqs.push((await acts.appendAuditEvent(event(`t-${i}`, { details: { amount: 100 + i } }))).seq);
    assert.equal(cliVerify(s.configFile).code, 0);
    await tamper(s.db, `UPDATE audit_event SET details = '{"amount": 1000000}' WHERE seq = $1`, [seqs[2]]);
    const cli = cliVerify(s.configFile);
    tampering.count(cli.code === 0 || cli.report.firstBroken?.seq !== seqs[2], 'superuser altered a row behind the trigger');
    assert.equal(cli.code, 1, cli.stderr);
    assert.equal(cli.report.ok, false);
    assert.equal(cli.report.firstBroken?.seq, seqs[2]);
    assert.equal(cli.report.firstBroken?.eventId, 't-2');
    assert.equal(cli.report.firstBroken?.kind, 'content-altered');
    assert.match(cli.stderr, new RegExp(`broken at seq ${seqs[2]} \\(event t-2\\)`));
  });

  it('`steward audit verify` detects a row the superuser deleted', async () => {
    const s = await store('del');
    const acts = createAuditActivities({ config: s.config });
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) seqs.push((await acts.appendAuditEvent(event(`d-${i}`))).seq);
    await tamper(s.db, 'DELETE FROM audit_event WHERE seq = $1', [seqs[1]]);
    const cli = cliVerify(s.configFile);
    tampering.count(cli.code === 0 || cli.report.firstBroken?.kind !== 'rows-missing', 'superuser deleted a row behind the trigger');
    assert.equal(cli.code, 1, cli.stderr);
    assert.equal(cli.report.firstBroken?.seq, seqs[2]);
    assert.equal(cli.report.firstBroken?.kind, 'rows-missing');
    assert.match(cli.report.firstBroken!.message, new RegExp(`seq ${seqs[1]} was deleted`));
  });

  it('a superuser who rewrites a row and recomputes every later hash is caught by the signed checkpoints', async () => {
    const s = await store('rechain');
    // The throwaway store gets the dev stack's checkpoint key and a checkpoint folder of its own.
    const raw = parse(readFileSync(s.configFile, 'utf8')) as { audit: Record<string, unknown> };
    const dev = loadConfig(layout.configFile).audit!.checkpoints!;
    raw.audit.checkpoints = { key: dev.key, publicKey: dev.publicKey, dir: path.join(tmp, `${s.db}-checkpoints`) };
    writeFileSync(s.configFile, stringify(raw));
    const config = loadConfig(s.configFile);
    const acts = createAuditActivities({ config });
    for (let i = 0; i < 4; i++) await acts.appendAuditEvent(event(`r-${i}`, { details: { amount: 100 + i } }));
    const cp = await acts.signAuditCheckpoint({});
    assert.ok(cp && cp.rows === 4, JSON.stringify(cp));
    await acts.appendAuditEvent(event('r-4', { details: { amount: 104 } }));
    assert.equal(cliVerify(s.configFile).code, 0, 'intact, and the checkpoint matches');
    // Rewrite row r-1 and recompute the whole chain after it, as a superuser can: the chain itself is consistent.
    await asSuperuser(s.db, async (c) => {
      await c.query('BEGIN');
      await c.query('ALTER TABLE audit_event DISABLE TRIGGER ALL');
      const rows = (await c.query(`SELECT ${ROW_COLUMNS} FROM audit_event ORDER BY seq`)).rows.map(fromDb);
      let prev = GENESIS_HASH;
      for (const r of rows) {
        const details = r.eventId === 'r-1' ? { amount: 1_000_000 } : r.details;
        const hash = computeAuditHash(prev, { ...r, at: normaliseTime(r.at), details });
        await c.query('UPDATE audit_event SET details = $1, prev_hash = $2, hash = $3 WHERE seq = $4', [details, prev, hash, r.seq]);
        prev = hash;
      }
      await c.query('ALTER TABLE audit_event ENABLE TRIGGER ALL');
      await c.query('COMMIT');
    });
    const writer = poolFor(config.audit!.databaseUrl);
    pools.push(writer);
    assert.equal((await verifyAuditChain(writer)).ok, true, 'without checkpoints the recomputed chain looks intact');
    const cli = cliVerify(s.configFile);
    tampering.count(cli.code === 0, 'superuser rewrote a row and recomputed every later hash');
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(JSON.stringify(cli.report), /anchor|checkpoint/i);
    // A forged checkpoint (signed by another key) does not count: it is reported.
    const forgedDir = path.join(tmp, `${s.db}-checkpoints`);
    const other = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, `${s.db}-forger`)], { encoding: 'utf8' });
    assert.equal(other.status, 0);
    const fake = signCheckpoint({ file: path.join(tmp, `${s.db}-forger`) }, { v: 1, kind: 'audit-checkpoint', seq: 999, hash: 'f'.repeat(64), rows: 999, at: new Date().toISOString() });
    storeCheckpoint(forgedDir, fake);
    const withForged = cliVerify(s.configFile);
    assert.equal(withForged.code, 1);
    assert.match(withForged.stdout, /signed by another key/);
  });

  it('refuses clearly when the config has no audit section', async () => {
    const config = { ...loadConfig(layout.configFile), audit: undefined };
    const acts = createAuditActivities({ config });
    await assert.rejects(acts.appendAuditEvent(event('x')), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'AuditNotConfigured');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /audit\.databaseUrl/);
      return true;
    });
  });
});
