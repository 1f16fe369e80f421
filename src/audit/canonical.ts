// Canonical JSON and the audit hash. Pure: no I/O, deterministic, independent of key order.
//
// Canonical JSON here is RFC 8785 (JCS) for the values an audit event holds: object keys sorted by UTF-16 code
// units (JavaScript's default sort), no whitespace, strings and numbers as JSON.stringify writes them, array order
// kept, object members whose value is undefined dropped (as JSON.stringify drops them). Non-finite numbers,
// bigints, functions and symbols are refused: they have no JSON form that would survive a round trip through jsonb.
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export class CanonicalJsonError extends Error {
  override name = 'CanonicalJsonError';
}

export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, at: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${at} is ${value}, which JSON cannot hold`);
      return JSON.stringify(value);
    case 'object': {
      const withToJson = value as { toJSON?: () => unknown };
      if (typeof withToJson.toJSON === 'function') return write(withToJson.toJSON(), at);
      if (Array.isArray(value)) return `[${value.map((v, i) => write(v === undefined ? null : v, `${at}[${i}]`)).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write(obj[k], `${at}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`${at} is a ${typeof value}, which JSON cannot hold`);
  }
}

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
