import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load';
import { resolveSecret, Secret } from '../../src/config/secrets';
import { inspect } from 'node:util';

const GOOD = `
temporal: { address: 127.0.0.1:7233 }
environments:
  production:
    hosts:
      - { name: prod-1, address: 10.0.0.5, port: 22, user: deploy, privateKey: { file: /etc/steward/key }, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVy" }
    app: { repo: /srv/git/app.git, deployRoot: /srv/app, baseUrl: "http://10.0.0.5:8000" }
    database: { name: banking, url: { env: PROD_DB_URL }, backupDir: /var/backups/banking }
`;

describe('config', () => {
  it('parses a valid config and fills defaults', () => {
    const c = parseConfig(GOOD, 'x.yaml', {});
    assert.equal(c.temporal.taskQueue, 'steward');
    assert.equal(c.environments.production!.app.python, 'python3');
  });

  it('lets TEMPORAL_ADDRESS override the file', () => {
    assert.equal(parseConfig(GOOD, 'x.yaml', { TEMPORAL_ADDRESS: 'temporal:7233' }).temporal.address, 'temporal:7233');
  });

  const bad: [string, string, RegExp][] = [
    ['a relative deploy root', GOOD.replace('deployRoot: /srv/app', 'deployRoot: srv/app'), /environments\.production\.app\.deployRoot/],
    ['a deploy root with ..', GOOD.replace('deployRoot: /srv/app', 'deployRoot: /srv/../etc'), /deployRoot: must not contain/],
    ['an unpinned host key', GOOD.replace(/hostKey: "[^"]+"/, 'hostKey: "yes"'), /hosts\.0\.hostKey/],
    ['a literal secret', GOOD.replace('{ env: PROD_DB_URL }', '"postgres://u:p@h/db"'), /database\.url/],
    ['an unknown field', GOOD.replace('temporal: {', 'temporal: { colour: blue,'), /temporal/],
    ['no environments', 'temporal: {}\nenvironments: {}\n', /environments/],
    ['not YAML', 'environments: [', /not valid YAML/],
    ['a token in the repo URL', GOOD.replace('repo: /srv/git/app.git', 'repo: "https://ghp_x1234567@github.com/bank/app.git"'), /app\.repo: must not hold credentials/],
    ['a password in the repo URL', GOOD.replace('repo: /srv/git/app.git', 'repo: "https://deploy:pw@git.bank/app.git"'), /app\.repo: must not hold credentials/],
  ];
  for (const [what, text, field] of bad) {
    it(`names the field for ${what}`, () => {
      assert.throws(() => parseConfig(text, 'x.yaml', {}), (err: unknown) => err instanceof ConfigError && field.test(err.message));
    });
  }
});

describe('secrets', () => {
  it('never prints the value', () => {
    const s = resolveSecret({ env: 'S' }, { S: 'hunter2' });
    assert.equal(s.reveal(), 'hunter2');
    assert.ok(s instanceof Secret);
    for (const text of [String(s), `${s}`, JSON.stringify({ s }), inspect(s), inspect({ nested: s })]) {
      assert.ok(!text.includes('hunter2'), text);
    }
  });
  it('says what to do when a reference cannot be resolved', () => {
    assert.throws(() => resolveSecret({ env: 'MISSING' }, {}), /MISSING is not set/);
    assert.throws(() => resolveSecret({ file: '/nonexistent/x' }, {}), /cannot read the secret file \/nonexistent\/x/);
  });
});
