// Asks an environment's lock workflow for the lock, starting it when it is not running (signal-with-start).
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { StewardConfig } from '../config/schema';
import { connectTemporal } from '../temporal/connection';

export interface LockPartyInspection {
  open: boolean;
  /** The run's status (RUNNING, COMPLETED, TERMINATED, NOT_FOUND, …). */
  status: string;
  state: 'waiting' | 'holding' | 'released' | 'unknown';
  ticket?: number;
}

export function createLockActivities(deps: { config: StewardConfig; temporal: () => Promise<Client> }) {
  return {
    async requestEnvironmentLock(input: { environment: string; requester: string; lockWorkflowId: string; runId?: string; ticket?: number }): Promise<void> {
      const client = await deps.temporal();
      await client.workflow.signalWithStart('environmentLock', {
        workflowId: input.lockWorkflowId,
        taskQueue: deps.config.temporal.taskQueue,
        args: [{ environment: input.environment }],
        signal: 'acquire',
        signalArgs: [{ requester: input.requester, ...(input.runId ? { runId: input.runId, ticket: input.ticket } : {}) }],
        staticSummary: `Deployment lock for ${input.environment}`,
      });
    },

    /** The lock's own view (its `status` query): a deployment checks a grant against it (a signal can be forged). */
    async describeEnvironmentLock(input: { lockWorkflowId: string }): Promise<{ holder: string | null; holderRunId: string | null; holderTicket: number | null }> {
      const client = await deps.temporal();
      const s = (await client.workflow.getHandle(input.lockWorkflowId).query('status')) as { holder?: string | null; holderRunId?: string | null; holderTicket?: number | null };
      return { holder: s.holder ?? null, holderRunId: s.holderRunId ?? null, holderTicket: s.holderTicket ?? null };
    },

    /**
     * What the lock may believe about a holder or a waiter: whether its run is still open, and (answered from its own
     * state, by query) whether it still holds or waits for this lock. A release is confirmed by this, never by the
     * signal that claims it.
     */
    async inspectLockParty(input: { workflowId: string; runId?: string; lockWorkflowId: string }): Promise<LockPartyInspection> {
      const client = await deps.temporal();
      const handle = client.workflow.getHandle(input.workflowId, input.runId);
      let status: string;
      try {
        status = (await handle.describe()).status.name;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { open: false, status: 'NOT_FOUND', state: 'unknown' };
        throw err;
      }
      if (status !== 'RUNNING') return { open: false, status, state: 'unknown' };
      try {
        const view = (await handle.query('environmentLockState', input.lockWorkflowId)) as { state?: unknown; ticket?: unknown } | null;
        const state = view && ['waiting', 'holding', 'released'].includes(String(view.state)) ? (view.state as LockPartyInspection['state']) : 'unknown';
        return { open: true, status, state, ...(typeof view?.ticket === 'number' ? { ticket: view.ticket } : {}) };
      } catch (err) {
        // A deployment of before the lock-holder-run-id patch has no such query: it cannot confirm anything.
        if (/not registered|did not register|QueryNotRegistered|unknown query/i.test((err as Error).message)) return { open: true, status, state: 'unknown' };
        throw err;
      }
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
