// Writes schema/steward.config.schema.json (the JSON Schema editors use to validate steward.config.yaml) from the
// zod schema that the worker validates with, so the two never drift: `node bin/run-ts.js scripts/config-schema.ts`.
// test/unit/app-contract.test.ts fails when the committed file is not what this prints.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configSchema } from '../src/config/schema';

export function configJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return `${JSON.stringify({ ...schema, $id: 'https://steward.example/steward.config.schema.json', title: 'steward.config.yaml' }, null, 2)}\n`;
}

if (/config-schema\.ts$/.test(process.argv[1] ?? '')) {
  const file = path.resolve(__dirname, '..', 'schema', 'steward.config.schema.json');
  writeFileSync(file, configJsonSchema());
  process.stdout.write(`wrote ${file}\n`);
}
