// ping: the smallest real path through Steward — a workflow that asks each host of an environment
// who it is over SSH. It proves the client, the worker, Temporal and the hosts are wired together.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { StewardActivities } from '../activities';
import type { HostPing } from '../activities/host';

const { pingHosts } = proxyActivities<StewardActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

export interface PingInput {
  environments: string[];
}

export interface PingResult {
  workflowId: string;
  hosts: HostPing[];
}

export async function ping(input: PingInput): Promise<PingResult> {
  const hosts: HostPing[] = [];
  for (const environment of input.environments) {
    const results = await pingHosts.executeWithOptions({ summary: `ping ${environment} hosts over SSH` }, [{ environment }]);
    hosts.push(...results);
  }
  return { workflowId: workflowInfo().workflowId, hosts };
}
