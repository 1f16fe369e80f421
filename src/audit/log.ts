// Appending to and reading the audit log, on a pg Pool of the writer role (INSERT and SELECT only).
//
// An append runs in one transaction under a transaction-scoped advisory lock (the writer may not take table
// locks stronger than ROW EXCLUSIVE, which need UPDATE/DELETE/TRUNCATE privilege): it looks the event id up
// (a retried append returns the first row), reads the head of the chain, takes the next seq, hashes and inserts.
// Every writer must append through here: a row inserted around the lock can break the chain (verify shows it).
import type { Pool, PoolClient } from 'pg';
import type { AuditEvent, AuditRow } from '../activities/audit/api';
import { canonicalJson, computeAuditHash, GENESIS_HASH, normaliseTime } from './canonical';
import type { ChainRow } from './chain';

/** pg_advisory_xact_lock key for appends: fixed, distinct from the migrations' key. */
export const APPEND_LOCK_KEY = '-4145648163455131065';

export class AuditConflictError extends Error {
  override name = 'AuditConflictError';
}

interface DbRow {
  seq: string;
  prev_seq: string;
  event_id: string;
  subject: string;
  kind: string;
  actor: string;
  at: Date;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export const ROW_COLUMNS = 'seq, prev_seq, event_id, subject, kind, actor, at, details, prev_hash, hash';

export function fromDb(r: DbRow): ChainRow {
  return {
    seq: Number(r.seq),
    prevSeq: Number(r.prev_seq),
    eventId: r.event_id,
    subject: r.subject,
    kind: r.kind,
    actor: r.actor,
    at: normaliseTime(r.at),
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

function toAuditRow(r: ChainRow): AuditRow {
  return {
    seq: r.seq,
    eventId: r.eventId,
    subject: r.subject,
    kind: r.kind as AuditRow['kind'],
    actor: r.actor,
    at: normaliseTime(r.at),
    details: r.details,
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

function sameContent(a: { subject: string; kind: string; actor: string; at: string; details: unknown }, b: typeof a): boolean {
  const pick = (x: typeof a) => canonicalJson({ subject: x.subject, kind: x.kind, actor: x.actor, at: x.at, details: x.details });
  return pick(a) === pick(b);
}

export async function appendEvent(pool: Pool, event: AuditEvent): Promise<{ seq: number; hash: string; existing: boolean }> {
  const at = normaliseTime(event.at);
  // Checked before any I/O so that a bad value fails fast (CanonicalJsonError).
  canonicalJson(event.details);
  const client: PoolClient = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [APPEND_LOCK_KEY]);
    // What PostgreSQL will store (and give back to verify): the details after a round trip through jsonb.
    const details = (await client.query<{ d: Record<string, unknown> }>('SELECT $1::jsonb AS d', [JSON.stringify(event.details)])).rows[0]!.d;
    const found = await client.query<DbRow>(`SELECT ${ROW_COLUMNS} FROM audit_event WHERE event_id = $1`, [event.eventId]);
    if (found.rows[0]) {
      await client.query('COMMIT');
      const prior = fromDb(found.rows[0]);
      if (!sameContent({ ...prior, at: normaliseTime(prior.at) }, { ...event, at, details })) {
        throw new AuditConflictError(
          `audit event ${event.eventId} was already recorded (seq ${prior.seq}) with different content; ` +
            'an event id names one event: give a new event a new id',
        );
      }
      return { seq: prior.seq, hash: prior.hash, existing: true };
    }
    const head = await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1');
    const prevSeq = head.rows[0] ? Number(head.rows[0].seq) : 0;
    const prevHash = head.rows[0]?.hash ?? GENESIS_HASH;
    const seq = Number((await client.query<{ seq: string }>("SELECT nextval('audit_event_seq_seq') AS seq")).rows[0]!.seq);
    const hash = computeAuditHash(prevHash, { seq, prevSeq, eventId: event.eventId, subject: event.subject, kind: event.kind, actor: event.actor, at, details });
    await client.query(
      `INSERT INTO audit_event (seq, prev_seq, event_id, subject, kind, actor, at, details, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)`,
      [seq, prevSeq, event.eventId, event.subject, event.kind, event.actor, at, JSON.stringify(details), prevHash, hash],
    );
    await client.query('COMMIT');
    return { seq, hash, existing: false };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export async function listEvents(pool: Pool, subject: string): Promise<AuditRow[]> {
  const r = await pool.query<DbRow>(`SELECT ${ROW_COLUMNS} FROM audit_event WHERE subject = $1 ORDER BY seq`, [subject]);
  return r.rows.map((row) => toAuditRow(fromDb(row)));
}
