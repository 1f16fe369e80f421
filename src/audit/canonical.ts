// Canonical JSON and the audit hash. Pure: no I/O, deterministic, independent of key order.
//
// Canonical JSON here is RFC 8785 (JCS) for the values an audit event holds: object keys sorted by UTF-16 code
// units (JavaScript's default sort), no whitespace, strings and numbers as JSON.stringify writes them, array order
// kept, object members whose value is undefined dropped (as JSON.stringify drops them). Non-finite numbers,
// bigints, functions and symbols are refused: they have no JSON form that would survive a round trip through jsonb.
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export { CanonicalJsonError, canonicalJson } from '../domain/canonical';
import { canonicalJson, CanonicalJsonError } from '../domain/canonical';

/** The fields of a row that its hash covers. */
export interface HashedFields {
  seq: number;
  prevSeq: number;
  eventId: string;
  subject: string;
  kind: string;
  actor: string;
  /** ISO 8601 in UTC with milliseconds, as Date.prototype.toISOString writes it. */
  at: string;
  details: Record<string, unknown>;
}

/** hash = hex(sha256(prevHash || canonicalJson({seq, prevSeq, eventId, subject, kind, actor, at, details}))). */
export function computeAuditHash(prevHash: string, f: HashedFields): string {
  const body = canonicalJson({
    seq: f.seq,
    prevSeq: f.prevSeq,
    eventId: f.eventId,
    subject: f.subject,
    kind: f.kind,
    actor: f.actor,
    at: f.at,
    details: f.details,
  });
  return createHash('sha256').update(prevHash, 'utf8').update(body, 'utf8').digest('hex');
}

/** The one form of a time that is hashed: what PostgreSQL gives back for the stored timestamptz, via Date. */
export function normaliseTime(at: string | Date): string {
  const d = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(d.getTime())) throw new CanonicalJsonError(`${JSON.stringify(at)} is not a valid ISO 8601 time`);
  return d.toISOString();
}
