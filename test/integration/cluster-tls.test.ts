// Steward against a secured cluster: Debian's nginx terminates mTLS in front of the dev server's frontend (grpc_pass)
// and requires a client certificate. The real CLI and a real worker process run a change end to end through it; a
// wrong CA, a missing client certificate, a key that is not the certificate's and a certificate from an untrusted CA
// are refused with an error that names the setting.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NativeConnection } from '@temporalio/worker';
import { stringify } from 'yaml';
import type { StewardConfig } from '../../src/config/schema';
import { devPorts, portOffset } from '../../src/dev/paths';
import { connectTemporal, TemporalConnectionError, temporalConnectionOptions } from '../../src/temporal/connection';
import { makePki, startNginx, type Pki, type RunningNginx } from '../helpers/nginx';
import { devConfig } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const TLS_PORT = 7263 + portOffset();
const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-tls-'));
const pki: Pki = makePki(path.join(dir, 'pki'));

function tlsConfig(overrides: Partial<NonNullable<StewardConfig['temporal']['tls']>> | null = {}): StewardConfig {
  const config = devConfig('tls');
  config.temporal.address = `127.0.0.1:${TLS_PORT}`;
  if (overrides !== null) {
    config.temporal.tls = {
      serverCa: { file: pki.ca },
      clientCert: { file: pki.clientCert },
      clientKey: { file: pki.clientKey },
      serverName: pki.serverName,
      ...overrides,
    };
  }
  return config;
}

const configFile = path.join(dir, 'steward.config.yaml');
const env: NodeJS.ProcessEnv = { ...process.env, STEWARD_CONFIG: configFile };
delete env.TEMPORAL_ADDRESS;

function steward(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function stewardWith(config: StewardConfig, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const file = path.join(dir, `variant-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(config));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), '--config', file, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function waitForPhase(id: string, phase: string, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = steward('status', id, '--json');
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { phase: string; waitingFor: string };
    last = `${s.phase} (${s.waitingFor})`;
    if (s.phase === phase) return;
    if (['rolled-back', 'failed', 'rejected', 'withdrawn'].includes(s.phase)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`change ${id} is ${last}, expected ${phase}`);
}

describe('Steward through an mTLS terminator (nginx grpc_pass, real stack)', () => {
  let nginx: RunningNginx;
  let worker: ChildProcess | undefined;
  let workerLog = '';

  before(async () => {
    nginx = await startNginx(pki, TLS_PORT, `127.0.0.1:${devPorts().temporal}`);
    writeFileSync(configFile, stringify(tlsConfig()));
  });
  after(async () => {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker!.once('exit', r));
    }
    await nginx?.stop();
  });

  it('the terminator really requires TLS and a client certificate', async () => {
    const plain = tlsConfig(null);
    await assert.rejects(connectTemporal(plain, { connectTimeout: '3s' }), (err: unknown) => err instanceof TemporalConnectionError && /without TLS/.test((err as Error).message));
    const noCert = tlsConfig({ clientCert: undefined, clientKey: undefined });
    await assert.rejects(connectTemporal(noCert, { connectTimeout: '3s' }), (err: unknown) => err instanceof TemporalConnectionError && /client certificate|handshake|refused/i.test((err as Error).message));
  });

  it('the worker and the CLI run a change end to end through it', async () => {
    worker = spawn(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), 'worker'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    worker.stderr?.on('data', (c: Buffer) => (workerLog += c.toString()));
    const id = `TLS-${process.pid}-${Date.now() % 100000}`;
    const p = steward('propose', path.join(ROOT, 'examples', 'proposals', 'demo-cosmetic.yaml'), '--id', id, '--json');
    assert.equal(p.code, 0, p.stderr);
    await waitForPhase(id, 'approval');
    const ok = steward('approve', id, '--as', 'carol', '--comment', 'over mTLS');
    assert.equal(ok.code, 0, ok.stderr);
    await waitForPhase(id, 'completed');
    assert.equal(worker.exitCode, null, `the worker is still running: ${workerLog}`);
    // nginx saw the calls: the traffic really went through the terminator.
    const access = spawnSync('grep', ['-c', 'WorkflowService', path.join(pki.dir, 'nginx', 'logs', 'access.log')], { encoding: 'utf8' });
    assert.ok(Number(access.stdout.trim()) > 10, `nginx access log: ${access.stdout}`);
  });

  it('refuses a wrong CA, naming temporal.tls.serverCa', () => {
    const r = stewardWith(tlsConfig({ serverCa: { file: pki.rogueCa } }), 'list');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /temporal\.tls\.serverCa/);
    assert.match(r.stderr, /over TLS/);
  });

  it('refuses a missing client certificate (the server demands one)', () => {
    const r = stewardWith(tlsConfig({ clientCert: undefined, clientKey: undefined }), 'list');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot reach Temporal at 127\.0\.0\.1:\d+ over TLS/);
    assert.match(r.stderr, /temporal\.tls\.clientCert/);
  });

  it('refuses a key that is not the certificate’s before dialling, naming both fields', () => {
    const r = stewardWith(tlsConfig({ clientKey: { file: pki.strayKey } }), 'list');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /temporal\.tls\.clientKey is not the private key of temporal\.tls\.clientCert/);
    const w = stewardWith(tlsConfig({ clientKey: { file: pki.strayKey } }), 'worker');
    assert.notEqual(w.code, 0, 'the worker refuses too');
    assert.match(w.stderr, /temporal\.tls\.clientKey/);
  });

  it('refuses a client certificate from a CA the server does not trust (worker connection too)', async () => {
    const rogue = tlsConfig({ clientCert: { file: pki.rogueClientCert }, clientKey: { file: pki.rogueClientKey } });
    const r = stewardWith(rogue, 'list');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /over TLS with a client certificate/);
    assert.match(r.stderr, /refused the client certificate/);
    await assert.rejects(NativeConnection.connect(temporalConnectionOptions(rogue)).then((c) => c.close()));
  });

  it('refuses a server name the certificate is not issued for, naming temporal.tls.serverName', () => {
    const r = stewardWith(tlsConfig({ serverName: 'other.steward.test' }), 'list');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /temporal\.tls\.serverName/);
  });

  it('names the field of a missing certificate file', () => {
    const r = stewardWith(tlsConfig({ serverCa: { file: path.join(dir, 'nope.pem') } }), 'list');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /temporal\.tls\.serverCa: cannot read the secret file/);
  });
});
