import type { DeploymentDeps } from './context';
import { createDatabaseActivities, createRestoreActivities } from './database';
import { createFleetActivities } from './fleet';
import { createReleaseActivities } from './release';
import { createSmokeActivities } from './smoke';
import { createTagActivities } from './tags';

export function createDeploymentActivities(deps: DeploymentDeps) {
  return {
    ...createFleetActivities(deps),
    ...createReleaseActivities(deps),
    ...createDatabaseActivities(deps),
    ...createRestoreActivities(deps),
    ...createSmokeActivities(deps),
    ...createTagActivities(deps),
  };
}
