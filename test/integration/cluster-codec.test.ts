// Sealed payloads and redaction on the real stack. With temporal.payloadCodec on (two keys: k1 listed, k2 current),
// a change proposed through the CLI and two deployments run by a worker process (one of them fails: its migration
// raises with the database URL, a GitHub-shaped token and a marker in its message) leave histories in which no
// proposal title, no SQL and no host error text is in clear, while a client with the codec reads them all. Search
// attributes stay plain: they hold none of it. The planted secrets reach no history (even decoded), no worker log
// line and no row of the audit table.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { stringify } from 'yaml';
import { createAuditActivities } from '../../src/activities/audit/store';
import { resolveSecret } from '../../src/config/secrets';
import type { StewardConfig } from '../../src/config/schema';
import { connectTemporal, payloadCodecFor } from '../../src/temporal/connection';
import { deploy, deployInput } from '../helpers/deploy';
import { devConfig } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-codec-'));
const tag = `r90-sealed-${process.pid}`;
const n = `${process.pid}`;
const MARKERS = {
  title: 'Round deposit postings to whole units in the ledger',
  sql: `sealed_marker_${n}`,
  hostError: `HOSTERR-${n}-the-ledger-host-said-no`,
};
const PLANTED_TOKEN = `ghp_${randomBytes(18).toString('hex')}`;

function codecConfig(): StewardConfig {
  const config = devConfig(`codec-${process.pid}`); // a queue per run: older runs' histories are sealed with other keys
  config.temporal.payloadCodec = {
    currentKeyId: 'k2',
    keys: [
      { id: 'k1', key: { env: 'STEWARD_TEST_CODEC_K1' } },
      { id: 'k2', key: { env: 'STEWARD_TEST_CODEC_K2' } },
    ],
  };
  return config;
}
const config = codecConfig();
const configFile = path.join(dir, 'steward.config.yaml');
writeFileSync(configFile, stringify(config));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  STEWARD_CONFIG: configFile,
  STEWARD_TEST_CODEC_K1: randomBytes(32).toString('base64'),
  STEWARD_TEST_CODEC_K2: randomBytes(32).toString('base64'),
  STEWARD_LOG_LEVEL: 'INFO',
};
Object.assign(process.env, { STEWARD_TEST_CODEC_K1: env.STEWARD_TEST_CODEC_K1, STEWARD_TEST_CODEC_K2: env.STEWARD_TEST_CODEC_K2 });

function steward(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function git(args: string[], cwd: string): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A release on top of r03 whose migration adds a column (SQL with a marker) and then raises with secrets. */
function pushSealedRelease(): void {
  const repo = config.environments.staging!.app.repo;
  const work = path.join(dir, 'work');
  git(['clone', '-q', repo, work], dir);
  git(['checkout', '-q', 'r03-additive-migration'], work);
  mkdirSync(path.join(work, 'banking', 'migrations'), { recursive: true });
  // An additive migration (its SQL carries a marker) that plans cleanly, and an app that fails collectstatic on the
  // host with the database URL, the password and a token in its error (stderr), before anything is migrated.
  writeFileSync(
    path.join(work, 'banking', 'migrations', '0004_sealed_marker.py'),
    `from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("banking", "0003_deposit_channel")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE bank_tenant ADD COLUMN ${MARKERS.sql} integer NULL",
            reverse_sql="ALTER TABLE bank_tenant DROP COLUMN ${MARKERS.sql}",
        ),
    ]
`,
  );
  writeFileSync(
    path.join(work, 'banking', 'apps.py'),
    `import os
import sys

from django.apps import AppConfig


class BankingConfig(AppConfig):
    name = "banking"
    verbose_name = "Banking"

    def ready(self):
        if "collectstatic" in sys.argv:
            raise RuntimeError("${MARKERS.hostError}: cannot reach " + os.environ.get("DATABASE_URL", "?") + " PGPASSWORD=" + ${JSON.stringify(dbPassword())} + " token ${PLANTED_TOKEN}")
`,
  );
  git(['-c', 'user.name=Test', '-c', 'user.email=t@example.test', 'add', '-A'], work);
  git(['-c', 'user.name=Test', '-c', 'user.email=t@example.test', 'commit', '-q', '-m', 'sealed-payload test release'], work);
  git(['tag', tag], work);
  git(['push', '-q', 'origin', `refs/tags/${tag}`], work);
}

function stagingDbPassword(): string {
  const url = resolveSecret(config.environments.staging!.database.url).reveal();
  return decodeURIComponent(/^[a-z]+:\/\/[^:]+:([^@]+)@/.exec(url)?.[1] ?? '');
}
const dbPassword = stagingDbPassword;

function historyJson(history: unknown): string {
  return JSON.stringify(history, (_k, v) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('base64');
    return v;
  });
}

/** The history's text as a reader of the cluster's database sees it: JSON, plus every base64 payload decoded. */
function clearText(history: unknown): string {
  const text = historyJson(history);
  const decoded = [...text.matchAll(/"([A-Za-z0-9+/]{16,}={0,2})"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')).join('\n');
  return `${text}\n${decoded}`;
}

/** Every sealed payload in a history, opened with the codec (as the codec server does for the Web UI). */
function openedText(history: unknown): string {
  const codec = payloadCodecFor(config)!;
  const out: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (!v || typeof v !== 'object' || depth > 40) return;
    const o = v as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
    if (o.metadata?.encoding && o.data instanceof Uint8Array && Buffer.from(o.metadata.encoding).toString() === 'binary/encrypted') {
      out.push(Buffer.from(codec.open(o as never).data ?? new Uint8Array()).toString('utf8'));
      return;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) walk(child, depth + 1);
  };
  walk(history, 0);
  return out.join('\n');
}

describe('sealed payloads and redaction (real stack)', () => {
  let worker: ChildProcess;
  let workerLog = '';
  let sealed: Client;
  let raw: Client;
  const dbSecret = resolveSecret(config.environments.staging!.database.url).reveal();
  const dbPassword = stagingDbPassword();
  const changeId = `SEAL-${n}-${Date.now() % 100000}`;

  before(async () => {
    pushSealedRelease();
    worker = spawn(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout!.on('data', (c: Buffer) => (workerLog += c.toString()));
    worker.stderr!.on('data', (c: Buffer) => (workerLog += c.toString()));
    sealed = await connectTemporal(config);
    const connection = await Connection.connect({ address: config.temporal.address });
    raw = new Client({ connection, namespace: config.temporal.namespace });
  });
  after(async () => {
    // Nothing of this test runs on after it (a lock holder without a worker would hold the next run up).
    for await (const wf of raw.workflow.list({ query: `TaskQueue = "${config.temporal.taskQueue}" AND ExecutionStatus = "Running"` })) {
      await raw.workflow.getHandle(wf.workflowId).terminate('sealed-payload test over').catch(() => undefined);
    }
    if (worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
    await sealed?.connection.close();
    await raw?.connection.close();
  });

  it('runs a proposal and two deployments (one failing on the host) with the codec on', async () => {
    assert.ok(dbPassword.length >= 6, 'the staging database URL has a password to plant');
    const good = await deploy(sealed, config, deployInput({ environment: 'staging', gitRef: 'r03-additive-migration', stagingChecks: false }));
    assert.equal(good.status, 'deployed', JSON.stringify(good.steps));
    const bad = await deploy(sealed, config, deployInput({ environment: 'staging', gitRef: tag, stagingChecks: false }));
    assert.notEqual(bad.status, 'deployed');
    const text = JSON.stringify(bad);
    assert.ok(text.includes(MARKERS.hostError), `the host's error text is in the record (decoded): ${text.slice(0, 2000)}`);
    assert.ok(!text.includes(dbPassword), 'the database password is masked in the record');
    assert.ok(!text.includes(PLANTED_TOKEN), 'the token is masked in the record');
    // A proposal through the CLI (client-side sealing): a Critical change waits for its reviews, deploys nothing, and
    // is withdrawn.
    const p = steward('propose', path.join(ROOT, 'examples', 'proposals', 'critical-financial.yaml'), '--id', changeId, '--json');
    assert.equal(p.code, 0, p.stderr);
    const w = steward('withdraw', changeId, '--as', 'alice', '--reason', 'sealed-payload test over');
    assert.equal(w.code, 0, w.stderr);
  });

  it('no history holds a proposal title, SQL or host error text in clear, and search attributes hold none', async () => {
    const ids: string[] = [];
    for await (const wf of raw.workflow.list({ query: `TaskQueue = "${config.temporal.taskQueue}"` })) ids.push(wf.workflowId);
    assert.ok(ids.length >= 3, `workflows on the codec task queue: ${ids.join(', ')}`);
    const seen = { title: false, sql: false, hostError: false };
    for (const id of ids) {
      const rawHistory = await raw.workflow.getHandle(id).fetchHistory();
      const clear = clearText(rawHistory);
      for (const [what, needle] of Object.entries(MARKERS)) assert.ok(!clear.includes(needle), `${what} in clear in ${id}`);
      for (const needle of [dbPassword, PLANTED_TOKEN]) assert.ok(!clear.includes(needle), `a planted secret in ${id}`);
      assert.match(clear, /binary\/encrypted|YmluYXJ5L2VuY3J5cHRlZA/, `${id} carries sealed payloads`);
      const described = await raw.workflow.getHandle(id).describe();
      const attrs = JSON.stringify(described.searchAttributes ?? {});
      for (const needle of [...Object.values(MARKERS), dbPassword, PLANTED_TOKEN]) assert.ok(!attrs.includes(needle), `search attributes of ${id}: ${attrs}`);
      // With the codec's keys, the same history reads in full (so the scan above could have failed).
      const decodedText = openedText(rawHistory);
      for (const needle of [dbPassword, PLANTED_TOKEN]) assert.ok(!decodedText.includes(needle), `a planted secret in the decoded history of ${id}`);
      for (const k of Object.keys(seen) as (keyof typeof seen)[]) if (decodedText.includes(MARKERS[k])) seen[k] = true;
    }
    assert.deepEqual(seen, { title: true, sql: true, hostError: true }, 'the codec client reads the title, the SQL and the host error');
  });

  it('the planted secrets reach no worker log line and no audit row', async () => {
    assert.ok(workerLog.length > 0, 'the worker logged something (level INFO)');
    assert.ok(!workerLog.includes(dbPassword), 'database password in the worker log');
    assert.ok(!workerLog.includes(PLANTED_TOKEN), 'token in the worker log');
    // The audit boundary itself: an event quoting the raw host error is masked before it is appended.
    const audit = createAuditActivities({ config });
    await audit.appendAuditEvent({
      eventId: `seal-${changeId}`,
      subject: changeId,
      kind: 'rolled-back',
      actor: 'steward',
      at: new Date().toISOString(),
      details: { error: `migrate failed: ${MARKERS.hostError}: cannot reach ${dbSecret} with token ${PLANTED_TOKEN}` },
    });
    const pool = new Pool({ connectionString: resolveSecret(config.audit!.databaseUrl).reveal(), max: 1 });
    try {
      const rows = (await pool.query('SELECT details::text AS d FROM audit_event')).rows as { d: string }[];
      assert.ok(rows.some((r) => r.d.includes(MARKERS.hostError)), 'the event was appended');
      for (const r of rows) {
        assert.ok(!r.d.includes(dbPassword), 'database password in the audit table');
        assert.ok(!r.d.includes(PLANTED_TOKEN), 'token in the audit table');
      }
    } finally {
      await pool.end();
    }
  });
});
