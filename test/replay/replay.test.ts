// Replays every saved history (test/replay/histories/<workflowType>/*.json) against the current workflow code: the
// determinism guard for runs that were started on older code and are still open (a change waits days for people).
// Histories are written by the tests that run those workflows (test/helpers/histories.ts, STEWARD_RECORD_HISTORIES=1):
// changeLifecycle and incidentResponse by test/workflows/*, deployment and environmentLock by the real-stack
// deployment test. Old histories are kept when the code changes; a changed rule goes behind patched().
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { Worker, type ReplayResult } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { HISTORIES_DIR } from '../helpers/histories';

/** Every workflow type Steward runs for a long time; each must have recorded histories. */
const WORKFLOW_TYPES = ['changeLifecycle', 'deployment', 'environmentLock', 'incidentResponse'];

interface Saved {
  file: string;
  workflowId: string;
  history: temporal.api.history.v1.History;
}

function saved(type: string): Saved[] {
  const dir = path.join(HISTORIES_DIR, type);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const raw = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
      // The workflow id as recorded: signed statements name their workflow, so a replay under another id diverges.
      const workflowId: string = raw.events[0].workflowExecutionStartedEventAttributes.workflowId ?? `replay-${f}`;
      return { file: `${type}/${f}`, workflowId, history: temporal.api.history.v1.History.fromObject(raw) };
    });
}

describe('replay of saved histories of every workflow', () => {
  const all = WORKFLOW_TYPES.flatMap(saved);
  const results: ReplayResult[] = []; // in the order of `all`: the SDK replays one history at a time
  before(async () => {
    // One replay worker (one workflow bundle) for all of them: bundling is the slow part.
    const replays = Worker.runReplayHistories(
      { workflowsPath: require.resolve('../../src/workflows') },
      all.map((s) => ({ workflowId: s.workflowId, history: s.history })),
    );
    for await (const r of replays) results.push(r);
  });
  for (const type of WORKFLOW_TYPES) {
    it(`has recorded histories of ${type}`, () => assert.ok(saved(type).length > 0, `no history in test/replay/histories/${type}`));
  }
  all.forEach((s, i) => {
    it(`replays ${s.file}`, () => {
      const r = results[i];
      assert.equal(r?.workflowId, s.workflowId, `no replay result for ${s.file}`);
      if (r.error) throw r.error;
    });
  });
});
