// Signed statements: every human action is a canonical JSON statement signed with the person's own SSH key
// (DESIGN "Trust model"). The signature is the identity: the signer is whoever owns the key in the worker's
// policy, never what a payload or `--as` claims. Pure and deterministic: verified in Update validators and Signal
// handlers inside the workflow sandbox.
import { canonicalJson } from './canonical';
import type { PolicyConfig } from './policy';
import { ACTION_NAMESPACE, normalisePublicKey, parseSshSignature, SshSigError, verifySshSignature } from './sshsig';
import { PERSON_ID_RE } from './types';

export const STATEMENT_VERSION = 1;

/** Every human action Steward accepts. */
export const SIGNED_ACTIONS = [
  'propose',
  'hotfix',
  'approve',
  'reject',
  'submitReview',
  'withdraw',
  'submitPostDeploymentReview',
  'approveDestructiveMigration',
  'decideRestore',
  'completeManualStep',
  // A deployment started outside a change (tests, benchmarks, an operator's repair): its signed order.
  'orderDeployment',
  'openIncident',
  'recordScope',
  'decideIncidentRestore',
  'recordFindings',
  'linkCorrectivePatch',
  'proposeCorrectivePatch',
  'closeIncident',
] as const;
export type SignedActionName = (typeof SIGNED_ACTIONS)[number];

/** What a person signs. `decision` holds the action's own fields (role, mode, checklist, reason, ...). */
export interface Statement {
  v: 1;
  action: SignedActionName;
  /** The change or incident id. */
  subject: string;
  /** The workflow the action is for (a statement for another workflow never counts). */
  workflowId: string;
  signer: string;
  decision: Record<string, unknown>;
  /** The full commit SHA the decision is about (null before the ref is resolved, e.g. at proposal). */
  commit: string | null;
  /** sha256 of the canonical proposal (null for incident actions that have none). */
  proposalDigest: string | null;
  /** The policy the signer decided under (from `steward status`). */
  policyDigest: string;
  issuedAt: string;
  nonce: string;
}

/** The message payload of every human action: the statement's exact text and its armored SSHSIG. */
export interface SignedAction {
  statement: string;
  signature: string;
}

export type StatementCode =
  | 'unsigned'
  | 'bad-signature'
  | 'unknown-key'
  | 'signer-mismatch'
  | 'wrong-action'
  | 'wrong-subject'
  | 'wrong-workflow'
  | 'wrong-commit'
  | 'wrong-proposal'
  | 'wrong-policy'
  | 'stale'
  | 'replay';

export interface StatementRefusal {
  ok: false;
  code: StatementCode;
  reason: string;
}
export interface VerifiedStatement {
  ok: true;
  statement: Statement;
  /** The person who owns the signing key (== statement.signer). */
  signer: string;
  /** The key that signed, "<type> <base64>". */
  key: string;
}

/** What the receiving workflow expects; anything else is refused. */
export interface StatementExpectation {
  actions: readonly SignedActionName[];
  subject: string;
  workflowId: string;
  /** undefined: not checked (e.g. an incident action); null: must be null; string: must be equal. */
  commit?: string | null;
  proposalDigest?: string | null;
  /** Digests of the policies this workflow has had in force; the statement must name one of them. */
  policyDigests: readonly string[];
  /** The opening statement (a proposal) is made before any workflow has a policy: its digest is recorded, not matched. */
  anyPolicy?: boolean;
  nowMs: number;
  /** How old (or how far in the future, for clock skew) a statement may be. */
  maxAgeMs: number;
  maxFutureMs?: number;
  nonceUsed: (nonce: string) => boolean;
}

const NONCE_RE = /^[0-9a-f]{32,64}$/;
const SHA_RE = /^[0-9a-f]{40}$/;
const DIGEST_RE = /^[0-9a-f]{64}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

const refuse = (code: StatementCode, reason: string): StatementRefusal => ({ ok: false, code, reason });
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Builds the text a person signs: the one canonical form, so signer and verifier agree on every byte. */
export function statementText(s: Statement): string {
  return canonicalJson(s);
}

/** Parses the statement text; returns a reason when its shape is wrong. */
export function parseStatement(text: unknown): Statement | string {
  if (typeof text !== 'string' || text.length === 0) return 'the statement must be the signed JSON text';
  if (text.length > 65_536) return 'the statement is too long (64 KiB at most)';
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return 'the statement is not valid JSON';
  }
  if (!isObj(raw)) return 'the statement must be a JSON object';
  let canonical: string;
  try {
    canonical = canonicalJson(raw);
  } catch {
    return 'the statement holds a value JSON cannot carry';
  }
  if (canonical !== text) return 'the statement is not in canonical form (sorted keys, no whitespace): sign what `steward` builds';
  const s = raw as Record<string, unknown>;
  const keys = ['action', 'commit', 'decision', 'issuedAt', 'nonce', 'policyDigest', 'proposalDigest', 'signer', 'subject', 'v', 'workflowId'];
  const extra = Object.keys(s).filter((k) => !keys.includes(k));
  if (extra.length) return `the statement has unknown fields: ${extra.join(', ')}`;
  if (s.v !== STATEMENT_VERSION) return `statement version must be ${STATEMENT_VERSION}`;
  if (typeof s.action !== 'string' || !(SIGNED_ACTIONS as readonly string[]).includes(s.action)) return 'action is not a Steward action';
  if (typeof s.subject !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(s.subject)) return 'subject must be a change or incident id';
  if (typeof s.workflowId !== 'string' || s.workflowId.length === 0 || s.workflowId.length > 200) return 'workflowId must be a workflow id';
  if (typeof s.signer !== 'string' || !PERSON_ID_RE.test(s.signer)) return 'signer must be a person id';
  if (!isObj(s.decision)) return 'decision must be an object';
  if (s.commit !== null && (typeof s.commit !== 'string' || !SHA_RE.test(s.commit))) return 'commit must be a full 40-character SHA or null';
  if (s.proposalDigest !== null && (typeof s.proposalDigest !== 'string' || !DIGEST_RE.test(s.proposalDigest))) return 'proposalDigest must be a sha256 hex digest or null';
  if (typeof s.policyDigest !== 'string' || !DIGEST_RE.test(s.policyDigest)) return 'policyDigest must be a sha256 hex digest';
  if (typeof s.issuedAt !== 'string' || !ISO_RE.test(s.issuedAt) || Number.isNaN(Date.parse(s.issuedAt))) return 'issuedAt must be an ISO instant in UTC';
  if (typeof s.nonce !== 'string' || !NONCE_RE.test(s.nonce)) return 'nonce must be 32-64 lower-case hex characters';
  return s as unknown as Statement;
}

/** The person owning `key` ("<type> <base64>") in the policy, if any. */
export function ownerOfKey(policy: Pick<PolicyConfig, 'people'>, key: string): string | undefined {
  for (const p of policy.people) {
    for (const k of p.keys ?? []) {
      try {
        if (normalisePublicKey(k) === key) return p.id;
      } catch {
        // an unsupported key was refused when the policy was parsed; ignore here
      }
    }
  }
  return undefined;
}

/**
 * Verifies a signed action against the worker's policy and what the receiving workflow expects. Order matters for
 * the messages: shape, then the signature and the key's owner (who), then what it is about, then time and reuse.
 */
export function verifySignedAction(
  payload: unknown,
  expect: StatementExpectation,
  policy: Pick<PolicyConfig, 'people'>,
): VerifiedStatement | StatementRefusal {
  if (!isObj(payload) || typeof payload.statement !== 'string' || typeof payload.signature !== 'string') {
    return refuse('unsigned', 'the action is not signed: send {statement, signature} made by `steward` with your SSH key (ssh-keygen -Y sign)');
  }
  const parsed = parseStatement(payload.statement);
  if (typeof parsed === 'string') return refuse('unsigned', parsed);
  let sig;
  try {
    sig = parseSshSignature(payload.signature);
  } catch (err) {
    return refuse('bad-signature', err instanceof SshSigError ? err.message : 'the signature cannot be read');
  }
  if (sig.namespace !== ACTION_NAMESPACE) return refuse('bad-signature', `the signature is for namespace "${sig.namespace}", not Steward's "${ACTION_NAMESPACE}"`);
  // Every cheap check comes before the signature arithmetic (last): a flood of forgeries costs the workflow little.
  const owner = ownerOfKey(policy, sig.publicKey);
  if (!owner) return refuse('unknown-key', `the signing key (${sig.keyType}) belongs to nobody in the worker's policy; enrol it under policy.people[].keys`);
  if (owner !== parsed.signer) return refuse('signer-mismatch', `the statement claims signer "${parsed.signer}" but the key is ${owner}'s`);
  if (!expect.actions.includes(parsed.action)) return refuse('wrong-action', `the statement is for "${parsed.action}", not ${expect.actions.join(' / ')}`);
  if (parsed.subject !== expect.subject) return refuse('wrong-subject', `the statement is for ${parsed.subject}, not ${expect.subject}`);
  if (parsed.workflowId !== expect.workflowId) return refuse('wrong-workflow', `the statement is for workflow ${parsed.workflowId}, not ${expect.workflowId}`);
  if (expect.commit !== undefined && parsed.commit !== expect.commit) {
    return refuse('wrong-commit', `the statement is about commit ${parsed.commit ?? '(none)'}, but the change is at ${expect.commit ?? '(not resolved yet)'}; read \`steward status\` and sign again`);
  }
  if (expect.proposalDigest !== undefined && parsed.proposalDigest !== expect.proposalDigest) {
    return refuse('wrong-proposal', 'the statement is about another version of the proposal (its digest differs)');
  }
  if (!expect.anyPolicy && !expect.policyDigests.includes(parsed.policyDigest)) {
    return refuse('wrong-policy', `the statement names policy ${parsed.policyDigest.slice(0, 12)}…, which this workflow has never had in force (now ${expect.policyDigests[expect.policyDigests.length - 1]?.slice(0, 12) ?? '?'}…); sign again`);
  }
  const at = Date.parse(parsed.issuedAt);
  if (expect.nowMs - at > expect.maxAgeMs) return refuse('stale', `the statement was issued at ${parsed.issuedAt}, more than ${Math.round(expect.maxAgeMs / 60_000)} minutes ago; sign again`);
  if (at - expect.nowMs > (expect.maxFutureMs ?? 120_000)) return refuse('stale', `the statement is issued in the future (${parsed.issuedAt}); check the signer's clock`);
  if (expect.nonceUsed(parsed.nonce)) return refuse('replay', 'this statement was already used (its nonce is spent): a signed action counts once');
  if (!verifySshSignature(sig, payload.statement, ACTION_NAMESPACE)) return refuse('bad-signature', 'the signature does not match the statement (tampered, or signed over other text)');
  return { ok: true, statement: parsed, signer: owner, key: sig.publicKey };
}

/** Remembers spent nonces until they are too old to pass the freshness check anyway (bounded state). */
export interface NonceBook {
  nonces: { nonce: string; untilMs: number }[];
}
export function nonceUsed(book: NonceBook, nonce: string): boolean {
  return book.nonces.some((n) => n.nonce === nonce);
}
/** The longest freshness the policy allows (policy.signatureMaxAgeMinutes is at most 60). */
export const MAX_SIGNATURE_AGE_MS = 60 * 60_000;
export function spendNonce(book: NonceBook, nonce: string, issuedAtMs: number, nowMs: number): void {
  book.nonces = book.nonces.filter((n) => n.untilMs > nowMs);
  // Kept past the longest freshness any policy allows, so a later policy edit cannot revive a spent statement.
  book.nonces.push({ nonce, untilMs: issuedAtMs + MAX_SIGNATURE_AGE_MS + 60_000 });
}
