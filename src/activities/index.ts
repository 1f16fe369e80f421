// Every activity the worker registers, built from injected dependencies.
import type { StewardConfig } from '../config/schema';
import { createAuditActivities } from './audit/store';
import { createDeploymentActivities } from './deployment';
import { createHostActivities } from './host';
import { createIncidentActivities } from './incident';
import type { SshPool } from './remote/ssh';
import type { Client } from '@temporalio/client';
import { createLockActivities } from './lock';
import { createReportActivities } from './reports';
import { createPolicyActivities, loadWorkerPolicy } from './policy';
import { createAuthorityActivities } from './authority';

export interface ActivityDeps {
  config: StewardConfig;
  ssh: SshPool;
  temporal: () => Promise<Client>;
  /** The worker's config as it is now (re-read from its file): the policy is read afresh at every gate. */
  currentConfig?: () => StewardConfig;
}

export function createActivities(deps: ActivityDeps) {
  const audit = createAuditActivities(deps);
  return {
    ...createPolicyActivities({ ...deps, audit }),
    ...createHostActivities(deps),
    ...createDeploymentActivities(deps),
    ...createLockActivities(deps),
    ...createAuthorityActivities({ temporal: deps.temporal, policy: () => loadWorkerPolicy(deps.currentConfig ? deps.currentConfig() : deps.config).policy }),
    ...audit,
    ...createReportActivities(deps),
    ...createIncidentActivities(deps),
  };
}

export type StewardActivities = ReturnType<typeof createActivities>;
