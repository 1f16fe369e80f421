import path from 'node:path';

/** The config file a command reads: $STEWARD_CONFIG, or ./steward.config.yaml. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.STEWARD_CONFIG ?? path.join(process.cwd(), 'steward.config.yaml'));
}
