// The one redaction step for text that leaves a host or a process (error tails, command output, heartbeats, activity
// failures, audit details, log lines): every secret value Steward has resolved, and anything shaped like a credential
// (URL user-info, bearer and API tokens, private-key blocks, password=... pairs), is masked before it can reach a
// workflow history, a log or the audit table.

export const MASK = '[redacted]';

/** Values revealed by resolveSecret (src/config/secrets.ts) in this process; shorter ones are too common to mask. */
const known = new Set<string>();
const MIN_KNOWN = 6;

export function registerSecretValue(value: string): void {
  const add = (v: string) => {
    if (v.length >= MIN_KNOWN) known.add(v);
  };
  add(value);
  add(value.trim());
  // A database URL's password is a secret of its own (it shows up alone in driver errors), in both spellings.
  const pw = /^[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:([^@\s]+)@/i.exec(value.trim())?.[1];
  if (pw) {
    add(pw);
    try {
      add(decodeURIComponent(pw));
    } catch {
      // not percent-encoded
    }
  }
  // Multi-line secrets (keys): any long line of the body is enough to leak it.
  for (const line of value.split(/\r?\n/)) if (line.length >= 24 && !line.startsWith('-----')) add(line.trim());
}

const PATTERNS: [RegExp, string | ((...m: string[]) => string)][] = [
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, `${MASK} private key`],
  // scheme://user:password@host and scheme://token@host
  [/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:'"]+):([^\s/@'"]+)@/gi, (_m, scheme, user) => `${scheme}${user}:${MASK}@`],
  [/\b(https?:\/\/)([^\s/@:'"]{8,})@/gi, (_m, scheme) => `${scheme}${MASK}@`],
  // Bearer/Basic/token followed by something token-like (with a digit: "token validation failed" stays).
  [/\b(Bearer|Basic|token)\s+(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}/gi, (m) => `${m.split(/\s+/)[0]} ${MASK}`],
  [/\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,})\b/g, MASK],
  [/\bAKIA[0-9A-Z]{16}\b/g, MASK],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g, MASK],
  [
    /\b((?:[A-Z0-9_]*)?(?:PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY)|password|passwd|secret|token|api_?key|access_?key)(\s*[=:]\s*)(["']?)[^\s"'&;]+\3/gi,
    (_m, name, sep, q) => `${name}${sep}${q}${MASK}${q}`,
  ],
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Masks known secret values and credential-shaped strings in one text. */
export function redact(text: string, extra: Iterable<string> = []): string {
  let out = text;
  const values = [...known, ...[...extra].filter((v) => v.length >= MIN_KNOWN)].sort((a, b) => b.length - a.length);
  for (const v of values) if (out.includes(v)) out = out.replace(new RegExp(escapeRegExp(v), 'g'), MASK);
  for (const [re, by] of PATTERNS) out = out.replace(re, by as never);
  return out;
}

/** Redacts every string inside a JSON-like value (records, audit details); other values are kept. */
export function redactDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redact(value) as T;
  if (depth > 20 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1)) as T;
  if (value instanceof Date || ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactDeep(v, depth + 1);
  return out as T;
}

/** The same error with its message (and stack, cause chain) redacted; the class and own fields are kept. */
export function redactError<E>(err: E): E {
  if (!(err instanceof Error)) return err;
  const e = err as Error & { cause?: unknown; stdout?: unknown; stderr?: unknown; details?: unknown };
  try {
    e.message = redact(e.message);
    if (e.stack) e.stack = redact(e.stack);
    if (typeof e.stdout === 'string') Object.defineProperty(e, 'stdout', { value: redact(e.stdout) });
    if (typeof e.stderr === 'string') Object.defineProperty(e, 'stderr', { value: redact(e.stderr) });
    if (Array.isArray(e.details)) Object.defineProperty(e, 'details', { value: redactDeep(e.details) });
    if (e.cause) redactError(e.cause);
  } catch {
    // A frozen error: leave it (its text is redacted again where it is logged).
  }
  return err;
}
