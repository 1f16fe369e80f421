// The DESIGN.md fences are enforced by eslint; prove they catch what they must.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(__dirname, '..', '..');

async function lint(file: string, code: string): Promise<string[]> {
  const { ESLint } = await import('eslint');
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('lint fences for deterministic code', () => {
  const forbidden: [string, string][] = [
    ["import { readFileSync } from 'node:fs';\nexport const x = readFileSync;", 'Node built-in'],
    ["import fs from 'fs';\nexport const x = fs;", 'Node built-in'],
    ["import { Client } from 'ssh2';\nexport const x = Client;", 'ssh2'],
    ["import pg from 'pg';\nexport const x = pg;", 'pg'],
    ["import { createActivities } from '../activities';\nexport const x = createActivities;", 'activities as types only'],
    ['export const t = Date.now();', 'Date.now'],
    ['export const r = Math.random();', 'Math.random'],
  ];
  for (const dir of ['src/domain', 'src/workflows']) {
    for (const [code, what] of forbidden) {
      if (dir === 'src/workflows' && what === 'Date.now') continue; // the workflow sandbox makes Date.now deterministic
      it(`${dir} refuses ${what}`, async () => {
        const messages = await lint(`${dir}/fence-probe.ts`, code);
        assert.ok(messages.some((m) => m.startsWith('no-restricted')), `expected a fence error, got ${JSON.stringify(messages)}`);
      });
    }
  }
  it('allows `import type` of activities in workflows', async () => {
    const messages = await lint('src/workflows/fence-probe.ts', "import type { StewardActivities } from '../activities';\nexport type A = StewardActivities;");
    assert.deepEqual(messages, []);
  });
  it('does not fence activities themselves', async () => {
    const messages = await lint('src/activities/fence-probe.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;");
    assert.deepEqual(messages, []);
  });
});
