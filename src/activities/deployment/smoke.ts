import { runSmoke, type SmokeResult } from '../http/smoke';
import { heartbeat, onHost, type DeploymentDeps } from './context';

export function createSmokeActivities(deps: DeploymentDeps) {
  return {
    /** Never throws for a failed check: the workflow decides (rollback), the result keeps every check's detail. */
    async smokeTest(input: { environment: string; host?: string; staging: boolean; disabledModules?: string[] }): Promise<SmokeResult> {
      const h = onHost(deps, input.environment, input.host);
      // A heartbeat per check: a worker that dies mid-smoke is noticed within the heartbeat timeout.
      return runSmoke(h.env, { staging: input.staging, disabledModules: input.disabledModules, onCheck: heartbeat });
    },
  };
}
