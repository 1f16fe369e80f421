// The compose stack's certificates come from one documented command, scripts/make-temporal-certs.sh: run here into a
// temporary dir, every certificate and key the compose file and the shipped Steward config name is made, each leaf
// verifies against the CA as X.509 v3 (Temporal's Rust core refuses v1), the frontend's names cover the compose
// service name, the worker's TLS settings (the compose config's, pointed at these files) load, and a real mutual TLS
// handshake with Node's TLS (server cert ↔ worker cert) succeeds, while a client without a certificate is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { temporalConnectionOptions } from '../../src/temporal/connection';

const ROOT = path.resolve(__dirname, '..', '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-certs-'));
const compose = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
const stewardConfig = readFileSync(path.join(ROOT, 'deploy', 'compose', 'steward.config.yaml'), 'utf8');

function openssl(args: string[]): string {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('scripts/make-temporal-certs.sh (the documented command for the compose PKI)', () => {
  const made = spawnSync('bash', [path.join(ROOT, 'scripts', 'make-temporal-certs.sh'), dir, 'temporal'], { encoding: 'utf8' });

  it('makes every file the compose file and the compose config name', () => {
    assert.equal(made.status, 0, made.stderr);
    const named = new Set([...compose.matchAll(/\/etc\/temporal\/tls\/([\w.-]+)/g), ...stewardConfig.matchAll(/\/run\/secrets\/temporal-tls\/([\w.-]+)/g)].map((m) => m[1]!));
    assert.ok(named.size >= 6, [...named].join(', '));
    for (const f of named) assert.ok(existsSync(path.join(dir, f)), `${f} (named in the compose files) was not made`);
    assert.match(compose, /make-temporal-certs\.sh "\$STEWARD_TLS_DIR" temporal/, 'docker-compose.yml documents the command');
  });

  it('each leaf is X.509 v3, issued by the CA; the frontend is named temporal', () => {
    for (const leaf of ['server', 'worker', 'ui']) {
      assert.match(openssl(['verify', '-CAfile', 'ca.pem', `${leaf}.pem`]), /: OK/);
      assert.match(openssl(['x509', '-in', `${leaf}.pem`, '-noout', '-text']), /Version: 3 \(0x2\)/);
    }
    assert.match(openssl(['x509', '-in', 'server.pem', '-noout', '-ext', 'subjectAltName']), /DNS:temporal/);
  });

  it("the compose config's temporal.tls loads with these files (key matches certificate)", () => {
    const text = stewardConfig.replaceAll('/run/secrets/temporal-tls', dir);
    const options = temporalConnectionOptions(parseConfig(text, 'steward.config.yaml', {}), {});
    const t = options.tls as { serverNameOverride?: string; clientCertPair?: { crt: Buffer; key: Buffer } };
    assert.equal(t.serverNameOverride, 'temporal');
    assert.ok(t.clientCertPair?.crt.toString().includes('BEGIN CERTIFICATE'));
  });

  it('a real mutual TLS handshake: the worker certificate is accepted, no certificate is refused', async () => {
    const read = (f: string) => readFileSync(path.join(dir, f));
    const server = tls.createServer({ key: read('server.key'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true }, (s) => s.end('hello\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const connect = (withCert: boolean) =>
      new Promise<string>((resolve) => {
        const c = tls.connect({ host: '127.0.0.1', port, servername: 'temporal', ca: read('ca.pem'), ...(withCert ? { cert: read('worker.pem'), key: read('worker.key') } : {}) });
        let data = '';
        c.on('data', (d) => (data += d.toString()));
        c.on('end', () => resolve(data.trim() || 'closed'));
        c.on('error', (e) => resolve(`error: ${e.message}`));
      });
    try {
      assert.equal(await connect(true), 'hello');
      assert.notEqual(await connect(false), 'hello');
    } finally {
      server.close();
    }
  });
});
