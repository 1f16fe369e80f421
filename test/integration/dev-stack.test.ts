// `steward dev up | status | down` on a second, throwaway stack (own home and ports), so the shared one keeps running.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { devLayout } from '../../src/dev/paths';
import { isAlive, readPid } from '../../src/dev/processes';
import { down, status, up } from '../../src/dev/stack';

describe('the local stack lifecycle (real processes)', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'steward-stack-'));
  // mktemp's 0700 as it is: as root, `up` makes the dirs PostgreSQL's user must walk through traversable.
  const env = { ...process.env, STEWARD_HOME: home, STEWARD_PORT_OFFSET: '3000', STEWARD_CONFIG: path.join(home, 'steward.config.yaml') };
  after(async () => {
    await down(() => undefined, env);
    rmSync(home, { recursive: true, force: true });
  });

  it('up starts every part, writes a valid config, and a second up is harmless', async () => {
    const first = await up(() => undefined, env);
    assert.deepEqual(first.map((p) => [p.part, p.ready]), [['temporal', true], ['postgres', true], ['sshd-staging', true], ['sshd-production', true], ['sshd-production-2', true]]);
    const pids = first.map((p) => p.pid);
    const second = await up(() => undefined, env);
    assert.deepEqual(second.map((p) => p.pid), pids, 'the same processes, not new ones');
    const config = parseConfig(readFileSync(env.STEWARD_CONFIG, 'utf8'));
    assert.equal(config.temporal.address, '127.0.0.1:10233');
    assert.match(config.environments.production!.hosts[0]!.hostKey, /^ssh-ed25519 /);
    assert.deepEqual(config.environments.production!.hosts.map((h) => [h.name, h.roles]), [['production-1', ['web', 'primary']], ['production-2', ['web']]]);
    const text = readFileSync(env.STEWARD_CONFIG, 'utf8');
    assert.ok(!/BEGIN OPENSSH PRIVATE KEY/.test(text) && !/postgres:\/\//.test(text), 'no secret in the config file');
  });

  it('status reports each part and down stops exactly those processes', async () => {
    const parts = await status(env);
    assert.ok(parts.every((p) => p.ready), JSON.stringify(parts));
    const pids = parts.map((p) => p.pid!);
    const result = await down(() => undefined, env);
    assert.deepEqual(result.filter((r) => r.result === 'stopped').map((r) => r.part).sort(), ['postgres', 'sshd-production', 'sshd-production-2', 'sshd-staging', 'temporal']);
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} still running`);
    const layout = devLayout(env);
    assert.equal(readPid(path.join(layout.pids, 'temporal.pid')), undefined);
    assert.ok(existsSync(layout.temporalDb), 'Temporal history file kept for the next up');
    const after = await status(env);
    assert.ok(after.every((p) => !p.running));
  });
});
