// Repo credentials by secret reference: the config takes a user name and a token *reference*; the git commands carry
// the helper (which names the variable, never the value) and read the token from stdin. The shell text is run here
// by a real sh with a fake `git` on PATH that prints what it was given, so the token's path is checked end to end.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pushTag } from '../../src/commands/git';
import { CREDENTIAL_HELPER, credentialOptions, withRepoToken } from '../../src/commands/repo-access';
import { ensureMirror, fetchMirror, releasePaths } from '../../src/commands/release';
import { cmd, toShell, UnsafeArgumentError } from '../../src/commands/shell';
import { parseConfig } from '../../src/config/load';

const p = releasePaths('/srv/app', 'r1');
const REPO = 'https://git.bank.example/payments/app.git';
const access = { username: 'x-access-token' };
const helperOpts = ['-c', 'credential.helper=', '-c', `credential.helper=${CREDENTIAL_HELPER}`];

describe('repo access commands', () => {
  it('fetch: the helper options, the URL, and the token over stdin', () => {
    assert.deepEqual(fetchMirror(p, REPO, access), {
      kind: 'secretStdin',
      envName: 'STEWARD_GIT_TOKEN',
      command: {
        kind: 'argv',
        argv: ['git', '--git-dir', '/srv/app/repo.git', ...helperOpts, 'fetch', '--quiet', '--prune', '--', REPO, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'],
        env: { STEWARD_GIT_USERNAME: 'x-access-token', GIT_TERMINAL_PROMPT: '0' },
      },
    });
  });

  it('without credentials the commands are plain (no helper, no stdin)', () => {
    assert.deepEqual(fetchMirror(p, REPO), cmd(['git', '--git-dir', '/srv/app/repo.git', 'fetch', '--quiet', '--prune', '--', REPO, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']));
    assert.deepEqual(ensureMirror(p, REPO), cmd(['sh', '-c', 'test -d "$1" || git clone --quiet --mirror -- "$2" "$1"', 'ensure-mirror', p.mirror, REPO]));
    assert.deepEqual(credentialOptions(undefined), []);
  });

  it('clone and tag push carry the same helper; a user name that is not plain is refused', () => {
    const clone = ensureMirror(p, REPO, access);
    assert.equal(clone.kind, 'secretStdin');
    assert.match(toShell(clone), /^IFS= read -r STEWARD_GIT_TOKEN && export STEWARD_GIT_TOKEN && \( STEWARD_GIT_USERNAME=x-access-token GIT_TERMINAL_PROMPT=0 sh -c /);
    assert.ok(toShell(pushTag(p.mirror, REPO, 'v1.2.3', access)).includes("'credential.helper=!f() {"));
    assert.throws(() => withRepoToken(cmd(['git', 'fetch']), { username: 'a b' }), UnsafeArgumentError);
    assert.throws(() => withRepoToken(cmd(['git', 'fetch']), { username: '$(id)' }), UnsafeArgumentError);
  });

  it('a real sh hands the token from stdin to git through the helper, and it is in no argument', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-repo-access-'));
    // A stand-in for git that runs the helper given with -c the way git does (sh -c "<helper> get") and prints its argv.
    writeFileSync(
      path.join(dir, 'git'),
      `#!/bin/sh\nprintf 'ARGV:%s\\n' "$*"\nhelper=""\nwhile [ $# -gt 0 ]; do case "$1" in -c) case "$2" in credential.helper=!*) helper="\${2#credential.helper=!}";; esac; shift 2;; *) shift;; esac; done\nsh -c "$helper \\"\\$@\\"" helper get\n`,
    );
    chmodSync(path.join(dir, 'git'), 0o755);
    const token = 'tok_9f8e7d6c5b4a39281706';
    const r = spawnSync('sh', ['-c', toShell(fetchMirror(p, REPO, access))], { input: `${token}\n`, encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
    assert.equal(r.status, 0, r.stderr);
    const argvLine = r.stdout.split('\n').find((l) => l.startsWith('ARGV:'))!;
    assert.ok(argvLine.includes(REPO) && argvLine.includes('credential.helper=!f()'), argvLine);
    assert.ok(!argvLine.includes(token), 'the token is not an argument');
    assert.ok(!toShell(fetchMirror(p, REPO, access)).includes(token));
    assert.match(r.stdout, new RegExp(`username=x-access-token\\npassword=${token}\\n`));
  });
});

const CONFIG = (app: string) => `
temporal: { address: 127.0.0.1:7233 }
environments:
  production:
    hosts:
      - { name: prod-1, address: 10.0.0.5, user: deploy, privateKey: { file: /etc/steward/key }, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVy" }
    app: { ${app}, deployRoot: /srv/app, baseUrl: "http://10.0.0.5:8000" }
    database: { name: banking, url: { env: PROD_DB_URL }, backupDir: /var/backups/banking }
`;

describe('app.repoCredentials in the config', () => {
  it('takes a user name and a token by secret reference', () => {
    const c = parseConfig(CONFIG(`repo: "${REPO}", repoCredentials: { username: deployer, token: { env: STEWARD_GIT_TOKEN_PROD } }`), 'x.yaml', {});
    assert.deepEqual(c.environments.production!.app.repoCredentials, { username: 'deployer', token: { env: 'STEWARD_GIT_TOKEN_PROD' } });
  });

  it('refuses a token given in clear, credentials for an ssh repo, and credentials in the URL', () => {
    assert.throws(() => parseConfig(CONFIG(`repo: "${REPO}", repoCredentials: { username: deployer, token: ghp_abcdefabcdefabcdef }`), 'x.yaml', {}), /app\.repoCredentials\.token/);
    assert.throws(() => parseConfig(CONFIG(`repo: "ssh://git@git.bank/app.git", repoCredentials: { username: deployer, token: { env: T_OK } }`), 'x.yaml', {}), /app\.repoCredentials: .*only for an http\(s\):\/\/ repo/);
    assert.throws(() => parseConfig(CONFIG('repo: "https://deployer:pw@git.bank/app.git"'), 'x.yaml', {}), /app\.repo: must not hold credentials.*repoCredentials/);
  });
});
