// Canonical JSON (RFC 8785 / JCS for the values Steward signs and hashes) and sha256, pure and deterministic:
// the same bytes in the workflow sandbox, the CLI, the worker and an auditor's script. Object keys sorted by
// UTF-16 code units, no whitespace, strings and numbers as JSON.stringify writes them, array order kept, members
// whose value is undefined dropped. Non-finite numbers, bigints, functions and symbols are refused.
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';

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


/** hex(sha256(utf8(text))). */
export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

/** The digest of a value: hex(sha256(canonicalJson(value))). */
export function digestOf(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
