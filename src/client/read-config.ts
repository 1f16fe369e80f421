// The config for the read-only verbs (status, list), validated once per file content and build: parsing the YAML
// and checking it against the zod schema was the largest part of `steward status` left after the SDK client went
// (node --cpu-prof). The compiled CLI keeps the validated config as JSON beside the build
// (dist/<stamp>/config-cache/<sha256>.json, mode 0600), named by a hash of the file's text, its path and the
// environment overrides parseConfig applies, so any edit — or a new build, whose schema may differ — validates
// again. A config holds secret *references* only (src/config/secrets.ts), never a secret, so the cache holds none.
// Under tsx (tests, development) there is no build and every call validates.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { StewardConfig } from '../config/schema';
import { defaultConfigPath } from '../config/path';

function buildDir(): string | undefined {
  return /^(.*[\\/]dist[\\/][0-9a-f]{16})[\\/]/.exec(__filename)?.[1];
}

export function loadConfigCached(file = defaultConfigPath(), env: NodeJS.ProcessEnv = process.env): StewardConfig {
  const load = () => require('../config/load') as typeof import('../config/load');
  const dir = buildDir();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return load().loadConfig(file, env); // its error says what to do
  }
  if (!dir) return load().parseConfig(text, file, env);
  const key = createHash('sha256').update(`${path.resolve(file)}\0${env.TEMPORAL_ADDRESS ?? ''}\0${env.TEMPORAL_NAMESPACE ?? ''}\0${text}`).digest('hex');
  const cached = path.join(dir, 'config-cache', `${key}.json`);
  try {
    return JSON.parse(readFileSync(cached, 'utf8')) as StewardConfig;
  } catch {
    // not validated yet (or unreadable): validate now
  }
  const config = load().parseConfig(text, file, env);
  try {
    mkdirSync(path.dirname(cached), { recursive: true, mode: 0o700 });
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(config), { mode: 0o600 });
    renameSync(tmp, cached);
  } catch {
    // a read-only build: validate every time
  }
  return config;
}
