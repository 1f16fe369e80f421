import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, type StewardConfig } from './schema';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly issues: { field: string; message: string }[],
  ) {
    super(
      `${file} is not a valid Steward config:\n` +
        issues.map((i) => `  - ${i.field}: ${i.message}`).join('\n') +
        '\nFix the named fields and run the command again.',
    );
  }
}

export function zodIssuesToFields(error: z.ZodError): { field: string; message: string }[] {
  return error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.map(String).join('.') : '(top level)',
    message: issue.message,
  }));
}

import { defaultConfigPath } from './path';

export { defaultConfigPath };

export function parseConfig(text: string, file = 'steward.config.yaml', env: NodeJS.ProcessEnv = process.env): StewardConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, [{ field: '(file)', message: `not valid YAML: ${(err as Error).message}` }]);
  }
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(file, zodIssuesToFields(result.error));
  const config = result.data;
  // The environment may point the worker at another Temporal (containers, CI) without editing the file.
  if (env.TEMPORAL_ADDRESS) config.temporal.address = env.TEMPORAL_ADDRESS;
  if (env.TEMPORAL_NAMESPACE) config.temporal.namespace = env.TEMPORAL_NAMESPACE;
  return config;
}

export function loadConfig(file = defaultConfigPath(), env: NodeJS.ProcessEnv = process.env): StewardConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(file, [
      {
        field: '(file)',
        message: 'cannot read it; run `steward dev up` to generate one for the local stack, or set STEWARD_CONFIG',
      },
    ]);
  }
  return parseConfig(text, file, env);
}
