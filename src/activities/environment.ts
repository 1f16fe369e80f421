import { ApplicationFailure } from '@temporalio/common';
import type { EnvironmentConfig, StewardConfig } from '../config/schema';

/** The named environment from the config; an unknown name is not retryable: the config will not change under us. */
export function environmentOf(config: StewardConfig, name: string): EnvironmentConfig {
  const env = config.environments[name];
  if (!env) {
    throw ApplicationFailure.nonRetryable(
      `environment ${JSON.stringify(name)} is not in the config (known: ${Object.keys(config.environments).join(', ')})`,
      'UnknownEnvironment',
    );
  }
  return env;
}
