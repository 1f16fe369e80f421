// The whole project stays lint-clean (the fences of DESIGN.md included): a lint error fails the test command.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';

describe('eslint', () => {
  // Generous: the whole project under typed rules takes minutes on 2 cores beside the other test jobs.
  it('reports no error anywhere in the project', { timeout: 900_000 }, async () => {
    const { ESLint } = await import('eslint');
    const eslint = new ESLint({ cwd: path.resolve(__dirname, '..', '..') });
    const results = await eslint.lintFiles(['.']);
    const errors = results.flatMap((r) => r.messages.filter((m) => m.severity === 2).map((m) => `${path.relative(process.cwd(), r.filePath)}:${m.line} ${m.ruleId}: ${m.message}`));
    assert.deepEqual(errors, []);
  });
});
