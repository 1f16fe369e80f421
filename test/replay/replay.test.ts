// Replays saved histories of completed lifecycle runs against the current workflow code (determinism guard).
// Histories are written by test/workflows/change-lifecycle.test.ts (saveHistory).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
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
