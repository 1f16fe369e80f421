// The Temporal Web UI in a real browser (Debian's Chromium driven by playwright-core) shows a sealed workflow input
// decoded when it can reach `steward codec-server`, and only ciphertext when it cannot. A dev server of the test's own
// runs with --ui-codec-endpoint (the shared dev stack stays as `steward dev` made it); every process is stopped by pid.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { portOffset } from '../../src/dev/paths';
import { ensureTemporalCli } from '../../src/dev/tools';
import { startCodecServer } from '../../src/temporal/codec-server';
import { connectTemporal, payloadCodecFor } from '../../src/temporal/connection';
import { devConfig } from '../helpers/stack';

const o = portOffset();
const PORTS = { frontend: 7283 + o, ui: 8283 + o, http: 7293 + o, metrics: 7303 + o, codec: 7273 + o };
const UI_ORIGIN = `http://127.0.0.1:${PORTS.ui}`;
const TOKEN = randomBytes(16).toString('hex');
const MARKER = `Raise the overdraft ceiling for tenant ${randomBytes(4).toString('hex')}`;
const CHROMIUM = '/usr/bin/chromium';

function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { encoding: 'utf8', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { encoding: 'utf8', env });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { encoding: 'utf8', env });
  }
  if (!existsSync(CHROMIUM)) throw new Error(`cannot install chromium with apt-get: ${r.stderr}`);
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

describe('the Web UI decodes sealed payloads only through the codec server (real browser)', () => {
  const config = devConfig('webui');
  config.temporal.address = `127.0.0.1:${PORTS.frontend}`;
  config.temporal.payloadCodec = { currentKeyId: 'k1', keys: [{ id: 'k1', key: { env: 'STEWARD_TEST_WEBUI_K1' } }] };
  process.env.STEWARD_TEST_WEBUI_K1 = randomBytes(32).toString('base64');
  let server: ChildProcess;
  let browser: Browser;
  let codec: Awaited<ReturnType<typeof startCodecServer>> | undefined;
  const workflowId = `sealed-input-${process.pid}-${Date.now()}`;

  before(async () => {
    ensureChromium();
    const temporal = ensureTemporalCli(() => undefined);
    server = spawn(temporal, ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(PORTS.frontend), '--ui-port', String(PORTS.ui), '--http-port', String(PORTS.http), '--metrics-port', String(PORTS.metrics), '--log-level', 'warn', '--ui-codec-endpoint', `http://127.0.0.1:${PORTS.codec}/${TOKEN}`], { stdio: 'ignore' });
    await waitForHttp(`${UI_ORIGIN}/`, 60_000);
    codec = await startCodecServer({ codec: payloadCodecFor(config)!, listen: `127.0.0.1:${PORTS.codec}`, uiOrigin: UI_ORIGIN, readers: [{ person: 'dave', token: TOKEN }] });
    // No worker polls this queue: the workflow waits, with its sealed input in its first event.
    const client = await connectTemporal(config, { connectTimeout: '30s' });
    try {
      await client.workflow.start('sealedInputProbe', { taskQueue: 'nobody-polls', workflowId, args: [{ title: MARKER }] });
    } finally {
      await client.connection.close();
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  });
  after(async () => {
    await browser?.close();
    await codec?.close();
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
  });

  const pageUrl = () => `${UI_ORIGIN}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;

  it('the codec server refuses a call without the token or from another origin', async () => {
    const body = JSON.stringify({ payloads: [] });
    const noToken = await fetch(`http://127.0.0.1:${PORTS.codec}/decode`, { method: 'POST', body, headers: { origin: UI_ORIGIN } });
    assert.equal(noToken.status, 401);
    const otherOrigin = await fetch(`http://127.0.0.1:${PORTS.codec}/${TOKEN}/decode`, { method: 'POST', body, headers: { origin: 'http://evil.example' } });
    assert.equal(otherOrigin.status, 403);
    const ok = await fetch(`http://127.0.0.1:${PORTS.codec}/decode`, { method: 'POST', body, headers: { origin: UI_ORIGIN, authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), UI_ORIGIN);
  });

  it('shows the decoded input through the codec server', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(pageUrl());
    await page.getByText(MARKER).first().waitFor({ timeout: 45_000 });
    await page.context().close();
  });

  it('shows only ciphertext without it', async () => {
    await codec!.close();
    codec = undefined;
    const page = await (await browser.newContext()).newPage();
    await page.goto(pageUrl());
    await page.getByText(workflowId).first().waitFor({ timeout: 45_000 });
    // Give the page time to try the codec endpoint and render the input as it is.
    await page.getByText(/binary\/encrypted|YmluYXJ5L2VuY3J5cHRlZA/).first().waitFor({ timeout: 45_000 });
    const text = await page.content();
    assert.ok(!text.includes(MARKER), 'the clear input is on the page without the codec server');
    await page.context().close();
  });
});
