// How a rule changes under running workflows (DESIGN "Versioning"): a run recorded on the old code must replay on
// the new code. The rule change behind patched() replays the old history and gives new runs the new rule; the same
// change without it fails the replay — so the replay tests of test/replay/ can catch a careless change.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { temporal } from '@temporalio/proto';
import { ensureTemporalCli } from '../../src/dev/tools';

const TQ = `rule-change-${process.pid}`;
let env: TestWorkflowEnvironment;
const called: string[] = [];
const activities = {
  async announce() {
    called.push('announce');
  },
  async recheckWindow() {
    called.push('recheckWindow');
  },
};

/** Runs one ruleChange to its end on a worker with the given code; returns its history. */
async function runOn(version: string, workflowId: string): Promise<temporal.api.history.v1.IHistory> {
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TQ, workflowsPath: require.resolve(`./rule-change/${version}`), activities });
  return worker.runUntil(async () => {
    const h = await env.client.workflow.start('ruleChange', { taskQueue: TQ, workflowId, args: [] });
    await h.signal('approve', 'grace');
    assert.deepEqual(await h.result(), ['grace']);
    return h.fetchHistory();
  });
}

describe('a rule change under running workflows (patched)', () => {
  before(async () => {
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      /* installed */
    }
    env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: ensureTemporalCli(() => undefined) } } });
  });
  after(async () => {
    await env?.teardown();
  });

  it('replays a history recorded before the change when the change is behind patched(), and fails without it', async () => {
    called.length = 0;
    const old = await runOn('v1', 'rule-change-old');
    assert.deepEqual(called, ['announce'], 'the old rule does not re-check');
    await Worker.runReplayHistory({ workflowsPath: require.resolve('./rule-change/v2-patched') }, old, 'rule-change-old');
    await assert.rejects(
      Worker.runReplayHistory({ workflowsPath: require.resolve('./rule-change/v2-unpatched') }, old, 'rule-change-old'),
      (err: unknown) => err instanceof DeterminismViolationError,
    );
  });

  it('gives a run started on the new code the new rule', async () => {
    called.length = 0;
    const fresh = await runOn('v2-patched', 'rule-change-new');
    assert.deepEqual(called, ['recheckWindow', 'announce']);
    // …and that run replays on the new code as well.
    await Worker.runReplayHistory({ workflowsPath: require.resolve('./rule-change/v2-patched') }, fresh, 'rule-change-new');
  });
});
