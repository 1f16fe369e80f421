// Recorded workflow histories: the fixtures of test/replay/replay.test.ts, one folder per workflow type.
// Written only when asked (STEWARD_RECORD_HISTORIES=1), so an ordinary test run never rewrites tracked files.
// A history once recorded is kept when the code changes: it is what a run started on the old code looks like, and
// the new code must still replay it (a changed rule goes behind patched()).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';

export const HISTORIES_DIR = path.join(__dirname, '..', 'replay', 'histories');

export const recordingHistories = () => process.env.STEWARD_RECORD_HISTORIES === '1';

export function saveHistory(workflowType: string, name: string, history: temporal.api.history.v1.IHistory): void {
  if (!recordingHistories()) return;
  const dir = path.join(HISTORIES_DIR, workflowType);
  mkdirSync(dir, { recursive: true });
  // protobuf's own plain-object form (bytes as base64, 64-bit ints as strings, enums by name)
  const obj = temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, { longs: String, enums: String, bytes: String });
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(obj));
}
