// Replays saved histories of completed lifecycle runs against the current workflow code (determinism guard).
// Histories are written by test/workflows/change-lifecycle.test.ts (saveHistory).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';

const dir = path.join(__dirname, 'histories');

describe('replay of saved changeLifecycle histories', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  it('has at least one history', () => assert.ok(files.length > 0));
  for (const f of files) {
    it(`replays ${f}`, async () => {
      const raw = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
      const history = temporal.api.history.v1.History.fromObject(raw);
      // The workflow id as recorded: signed statements name their workflow, so a replay under another id diverges.
      const workflowId = raw.events[0].workflowExecutionStartedEventAttributes.workflowId ?? `replay-${f}`;
      await Worker.runReplayHistory({ workflowsPath: require.resolve('../workflows/fake-workflows') }, history, workflowId);
    });
  }
});

// The environment lock and the deployment (written by test/workflows/environment-lock.test.ts): one bundle for all.
describe('replay of saved environmentLock and deployment histories', () => {
  const lockDir = path.join(dir, 'lock');
  const files = existsSync(lockDir) ? readdirSync(lockDir).filter((f) => f.endsWith('.json')) : [];
  it('has the lock and deployment histories', () => assert.ok(files.length >= 3, files.join(', ')));
  it(`replays ${files.join(', ')}`, async () => {
    const histories = files.map((f) => {
      const raw = JSON.parse(readFileSync(path.join(lockDir, f), 'utf8'));
      return { history: temporal.api.history.v1.History.fromObject(raw), workflowId: raw.events[0].workflowExecutionStartedEventAttributes.workflowId ?? `replay-${f}` };
    });
    const failures: string[] = [];
    for await (const r of Worker.runReplayHistories({ workflowsPath: require.resolve('../workflows/lock-workflows') }, histories)) {
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    assert.deepEqual(failures, []);
  });
});
