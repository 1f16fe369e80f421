// The cluster settings (temporal.tls, temporal.apiKey, temporal.payloadCodec) and the AES-256-GCM payload codec.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { ConfigError, parseConfig } from '../../src/config/load';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, PayloadCodecError } from '../../src/temporal/codec';
import { payloadCodecFor, TemporalConnectionError, temporalConnectionOptions } from '../../src/temporal/connection';

const BASE = `
environments:
  production:
    hosts:
      - { name: prod-1, address: 10.0.0.5, user: deploy, privateKey: { file: /etc/steward/key }, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVy" }
    app: { repo: /srv/git/app.git, deployRoot: /srv/app, baseUrl: "http://10.0.0.5:8000" }
    database: { name: banking, url: { env: PROD_DB_URL }, backupDir: /var/backups/banking }
`;
const withTemporal = (t: string) => `temporal:\n${t}\n${BASE}`;

describe('cluster settings in the config', () => {
  it('accepts TLS, an API key and a payload codec by secret reference', () => {
    const c = parseConfig(
      withTemporal(`  address: temporal.bank.internal:7233
  tls: { serverCa: { file: /etc/steward/tls/ca.pem }, clientCert: { file: /etc/steward/tls/worker.pem }, clientKey: { file: /etc/steward/tls/worker.key }, serverName: temporal.bank.internal }
  apiKey: { env: TEMPORAL_API_KEY }
  payloadCodec: { currentKeyId: k2, keys: [ { id: k1, key: { env: K1 } }, { id: k2, key: { file: /etc/steward/codec/k2 } } ] }`),
      'x.yaml',
      {},
    );
    assert.equal(c.temporal.tls?.serverName, 'temporal.bank.internal');
    assert.deepEqual(c.temporal.apiKey, { env: 'TEMPORAL_API_KEY' });
    assert.equal(c.temporal.payloadCodec?.keys.length, 2);
  });

  const bad: [string, string, RegExp][] = [
    ['a certificate without its key', '  tls: { clientCert: { file: /c.pem } }', /temporal\.tls\.clientKey: give clientCert and clientKey together/],
    ['a literal API key', '  apiKey: "eyJhbGciOi..."', /temporal\.apiKey/],
    ['a literal client key', '  tls: { clientCert: { file: /c.pem }, clientKey: "-----BEGIN PRIVATE KEY-----" }', /temporal\.tls\.clientKey/],
    ['a current key that is not listed', '  payloadCodec: { currentKeyId: k9, keys: [ { id: k1, key: { env: K1 } } ] }', /temporal\.payloadCodec\.currentKeyId/],
    ['a duplicated key id', '  payloadCodec: { currentKeyId: k1, keys: [ { id: k1, key: { env: K1 } }, { id: k1, key: { env: K2 } } ] }', /temporal\.payloadCodec\.keys: key ids must be unique/],
    ['an unknown TLS field', '  tls: { insecure: true }', /temporal\.tls/],
  ];
  for (const [what, text, field] of bad) {
    it(`names the field for ${what}`, () => {
      assert.throws(() => parseConfig(withTemporal(text), 'x.yaml', {}), (err: unknown) => err instanceof ConfigError && field.test(err.message));
    });
  }

  it('resolves the references and names the field whose secret is missing or malformed', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-tlsunit-'));
    writeFileSync(path.join(dir, 'not-pem'), 'hello');
    const c = parseConfig(withTemporal(`  tls: { serverCa: { file: ${dir}/not-pem } }\n  apiKey: { env: MY_KEY }`), 'x.yaml', {});
    assert.throws(() => temporalConnectionOptions(c, { MY_KEY: 'k' }), (e: unknown) => e instanceof TemporalConnectionError && /temporal\.tls\.serverCa: not a PEM certificate/.test((e as Error).message));
    delete c.temporal.tls;
    assert.throws(() => temporalConnectionOptions(c, {}), (e: unknown) => e instanceof TemporalConnectionError && /temporal\.apiKey: the environment variable MY_KEY is not set/.test((e as Error).message));
    assert.equal(temporalConnectionOptions(c, { MY_KEY: 'abc\n' }).apiKey, 'abc');
  });

  it('refuses a codec key that is not 32 bytes, naming the field', () => {
    const c = parseConfig(withTemporal('  payloadCodec: { currentKeyId: k1, keys: [ { id: k1, key: { env: K1 } } ] }'), 'x.yaml', {});
    assert.throws(() => payloadCodecFor(c, { K1: randomBytes(16).toString('base64') }), /temporal\.payloadCodec\.keys\.0\.key \(id k1\): holds 16 bytes/);
    assert.ok(payloadCodecFor(c, { K1: randomBytes(32).toString('base64') }));
  });

  it('leaves steward dev unchanged: no TLS, no key', () => {
    const c = parseConfig(withTemporal('  address: 127.0.0.1:7233'), 'x.yaml', {});
    assert.deepEqual(temporalConnectionOptions(c, {}), { address: '127.0.0.1:7233' });
  });
});

describe('AES-256-GCM payload codec', () => {
  const k1 = { id: 'k1', key: randomBytes(32) };
  const k2 = { id: 'k2', key: randomBytes(32) };
  const payload = defaultPayloadConverter.toPayload({ title: 'Raise the overdraft limit', sql: 'ALTER TABLE ledger ADD x int' });

  it('seals with the current key: no clear text, the key id in the metadata, a fresh nonce each time', async () => {
    const codec = new AesGcmPayloadCodec([k1], 'k1');
    const [a] = await codec.encode([payload]);
    const [b] = await codec.encode([payload]);
    assert.equal(Buffer.from(a!.metadata!.encoding!).toString(), ENCRYPTED_ENCODING);
    assert.equal(Buffer.from(a!.metadata!['encryption-key-id']!).toString(), 'k1');
    assert.ok(!Buffer.from(a!.data!).toString('latin1').includes('overdraft'));
    assert.notDeepEqual(a!.data, b!.data);
    const [back] = await codec.decode([a!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(back!), { title: 'Raise the overdraft limit', sql: 'ALTER TABLE ledger ADD x int' });
  });

  it('rotates: sealed with k1, opened after k2 became current; a dropped key is named', async () => {
    const [old] = await new AesGcmPayloadCodec([k1], 'k1').encode([payload]);
    const rotated = new AesGcmPayloadCodec([k1, k2], 'k2');
    assert.deepEqual(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!), defaultPayloadConverter.fromPayload(payload));
    const [fresh] = await rotated.encode([payload]);
    assert.equal(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString(), 'k2');
    await assert.rejects(new AesGcmPayloadCodec([k2], 'k2').decode([old!]), (e: unknown) => e instanceof PayloadCodecError && /key id "k1"/.test((e as Error).message));
  });

  it('refuses a tampered payload or a relabelled key id', async () => {
    const codec = new AesGcmPayloadCodec([k1, { id: 'k1b', key: k1.key }], 'k1');
    const [sealed] = await codec.encode([payload]);
    const data = Buffer.from(sealed!.data!);
    data[20] = data[20]! ^ 1;
    await assert.rejects(codec.decode([{ ...sealed!, data }]), /failed authentication/);
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, 'encryption-key-id': Buffer.from('k1b') } };
    await assert.rejects(codec.decode([relabelled]), /failed authentication/);
  });

  it('passes through payloads written before the codec was on', async () => {
    const codec = new AesGcmPayloadCodec([k1], 'k1');
    assert.deepEqual(await codec.decode([payload]), [payload]);
  });
});
