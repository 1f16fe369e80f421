// Checkpoints: the chain head signed by the worker's own key (SSHSIG, Steward's checkpoint namespace) and kept
// outside the database — a file per checkpoint (created once, never overwritten) and the history of the
// auditCheckpoint workflow that made it. A database superuser who rewrites rows and recomputes every later hash
// cannot re-sign a checkpoint: `steward audit verify` checks the rows against every checkpoint it finds.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pool } from 'pg';
import { canonicalJson } from '../domain/canonical';
import { CHECKPOINT_NAMESPACE, normalisePublicKey, parseSshSignature, verifySshSignature } from '../domain/sshsig';
import { resolveSecret, type SecretRef } from '../config/secrets';

export interface CheckpointStatement {
  v: 1;
  kind: 'audit-checkpoint';
  seq: number;
  hash: string;
  rows: number;
  at: string;
}

export interface SignedCheckpoint {
  statement: string;
  signature: string;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** The head of the chain: the last row's seq and hash, and how many rows there are. One query. */
export async function readChainHead(pool: Pool): Promise<{ seq: number; hash: string; rows: number } | null> {
  const r = await pool.query('SELECT seq, hash, (SELECT count(*) FROM audit_event) AS n FROM audit_event ORDER BY seq DESC LIMIT 1');
  if (r.rowCount === 0) return null;
  return { seq: Number(r.rows[0].seq), hash: r.rows[0].hash as string, rows: Number(r.rows[0].n) };
}

/** Signs the checkpoint with the worker's key file (ssh-keygen; an { env } reference is written to a 0600 temp file). */
export function signCheckpoint(keyRef: SecretRef, statement: CheckpointStatement): SignedCheckpoint {
  const text = canonicalJson(statement);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-checkpoint-'));
  try {
    let keyFile: string;
    if ('file' in keyRef) keyFile = keyRef.file;
    else {
      keyFile = path.join(dir, 'key');
      writeFileSync(keyFile, `${resolveSecret(keyRef).reveal()}\n`, { mode: 0o600 });
    }
    const file = path.join(dir, 'checkpoint.json');
    writeFileSync(file, text);
    const r = spawnSync('ssh-keygen', ['-q', '-Y', 'sign', '-f', keyFile, '-n', CHECKPOINT_NAMESPACE, file], { encoding: 'utf8' });
    if (r.status !== 0) throw new CheckpointError(`ssh-keygen could not sign the checkpoint: ${r.stderr.trim()}`);
    return { statement: text, signature: readFileSync(`${file}.sig`, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes <dir>/<seq>.json and .sig; an existing checkpoint for that seq is never overwritten. */
export function storeCheckpoint(dir: string, cp: SignedCheckpoint): string {
  const s = JSON.parse(cp.statement) as CheckpointStatement;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const base = path.join(dir, `${String(s.seq).padStart(12, '0')}`);
  if (existsSync(`${base}.json`)) return `${base}.json`;
  writeFileSync(`${base}.json`, cp.statement, { flag: 'wx', mode: 0o444 });
  writeFileSync(`${base}.json.sig`, cp.signature, { flag: 'wx', mode: 0o444 });
  return `${base}.json`;
}

export function readCheckpoints(dir: string): SignedCheckpoint[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^\d+\.json$/.test(f))
    .sort()
    .filter((f) => existsSync(path.join(dir, `${f}.sig`)))
    .map((f) => ({ statement: readFileSync(path.join(dir, f), 'utf8'), signature: readFileSync(path.join(dir, `${f}.sig`), 'utf8') }));
}

export type CheckpointVerdict = { ok: true; statement: CheckpointStatement } | { ok: false; reason: string };

/** A checkpoint counts only when signed by the worker's configured checkpoint key over its exact text. */
export function verifyCheckpoint(cp: SignedCheckpoint, publicKey: string): CheckpointVerdict {
  let s: CheckpointStatement;
  try {
    s = JSON.parse(cp.statement) as CheckpointStatement;
    if (canonicalJson(s) !== cp.statement || s.kind !== 'audit-checkpoint' || !Number.isInteger(s.seq) || !/^[0-9a-f]{64}$/.test(s.hash)) return { ok: false, reason: 'not a checkpoint statement' };
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  try {
    const sig = parseSshSignature(cp.signature);
    if (sig.publicKey !== normalisePublicKey(publicKey)) return { ok: false, reason: `checkpoint seq ${s.seq} is signed by another key than audit.checkpoints.publicKey` };
    if (!verifySshSignature(sig, cp.statement, CHECKPOINT_NAMESPACE)) return { ok: false, reason: `checkpoint seq ${s.seq}: the signature does not match` };
  } catch (err) {
    return { ok: false, reason: `checkpoint seq ${s.seq}: ${(err as Error).message}` };
  }
  return { ok: true, statement: s };
}
