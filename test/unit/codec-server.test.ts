// The codec server's access check: a token per person (codecServer.readers), compared in constant time; CORS for
// the configured UI origin only; every answered call reported by person, with no payload content; a decode that
// cannot be recorded is not answered. A real HTTP server on a loopback port, called with fetch.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { codecCallLine, codecReaders } from '../../src/client/codec-server';
import { parseConfig } from '../../src/config/load';
import { AesGcmPayloadCodec, payloadFromJson, payloadToJson } from '../../src/temporal/codec';
import { codecRequestHandler, readerFor, type CodecCall } from '../../src/temporal/codec-server';

const UI = 'https://temporal-ui.bank.example';
const CAROL = randomBytes(24).toString('hex');
const DAVE = randomBytes(24).toString('hex');
const SECRET_TEXT = 'Raise the overdraft limit of tenant 7';

describe('codec server access check (real HTTP)', () => {
  const codec = new AesGcmPayloadCodec([{ id: 'k1', key: randomBytes(32) }], 'k1');
  const calls: CodecCall[] = [];
  let failRecording = false;
  let server: http.Server;
  let base: string;
  let sealed: unknown;

  before(async () => {
    server = http.createServer(
      codecRequestHandler({
        codec,
        uiOrigin: UI,
        readers: [
          { person: 'carol', token: CAROL },
          { person: 'dave', token: DAVE },
        ],
        onCall: (c) => {
          if (failRecording) throw new Error('audit store down');
          calls.push(c);
        },
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sealed = payloadToJson((await codec.encode([defaultPayloadConverter.toPayload({ title: SECRET_TEXT })]))[0]!);
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const decode = (path: string, headers: Record<string, string>) =>
    fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify({ payloads: [sealed] }), headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers } });

  it("decodes for carol with her bearer token, and reports the call under her id without content", async () => {
    calls.length = 0;
    const r = await decode('/decode', { origin: UI, authorization: `Bearer ${CAROL}` });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), UI);
    const body = (await r.json()) as { payloads: unknown[] };
    assert.deepEqual(defaultPayloadConverter.fromPayload(payloadFromJson(body.payloads[0])), { title: SECRET_TEXT });
    assert.deepEqual(calls, [{ person: 'carol', op: 'decode', payloads: 1, keyIds: ['k1'], namespace: 'default', origin: UI }]);
    const line = codecCallLine(calls[0]!);
    assert.equal(line, 'codec-server: decode by carol: 1 payload(s), keys k1, namespace default');
    assert.ok(!line.includes(SECRET_TEXT) && !line.includes(CAROL));
  });

  it("dave's token as the endpoint's first path segment (the Web UI's per-browser setting) is dave's", async () => {
    calls.length = 0;
    const r = await decode(`/${DAVE}/decode`, { origin: UI });
    assert.equal(r.status, 200);
    assert.equal(calls[0]?.person, 'dave');
  });

  it('refuses a missing, unknown, truncated or extended token (401) and reports nothing', async () => {
    calls.length = 0;
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${randomBytes(24).toString('hex')}` }, { authorization: `Bearer ${CAROL.slice(0, -1)}` }, { authorization: `Bearer ${CAROL}x` }, { authorization: CAROL }]) {
      const r = await decode('/decode', { origin: UI, ...headers });
      assert.equal(r.status, 401, JSON.stringify(headers));
    }
    assert.equal((await decode(`/${CAROL.slice(1)}/decode`, { origin: UI })).status, 401);
    assert.deepEqual(calls, []);
  });

  it('CORS: another origin is refused (403) and never gets an allow-origin header; the UI origin passes preflight', async () => {
    const other = await decode('/decode', { origin: 'https://evil.example', authorization: `Bearer ${CAROL}` });
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const pre = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { origin: UI, 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), UI);
    const preOther = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    assert.equal(preOther.status, 403);
  });

  it('a decode that cannot be recorded is not answered (503, no payloads in the answer)', async () => {
    failRecording = true;
    try {
      const r = await decode('/decode', { origin: UI, authorization: `Bearer ${CAROL}` });
      assert.equal(r.status, 503);
      const text = await r.text();
      assert.ok(!text.includes('payloads') && !text.includes(SECRET_TEXT), text);
    } finally {
      failRecording = false;
    }
  });

  it('readerFor compares whole tokens (any length) and finds the right person', () => {
    const readers = [{ person: 'carol', token: 'abcdef123456' }, { person: 'dave', token: 'abcdef1234567' }];
    assert.equal(readerFor('abcdef1234567', readers)?.person, 'dave');
    assert.equal(readerFor('abcdef123456', readers)?.person, 'carol');
    assert.equal(readerFor('abcdef12345', readers), undefined);
    assert.equal(readerFor(undefined, readers), undefined);
  });
});

const CONFIG = (codecServer: string) => `
temporal:
  payloadCodec: { currentKeyId: k1, keys: [ { id: k1, key: { env: K1 } } ] }
  codecServer: ${codecServer}
policy:
  people:
    - { id: carol, name: Carol, roles: [approver] }
environments:
  production:
    hosts:
      - { name: prod-1, address: 10.0.0.5, user: deploy, privateKey: { file: /etc/steward/key }, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVy" }
    app: { repo: /srv/git/app.git, deployRoot: /srv/app, baseUrl: "http://10.0.0.5:8000" }
    database: { name: banking, url: { env: PROD_DB_URL }, backupDir: /var/backups/banking }
`;

describe('codecServer.readers in the config', () => {
  it('takes a token per person by secret reference and resolves them for policy people only', () => {
    process.env.STEWARD_TEST_CODEC_CAROL = CAROL;
    const c = parseConfig(CONFIG('{ uiOrigin: "https://ui.bank.example", readers: [ { person: carol, token: { env: STEWARD_TEST_CODEC_CAROL } } ] }'), 'x.yaml', {});
    assert.deepEqual(codecReaders(c), [{ person: 'carol', token: CAROL }]);
    const stranger = parseConfig(CONFIG('{ uiOrigin: "https://ui.bank.example", readers: [ { person: mallory, token: { env: STEWARD_TEST_CODEC_CAROL } } ] }'), 'x.yaml', {});
    assert.throws(() => codecReaders(stranger), /temporal\.codecServer\.readers\.0\.person: mallory is not in policy\.people/);
  });

  it('refuses the old shared token, no readers, and a person listed twice, naming the field', () => {
    assert.throws(() => parseConfig(CONFIG('{ uiOrigin: "https://ui.bank.example", accessToken: { env: T } }'), 'x.yaml', {}), /temporal\.codecServer\.accessToken: a shared token is not accepted/);
    assert.throws(() => parseConfig(CONFIG('{ uiOrigin: "https://ui.bank.example" }'), 'x.yaml', {}), /temporal\.codecServer\.readers: list who may decode/);
    assert.throws(
      () => parseConfig(CONFIG('{ uiOrigin: "https://ui.bank.example", readers: [ { person: carol, token: { env: A } }, { person: carol, token: { env: B } } ] }'), 'x.yaml', {}),
      /temporal\.codecServer\.readers\.1\.person: carol is listed twice/,
    );
  });
});
