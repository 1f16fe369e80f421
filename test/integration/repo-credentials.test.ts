// Repo credentials by secret reference on the real stack. The staging environment's repo is served over HTTP by git's
// own http-backend behind Basic auth (test/helpers/git-http.ts): a fetch without the token is refused (401), with a
// wrong one too; with app.repoCredentials {username, token: {file}} a worker process deploys a release through it.
// The token is then found in no process's command line while git ran (checked by the server on each authorised
// request), no workflow history (raw or base64-decoded), no worker log line, no audit row, and none of the host's
// files where git or a shell would keep it (the mirror's config, ~/.git-credentials, the global git config, history).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { stringify } from 'yaml';
import { createPolicyActivities } from '../../src/activities/policy';
import { SshPool } from '../../src/activities/remote/ssh';
import { cmd } from '../../src/commands/shell';
import { resolveSecret } from '../../src/config/secrets';
import type { StewardConfig } from '../../src/config/schema';
import { deploy, deployInput } from '../helpers/deploy';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http';
import { devConfig } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-repo-cred-'));
const TOKEN = `tok_${randomBytes(16).toString('hex')}`;
const USER = 'deployer';
const tokenFile = path.join(dir, 'git-token');
writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
const wrongFile = path.join(dir, 'wrong-token');
writeFileSync(wrongFile, `tok_${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });

function withRepo(base: StewardConfig, url: string, token?: string): StewardConfig {
  const config = structuredClone(base);
  const app = config.environments.staging!.app;
  app.repo = url;
  if (token) app.repoCredentials = { username: USER, token: { file: token } };
  else delete app.repoCredentials;
  return config;
}

/** A history as text, with every base64 payload also decoded (the codec is off here, so payloads are JSON). */
function historyText(history: unknown): string {
  const json = JSON.stringify(history, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
  const decoded = [...json.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
  return `${json}\n${decoded.join('\n')}`;
}

describe('repo credentials by secret reference (real stack, HTTP git remote with auth)', () => {
  let server: GitHttpServer;
  let config: StewardConfig;
  let ssh: SshPool;
  let worker: ChildProcess | undefined;
  let workerLog = '';
  let client: Client;
  const base = devConfig(`repo-cred-${process.pid}`);

  before(async () => {
    server = await startGitHttpServer(path.dirname(base.environments.staging!.app.repo), USER, TOKEN);
    config = withRepo(base, server.url(path.basename(base.environments.staging!.app.repo)), tokenFile);
    ssh = new SshPool();
    const connection = await Connection.connect({ address: config.temporal.address });
    client = new Client({ connection, namespace: config.temporal.namespace });
  });
  after(async () => {
    for await (const wf of client.workflow.list({ query: `TaskQueue = "${config.temporal.taskQueue}" AND ExecutionStatus = "Running"` })) {
      await client.workflow.getHandle(wf.workflowId).terminate('repo credentials test over').catch(() => undefined);
    }
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker!.once('exit', r));
    }
    ssh.close();
    await client.connection.close();
    await server.close();
  });

  it('a fetch without the token, or with a wrong one, is refused by the remote', async () => {
    const refusedBefore = server.counts.refused;
    const none = createPolicyActivities({ config: withRepo(base, config.environments.staging!.app.repo), ssh });
    await assert.rejects(none.resolveCommit({ environment: 'staging', gitRef: 'r02-cosmetic' }), /could not read Username|terminal prompts disabled|Authentication failed/);
    const wrong = createPolicyActivities({ config: withRepo(base, config.environments.staging!.app.repo, wrongFile), ssh });
    await assert.rejects(wrong.resolveCommit({ environment: 'staging', gitRef: 'r02-cosmetic' }), /Authentication failed|401|could not read/);
    assert.ok(server.counts.refused > refusedBefore, 'the remote answered 401');
  });

  it('with the token by reference, the commit resolves over HTTP', async () => {
    const servedBefore = server.counts.served;
    const ok = createPolicyActivities({ config, ssh });
    const { commit } = await ok.resolveCommit({ environment: 'staging', gitRef: 'r02-cosmetic' });
    assert.match(commit, /^[0-9a-f]{40}$/);
    assert.ok(server.counts.served > servedBefore, 'git fetched through the authenticated remote');
  });

  it('a worker process deploys a release to staging through the authenticated remote', async () => {
    const configFile = path.join(dir, 'steward.config.yaml');
    writeFileSync(configFile, stringify(config));
    worker = spawn(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), 'worker'], {
      env: { ...process.env, STEWARD_CONFIG: configFile, STEWARD_LOG_LEVEL: 'DEBUG' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (c: Buffer) => (workerLog += c.toString()));
    worker.stderr!.on('data', (c: Buffer) => (workerLog += c.toString()));
    const servedBefore = server.counts.served;
    const record = await deploy(client, config, deployInput({ environment: 'staging', gitRef: 'r02-cosmetic', stagingChecks: false }));
    assert.equal(record.status, 'deployed', JSON.stringify(record.steps));
    assert.ok(server.counts.served > servedBefore, 'the deployment fetched through the authenticated remote');
  });

  it('the token was in no command line while git ran, and is in no history, log or audit row', async () => {
    assert.ok(server.counts.served >= 2);
    assert.deepEqual(server.tokenInArgv, [], 'a process had the token in its command line');
    const ids: string[] = [];
    for await (const wf of client.workflow.list({ query: `TaskQueue = "${config.temporal.taskQueue}"` })) ids.push(wf.workflowId);
    assert.ok(ids.length >= 1, 'the deployment left a history');
    let sawFetch = false;
    for (const id of ids) {
      const text = historyText(await client.workflow.getHandle(id).fetchHistory());
      if (text.includes('prepareRelease')) sawFetch = true;
      assert.ok(!text.includes(TOKEN), `the token is in the history of ${id}`);
    }
    assert.ok(sawFetch, `one of ${ids.join(', ')} is the deployment's history (prepareRelease)`);
    assert.ok(workerLog.length > 0, 'the worker logged');
    assert.ok(!workerLog.includes(TOKEN), 'the token is in the worker log');
    const pool = new Pool({ connectionString: resolveSecret(config.audit!.databaseUrl).reveal(), max: 1 });
    try {
      const rows = (await pool.query('SELECT row_to_json(a)::text AS r FROM audit_event a')).rows as { r: string }[];
      assert.ok(rows.length > 0);
      for (const r of rows) assert.ok(!r.r.includes(TOKEN), 'the token is in an audit row');
    } finally {
      await pool.end();
    }
  });

  it("the token is in none of the host's git config, credential stores or shell history", async () => {
    const host = config.environments.staging!.hosts[0]!;
    const look = await ssh.exec(
      host,
      cmd(['sh', '-c', 'cat -- "$1/repo.git/config" ~/.git-credentials ~/.config/git/credentials ~/.bash_history ~/.sh_history 2>/dev/null; git config --global --list 2>/dev/null; true', 'look', config.environments.staging!.app.deployRoot]),
    );
    assert.match(look.stdout, /\[remote "origin"\]/, "read the mirror's config");
    assert.ok(!look.stdout.includes(TOKEN), "the token is in the host's files");
    assert.ok(!readFileSync(path.join(config.environments.staging!.app.deployRoot, 'repo.git', 'config'), 'utf8').includes(USER + ':'), 'user-info in the mirror URL');
  });
});
