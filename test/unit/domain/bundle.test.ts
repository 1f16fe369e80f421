import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleWorkflowCode } from '@temporalio/worker';

test('src/domain bundles into a Temporal workflow bundle (no disallowed modules)', { timeout: 180_000 }, async () => {
  const messages: string[] = [];
  const logger = {
    log: (_level: string, m: string) => messages.push(m),
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (m: string) => messages.push(`warn: ${m}`),
    error: (m: string) => messages.push(`error: ${m}`),
  };
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../fixtures/domain/domain-workflow.ts'),
    logger: logger as never,
  });
  assert.ok(code.length > 10_000, 'bundle code is non-empty');
  assert.ok(code.includes('domainWorkflow'));
  assert.ok(!messages.some((m) => /disallowed|not allowed|node:/i.test(m)), messages.join('\n'));
});
