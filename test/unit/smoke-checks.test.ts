// Smoke checks declared in the config: validation naming the field, and the judging of each kind against a
// small HTTP server that behaves like Django (csrftoken cookie, csrfmiddlewaretoken, a collectstatic manifest).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { HttpSession } from '../../src/activities/http/client';
import { checkWrites, jsonField, manifestFiles, runDeclaredCheck, SmokeFailure } from '../../src/activities/http/smoke-checks';
import { runSmoke } from '../../src/activities/http/smoke';
import { ConfigError, parseConfig } from '../../src/config/load';
import type { EnvironmentConfig, SmokeCheckConfig } from '../../src/config/schema';

const withChecks = (checks: string, extra = '') => `
environments:
  production:
    hosts:
      - { name: prod-1, address: 10.0.0.5, user: deploy, privateKey: { file: /etc/steward/key }, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVy" }
    app: { repo: /srv/git/app.git, deployRoot: /srv/app, baseUrl: "http://127.0.0.1:1", smokeChecklist: none, smokeChecks: ${checks}${extra} }
    database: { name: banking, url: { env: PROD_DB_URL }, backupDir: /var/backups/banking }
`;
const envOf = (checks: string, extra = '') => parseConfig(withChecks(checks, extra), 'x.yaml', {}).environments.production!;
const checksOf = (checks: string) => envOf(checks).app.smokeChecks;
const fails = (checks: string, re: RegExp) =>
  assert.throws(() => parseConfig(withChecks(checks), 'x.yaml', {}), (e: unknown) => e instanceof ConfigError && re.test(e.message), re.source);

describe('smoke checks: config', () => {
  it('a check without a kind is a page check (the older form keeps working)', () => {
    assert.deepEqual(checksOf('[{ name: lines, path: /lines/, expectText: ok }]'), [{ name: 'lines', kind: 'page', path: '/lines/', expectStatus: 200, expectText: 'ok' }]);
  });
  it('takes every kind with its defaults', () => {
    const c = checksOf(`[
      { name: db, kind: json, path: /healthz, field: db, equals: ok },
      { name: login, kind: login, username: smoke-maker, password: { env: SMOKE_PW } },
      { name: assets, kind: static },
      { name: no-500, kind: no-server-errors, paths: [/a/, /b/] },
      { name: deposit, kind: form, path: /deposits/new/, fields: { account: "2000-0001", amount: "1.00" }, expectLocation: /deposits/ } ]`);
    assert.deepEqual(c.map((x) => x.kind), ['json', 'login', 'static', 'no-server-errors', 'form']);
    assert.deepEqual(c[1], { name: 'login', kind: 'login', path: '/login/', username: 'smoke-maker', password: { env: 'SMOKE_PW' }, usernameField: 'username', passwordField: 'password' });
    assert.deepEqual(c[2], { name: 'assets', kind: 'static', staticUrl: '/static/', manifest: 'staticfiles.json', max: 20 });
    assert.equal((c[4] as { expectStatus: number }).expectStatus, 302);
    assert.deepEqual(c.map(checkWrites), [false, false, false, false, true], 'a form POST always writes');
  });
  it('names the field of each mistake', () => {
    fails('[{ name: x, kind: jsn, path: /a }]', /smokeChecks\.0\.kind: kind must be one of page, json, login, static, no-server-errors, form/);
    fails('[{ name: x, kind: json, path: /a, field: "a b", equals: 1 }]', /smokeChecks\.0\.field: a dotted path/);
    fails('[{ name: x, kind: json, path: /a, field: a }]', /smokeChecks\.0\.equals/);
    fails('[{ name: x, kind: json, path: a, field: a, equals: 1 }]', /smokeChecks\.0\.path: a URL path starting with "\/"/);
    fails('[{ name: x, kind: login, username: u, password: hunter2 }]', /smokeChecks\.0\.password/);
    fails('[{ name: x, kind: no-server-errors, paths: [] }]', /smokeChecks\.0\.paths: list the pages/);
    fails('[{ name: x, kind: static, files: ["../etc/passwd"] }]', /smokeChecks\.0\.files\.0: a static file name/);
    fails('[{ name: x, kind: page, path: /a, expectStatus: 99 }]', /smokeChecks\.0\.expectStatus/);
    fails('[{ name: x, kind: page, path: /a, method: POST }]', /smokeChecks\.0/);
  });
});

describe('smoke checks: pure judging', () => {
  it('jsonField follows dotted paths and array indexes', () => {
    const v = { db: 'ok', data: { items: [{ status: 'open' }, { status: 0 }] }, n: null };
    assert.equal(jsonField(v, 'db'), 'ok');
    assert.equal(jsonField(v, 'data.items.1.status'), 0);
    assert.equal(jsonField(v, 'n'), null);
    assert.equal(jsonField(v, 'data.items.2.status'), undefined);
    assert.equal(jsonField(v, 'db.length'), undefined, 'no property of a string');
    assert.equal(jsonField(v, 'constructor'), undefined, 'only own fields');
  });
  it('manifestFiles maps source names to the hashed names, and refuses what is not in it', () => {
    const m = JSON.stringify({ paths: { 'css/app.css': 'css/app.1a2b.css', 'js/a.js': 'js/a.9f.js' }, version: '1.1' });
    assert.deepEqual(manifestFiles(m, undefined, 1), [{ source: 'css/app.css', hashed: 'css/app.1a2b.css' }]);
    assert.deepEqual(manifestFiles(m, ['js/a.js'], 20), [{ source: 'js/a.js', hashed: 'js/a.9f.js' }]);
    assert.throws(() => manifestFiles(m, ['img/x.png'], 20), (e: unknown) => e instanceof SmokeFailure && /does not list img\/x\.png/.test(e.message));
    assert.throws(() => manifestFiles('<html>', undefined, 20), /not JSON/);
    assert.throws(() => manifestFiles(JSON.stringify({ paths: { a: '../../etc/passwd' } }), undefined, 20), /does not list a/);
  });
});

// A Django-like server: a CSRF-protected login form, a JSON health page, a collectstatic manifest, a 500 page.
let server: Server;
let base = '';
const posted: string[] = [];
before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const cookies = Object.fromEntries((req.headers.cookie ?? '').split(/;\s*/).filter(Boolean).map((c) => c.split('=') as [string, string]));
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const send = (status: number, text: string, headers: Record<string, string | string[]> = {}) => {
        res.writeHead(status, headers);
        res.end(text);
      };
      if (url.pathname === '/healthz') return send(200, JSON.stringify({ db: 'ok', checks: [{ ok: true }] }), { 'content-type': 'application/json' });
      if (url.pathname === '/login/' && req.method === 'GET') return send(200, '<form>', { 'set-cookie': 'csrftoken=tok123; Path=/' });
      if (url.pathname === '/login/' && req.method === 'POST') {
        if (form.get('csrfmiddlewaretoken') !== cookies.csrftoken || !cookies.csrftoken) return send(403, 'CSRF verification failed');
        if (form.get('username') === 'maker' && form.get('password') === 's3cret-pw') return send(302, '', { location: '/dashboard/', 'set-cookie': 'sessionid=abc; Path=/' });
        return send(200, 'bad credentials');
      }
      if (url.pathname === '/dashboard/') return cookies.sessionid === 'abc' ? send(200, 'hello maker') : send(302, '', { location: '/login/' });
      if (url.pathname === '/static/staticfiles.json') return send(200, JSON.stringify({ paths: { 'css/app.css': 'css/app.abc.css', 'js/gone.js': 'js/gone.0.js' } }));
      if (url.pathname === '/static/css/app.abc.css') return send(200, 'body{}');
      if (url.pathname === '/boom/') return send(500, 'Server Error');
      if (url.pathname === '/deposits/new/' && req.method === 'POST') {
        posted.push(body);
        return send(302, '', { location: '/deposits/7/' });
      }
      if (url.pathname === '/deposits/new/') return send(200, '<form>', { 'set-cookie': 'csrftoken=tok123; Path=/' });
      return send(404, 'not found');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const one = (yaml: string): SmokeCheckConfig => checksOf(`[${yaml}]`)[0]!;
const outcome = (s: HttpSession, c: SmokeCheckConfig) =>
  runDeclaredCheck(s, c).then(
    (d) => ({ ok: true, d }),
    (e: Error) => ({ ok: false, d: e.message }),
  );

describe('smoke checks: against an HTTP server', () => {
  it('json: passes on the expected value, fails naming the field and what it found', async () => {
    const s = new HttpSession(base);
    assert.deepEqual(await outcome(s, one('{ name: a, kind: json, path: /healthz, field: db, equals: ok }')), { ok: true, d: 'db = "ok"' });
    assert.deepEqual(await outcome(s, one('{ name: a, kind: json, path: /healthz, field: checks.0.ok, equals: true }')), { ok: true, d: 'checks.0.ok = true' });
    assert.deepEqual(await outcome(s, one('{ name: a, kind: json, path: /healthz, field: db, equals: "down" }')), { ok: false, d: 'GET /healthz: db is "ok", expected "down"' });
    assert.deepEqual(await outcome(s, one('{ name: a, kind: json, path: /healthz, field: cache, equals: ok }')), { ok: false, d: 'GET /healthz: cache is absent, expected "ok"' });
    assert.match((await outcome(s, one('{ name: a, kind: json, path: /login/, field: db, equals: ok }'))).d, /is not JSON/);
  });
  it('login: the CSRF handshake, then the session is logged in; a wrong password is sent back', async () => {
    process.env.SMOKE_TEST_PW = 's3cret-pw';
    const s = new HttpSession(base);
    assert.equal((await outcome(s, one('{ name: d, path: /dashboard/, expectStatus: 302 }'))).ok, true, 'not logged in yet: sent to the login page');
    const ok = await outcome(s, one('{ name: l, kind: login, username: maker, password: { env: SMOKE_TEST_PW } }'));
    assert.deepEqual(ok, { ok: true, d: 'maker logged in (to /dashboard/)' });
    assert.equal((await outcome(s, one('{ name: d, path: /dashboard/, expectText: hello maker }'))).ok, true, 'later checks run logged in');
    process.env.SMOKE_TEST_PW = 'wrong';
    const bad = await outcome(new HttpSession(base), one('{ name: l, kind: login, username: maker, password: { env: SMOKE_TEST_PW } }'));
    assert.deepEqual(bad, { ok: false, d: 'login of maker answered 200, expected a redirect' });
    assert.ok(!bad.d.includes('wrong') && !ok.d.includes('s3cret'), 'no password in a detail');
    delete process.env.SMOKE_TEST_PW;
  });
  it('login: a session without the CSRF token is refused by the app, and the check says why', async () => {
    process.env.SMOKE_TEST_PW = 's3cret-pw';
    const r = await outcome(new HttpSession(base), one('{ name: l, kind: login, path: /dashboard/, username: maker, password: { env: SMOKE_TEST_PW } }'));
    assert.deepEqual(r, { ok: false, d: 'GET /dashboard/ (the login form) answered 302' });
    delete process.env.SMOKE_TEST_PW;
  });
  it('static: every listed manifest file is served under its hashed name', async () => {
    const s = new HttpSession(base);
    assert.deepEqual(await outcome(s, one('{ name: s, kind: static, files: [css/app.css] }')), { ok: true, d: '1 files of staticfiles.json served' });
    assert.deepEqual(await outcome(s, one('{ name: s, kind: static }')), { ok: false, d: 'static file js/gone.js (/static/js/gone.0.js) answered 404' });
    assert.deepEqual(await outcome(s, one('{ name: s, kind: static, staticUrl: /assets/ }')), { ok: false, d: 'GET /assets/staticfiles.json (the collectstatic manifest) answered 404' });
  });
  it('no-server-errors: a 404 is not a server error, a 500 is', async () => {
    const s = new HttpSession(base);
    assert.deepEqual(await outcome(s, one('{ name: n, kind: no-server-errors, paths: [/healthz, /nothing/] }')), { ok: true, d: '2 pages without a server error' });
    assert.deepEqual(await outcome(s, one('{ name: n, kind: no-server-errors, paths: [/healthz, /boom/] }')), { ok: false, d: 'GET /boom/ answered 500' });
  });
  it('form: posts the fields with the CSRF token and checks where it redirects', async () => {
    const s = new HttpSession(base);
    const r = await outcome(s, one('{ name: f, kind: form, path: /deposits/new/, fields: { amount: "1.00", account: ["a", "b"] }, expectLocation: /deposits/ }'));
    assert.deepEqual(r, { ok: true, d: 'POST /deposits/new/ answered 302 → /deposits/7/' });
    assert.equal(posted.at(-1), 'amount=1.00&account=a&account=b&csrfmiddlewaretoken=tok123');
    const wrong = await outcome(s, one('{ name: f, kind: form, path: /deposits/new/, fields: { a: "1" }, expectLocation: /journal/ }'));
    assert.deepEqual(wrong, { ok: false, d: 'POST /deposits/new/ went to /deposits/7/, expected /journal/…' });
  });
});

describe('smoke checks: production is read-only unless the config allows writes', () => {
  const checks = `[{ name: health-db, kind: json, path: /healthz, field: db, equals: ok },
                   { name: deposit, kind: form, path: /deposits/new/, fields: { amount: "1.00" } },
                   { name: marked, kind: no-server-errors, paths: [/healthz], writes: true }]`;
  const at = (env: EnvironmentConfig): EnvironmentConfig => ({ ...env, app: { ...env.app, baseUrl: base, health: { path: '/healthz', expectText: 'ok' } } });
  it('production without smokeWrites: the writing checks are not run, and marked so', async () => {
    const before = posted.length;
    const r = await runSmoke(at(envOf(checks)), { staging: false });
    assert.equal(r.ok, true);
    assert.deepEqual(
      r.checks.map((c) => [c.name, c.ok, !!c.writes, !!c.skipped]),
      [['health', true, false, false], ['health-db', true, false, false], ['deposit', true, true, true], ['marked', true, true, true]],
    );
    assert.match(r.checks[2]!.detail, /not run: it writes/);
    assert.equal(posted.length, before, 'nothing was posted');
  });
  it('with smokeWrites: smoke-tenant (or in staging) they run, and are marked as writes', async () => {
    for (const [env, staging] of [[envOf(checks, ', smokeWrites: smoke-tenant'), false], [envOf(checks), true]] as const) {
      const before = posted.length;
      const r = await runSmoke(at(env), { staging });
      assert.deepEqual(r.checks.map((c) => [c.name, c.ok, !!c.writes, !!c.skipped]).slice(2), [['deposit', true, true, false], ['marked', true, true, false]]);
      assert.equal(posted.length, before + 1);
    }
  });
  it('a failing declared check fails the smoke test', async () => {
    const r = await runSmoke(at(envOf('[{ name: no-500, kind: no-server-errors, paths: [/boom/] }]')), { staging: false });
    assert.equal(r.ok, false);
    assert.deepEqual(r.checks.at(-1), { name: 'no-500', ok: false, ms: r.checks.at(-1)!.ms, detail: 'GET /boom/ answered 500' });
  });
});
