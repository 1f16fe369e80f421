// Helpers for tests that run against the real local stack (`npm test` starts it, or reuses a running one).
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../src/config/load';
import type { StewardConfig } from '../../src/config/schema';
import { devLayout } from '../../src/dev/paths';
import { startWorker, type RunningWorker } from '../../src/workers/worker';

/** The generated config of the running dev stack, with a task queue of this test's own. */
export function devConfig(taskQueueSuffix = `${process.pid}`): StewardConfig {
  const config = loadConfig(devLayout().configFile);
  config.temporal.taskQueue = `steward-test-${taskQueueSuffix}`;
  return config;
}

export async function withWorkerAndClient<T>(config: StewardConfig, fn: (client: Client, worker: RunningWorker) => Promise<T>): Promise<T> {
  const worker = await startWorker(config, { identity: `test-${process.pid}` });
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  try {
    return await fn(client, worker);
  } finally {
    await connection.close();
    await worker.shutdown();
  }
}
