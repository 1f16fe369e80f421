// The hosts of an environment, from the worker's config, for the deployment workflow (roles, rolling batches).
import { primaryHost } from '../../config/schema';
import { hookLimits, type AppHook, type Fleet } from '../../contracts/fleet';
import { environmentOf } from '../environment';
import type { DeploymentDeps } from './context';

export function createFleetActivities(deps: DeploymentDeps) {
  return {
    /** The environment's hosts from the worker's config; no I/O on the hosts. */
    async describeFleet(input: { environment: string }): Promise<Fleet> {
      const env = environmentOf(deps.config, input.environment);
      const primary = primaryHost(env).name;
      const hooks = env.app.hooks;
      const absentHooks = (['maintenance', 'moduleFreeze', 'invariants'] as const).filter((k): k is AppHook => hooks[k] === 'absent');
      return {
        hosts: env.hosts.map((h) => ({ name: h.name, web: h.roles.includes('web'), primary: h.name === primary })),
        batchSize: env.rollout.batchSize,
        absentHooks,
        limits: hookLimits(absentHooks),
      };
    },
  };
}
