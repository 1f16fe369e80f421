// Every activity the worker registers, built from injected dependencies.
import type { StewardConfig } from '../config/schema';
import { createHostActivities } from './host';
import { SshPool } from './remote/ssh';

export interface ActivityDeps {
  config: StewardConfig;
  ssh: SshPool;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createHostActivities(deps),
  };
}

export type StewardActivities = ReturnType<typeof createActivities>;
