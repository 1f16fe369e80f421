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

export interface ActivityDeps {
  config: StewardConfig;
  ssh: SshPool;
  temporal: () => Promise<Client>;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createHostActivities(deps),
    ...createDeploymentActivities(deps),
    ...createLockActivities(deps),
    ...createAuditActivities(deps),
    ...createReportActivities(deps),
    ...createIncidentActivities(deps),
  };
}

export type StewardActivities = ReturnType<typeof createActivities>;
