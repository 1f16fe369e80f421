import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SshPool, HostKeyMismatchError } from '../../src/activities/remote/ssh';
import { pingHost } from '../../src/commands/host';
import { cmd } from '../../src/commands/shell';
import type { PingResult } from '../../src/workflows/ping';
import { devConfig, withWorkerAndClient } from '../helpers/stack';

describe('ping through Temporal and sshd (real stack)', () => {
  it('runs a command on every host through a workflow', async () => {
    const config = devConfig('ping');
    await withWorkerAndClient(config, async (client) => {
      const result = (await client.workflow.execute('ping', {
        taskQueue: config.temporal.taskQueue,
        workflowId: `ping-test-${Date.now()}`,
        args: [{ environments: ['staging', 'production'] }],
      })) as PingResult;
      // Every host of each environment: staging has one, production is a fleet of two on the local stack.
      const expected = ['staging', 'production'].flatMap((e) => config.environments[e]!.hosts.map(() => e));
      assert.deepEqual(result.hosts.map((h) => h.environment), expected);
      assert.ok(expected.filter((e) => e === 'production').length >= 2, 'the local production is a fleet');
      for (const h of result.hosts) {
        assert.ok(h.nodeName.length > 0);
        assert.equal(h.deployRootOk, true, `${h.environment} deploy root`);
      }
    });
  });

  it('refuses a host whose key does not match the pinned key', async () => {
    const config = devConfig();
    const [staging, production] = [config.environments.staging!.hosts[0]!, config.environments.production!.hosts[0]!];
    // The production host's key pinned for the staging address: a man in the middle, as far as we can tell.
    const wrong = { ...staging, hostKey: production.hostKey };
    const pool = new SshPool();
    try {
      await assert.rejects(pool.exec(wrong, pingHost('/')), HostKeyMismatchError);
      const ok = await pool.exec(staging, cmd(['echo', 'pinned']));
      assert.equal(ok.stdout.trim(), 'pinned');
    } finally {
      pool.close();
    }
  });

  it('passes hostile arguments to the host as data, never as shell', async () => {
    const config = devConfig();
    const host = config.environments.staging!.hosts[0]!;
    const pool = new SshPool();
    const canary = `/tmp/steward-canary-${process.pid}`;
    try {
      for (const value of [`$(touch ${canary})`, `; touch ${canary}`, `\`touch ${canary}\``, `x\ntouch ${canary}`, `'; touch ${canary}; '`]) {
        const r = await pool.exec(host, cmd(['printf', '%s', value]));
        assert.equal(r.stdout, value);
      }
      const check = await pool.exec(host, cmd(['test', '-e', canary]), { allowFailure: true });
      assert.notEqual(check.exitCode, 0, 'the canary file must not exist');
    } finally {
      pool.close();
    }
  });
});
