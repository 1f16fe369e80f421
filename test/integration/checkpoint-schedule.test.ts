// The audit checkpoint schedule, created by every worker as it starts: two workers starting together leave one
// schedule, and a worker whose config changed the interval brings the schedule to it (real dev server).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { ensureCheckpointSchedule } from '../../src/workers/worker';
import { devConfig } from '../helpers/stack';

describe('audit checkpoint schedule with several workers (real dev server)', () => {
  const config = devConfig(`cp-sched-${process.pid}`);
  config.audit = { ...config.audit!, checkpoints: { key: { env: 'UNUSED_HERE' }, publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVy', dir: '/tmp', everyMinutes: 15 } };
  let connection: Connection | undefined;
  let client: Client;
  let id: string | undefined;
  after(async () => {
    if (id) await client.schedule.getHandle(id).delete().catch(() => undefined);
    await connection?.close();
  });

  it('two workers starting together leave one schedule; a changed interval is followed', async () => {
    connection = await Connection.connect({ address: config.temporal.address });
    client = new Client({ connection, namespace: config.temporal.namespace });
    const [a, b] = await Promise.all([ensureCheckpointSchedule(config, client), ensureCheckpointSchedule(config, client)]);
    id = a;
    assert.equal(a, b);
    assert.equal(a, `steward-audit-checkpoint@${config.temporal.taskQueue}`);
    const first = await client.schedule.getHandle(a!).describe();
    assert.equal(Number(first.spec.intervals?.[0]?.every), 15 * 60_000);
    const changed = structuredClone(config);
    changed.audit!.checkpoints!.everyMinutes = 5;
    assert.equal(await ensureCheckpointSchedule(changed, client), a);
    const now = await client.schedule.getHandle(a!).describe();
    assert.equal(Number(now.spec.intervals?.[0]?.every), 5 * 60_000);
    assert.equal(now.action.type, 'startWorkflow');
  });
});
