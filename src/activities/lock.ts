// Asks an environment's lock workflow for the lock, starting it when it is not running (signal-with-start).
import type { Client } from '@temporalio/client';
import type { StewardConfig } from '../config/schema';
import { connectTemporal } from '../temporal/connection';

export function createLockActivities(deps: { config: StewardConfig; temporal: () => Promise<Client> }) {
  return {
    async requestEnvironmentLock(input: { environment: string; requester: string; lockWorkflowId: string }): Promise<void> {
      const client = await deps.temporal();
      await client.workflow.signalWithStart('environmentLock', {
        workflowId: input.lockWorkflowId,
        taskQueue: deps.config.temporal.taskQueue,
        args: [{ environment: input.environment }],
        signal: 'acquire',
        signalArgs: [{ requester: input.requester }],
        staticSummary: `Deployment lock for ${input.environment}`,
      });
    },
  };
}

export function lazyClient(config: StewardConfig): { get: () => Promise<Client>; close: () => Promise<void> } {
  let client: Promise<Client> | undefined;
  return {
    get() {
      client ??= connectTemporal(config);
      return client;
    },
    async close() {
      if (client) await (await client).connection.close();
    },
  };
}
