// `steward codec-server` on the real stack: a reader's decode is answered, logged under the person's id without
// payload content, and appended to the audit table (kind payloads-decoded, actor the person); an unknown token is
// refused and leaves no row. The process is started by the CLI and stopped by its pid.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { Pool } from 'pg';
import { stringify } from 'yaml';
import { resolveSecret } from '../../src/config/secrets';
import { AesGcmPayloadCodec, payloadFromJson, payloadToJson } from '../../src/temporal/codec';
import { devConfig } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const UI = 'http://127.0.0.1:8233';
const KEY = randomBytes(32);
const CAROL = randomBytes(24).toString('hex');
const TITLE = `Reader test ${process.pid} raises the overdraft limit`;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('steward codec-server: decodes by person, logged and audited (real stack)', () => {
  let proc: ChildProcess;
  let log = '';
  let url: string;
  let pool: Pool;
  const config = devConfig(`codec-readers-${process.pid}`);

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    config.temporal.payloadCodec = { currentKeyId: 'k9', keys: [{ id: 'k9', key: { env: 'STEWARD_TEST_READERS_KEY' } }] };
    config.temporal.codecServer = { listen: `127.0.0.1:${port}`, uiOrigin: UI, readers: [{ person: 'carol', token: { env: 'STEWARD_TEST_READERS_CAROL' } }] };
    const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-codec-readers-'));
    const file = path.join(dir, 'steward.config.yaml');
    writeFileSync(file, stringify(config));
    proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), 'codec-server'], {
      env: { ...process.env, STEWARD_CONFIG: file, STEWARD_TEST_READERS_KEY: KEY.toString('base64'), STEWARD_TEST_READERS_CAROL: CAROL },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (c: Buffer) => (log += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    const deadline = Date.now() + 60_000;
    while (!log.includes('steward codec server on')) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`codec-server did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    pool = new Pool({ connectionString: resolveSecret(config.audit!.databaseUrl).reveal(), max: 1 });
  });
  after(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
    await pool?.end();
  });

  const rowsFor = async (actor: string) =>
    (await pool.query("SELECT actor, details::text AS d FROM audit_event WHERE kind = 'payloads-decoded' AND actor = $1 AND details->>'namespace' = $2", [actor, `readers-${process.pid}`])).rows as { actor: string; d: string }[];

  it("carol's decode is answered, logged under her id and audited; the log and the row hold no payload content", async () => {
    const codec = new AesGcmPayloadCodec([{ id: 'k9', key: KEY }], 'k9');
    const sealed = payloadToJson((await codec.encode([defaultPayloadConverter.toPayload({ title: TITLE })]))[0]!);
    const r = await fetch(`${url}/${CAROL}/decode`, { method: 'POST', headers: { origin: UI, 'content-type': 'application/json', 'x-namespace': `readers-${process.pid}` }, body: JSON.stringify({ payloads: [sealed] }) });
    assert.equal(r.status, 200, await r.clone().text());
    const body = (await r.json()) as { payloads: unknown[] };
    assert.deepEqual(defaultPayloadConverter.fromPayload(payloadFromJson(body.payloads[0])), { title: TITLE });
    await new Promise((res) => setTimeout(res, 200));
    assert.match(log, new RegExp(`decode by carol: 1 payload\\(s\\), keys k9, namespace readers-${process.pid}`));
    assert.ok(!log.includes(TITLE) && !log.includes(CAROL), 'payload content or the token in the log');
    const rows = await rowsFor('carol');
    assert.equal(rows.length, 1, 'one audit row for the decode');
    assert.ok(!rows[0]!.d.includes(TITLE) && !rows[0]!.d.includes(CAROL));
    assert.deepEqual(JSON.parse(rows[0]!.d), { payloads: 1, keyIds: ['k9'], namespace: `readers-${process.pid}`, origin: UI });
  });

  it('an unknown token is refused (401) and leaves no row', async () => {
    const before = (await pool.query("SELECT count(*)::int AS n FROM audit_event WHERE kind = 'payloads-decoded'")).rows[0].n as number;
    const r = await fetch(`${url}/decode`, { method: 'POST', headers: { origin: UI, authorization: `Bearer ${randomBytes(24).toString('hex')}`, 'x-namespace': `readers-${process.pid}` }, body: JSON.stringify({ payloads: [] }) });
    assert.equal(r.status, 401);
    const afterCount = (await pool.query("SELECT count(*)::int AS n FROM audit_event WHERE kind = 'payloads-decoded'")).rows[0].n as number;
    assert.equal(afterCount, before);
  });
});
