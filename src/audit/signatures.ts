// Re-verifies every signed human action kept in the audit log against the keys of the policy it names (the policy
// documents are in the log too, by digest: "policy-loaded" rows). Pure over rows: the same check an auditor runs
// with stock `ssh-keygen -Y verify` on an exported evidence folder.
import { parseStatement, ownerOfKey } from '../domain/statement';
import type { PolicyConfig } from '../domain/policy';
import { ACTION_NAMESPACE, parseSshSignature, verifySshSignature } from '../domain/sshsig';
import type { ChainRow } from './chain';

export interface SignatureProblem {
  seq: number;
  eventId: string;
  reason: string;
}

export interface SignatureReport {
  checked: number;
  problems: SignatureProblem[];
}

const OPENING_ACTIONS = ['propose', 'hotfix', 'openIncident', 'proposeCorrectivePatch'];

/** A signed row whose signature verified, kept until the policy it needs is known (small: no details). */
interface PendingCheck {
  seq: number;
  eventId: string;
  actor: string;
  kind: string;
  signer: string;
  action: string;
  policyDigest: string;
  publicKey: ReturnType<typeof parseSshSignature>['publicKey'];
}

/**
 * Checks signatures while the rows stream past (`steward audit verify` reads the log in batches): each row's
 * statement and signature are checked as it comes, and the row is dropped. Only the recorded policies are kept, and a
 * small record of a row whose policy has not been seen yet (a policy is usually recorded before the actions under
 * it, but an opening statement may name the proposer's copy, and any recorded policy that enrols the key will do).
 */
export class SignatureVerifier {
  readonly #policies = new Map<string, PolicyConfig>();
  readonly #pending: PendingCheck[] = [];
  readonly #problems: SignatureProblem[] = [];
  #checked = 0;

  add(r: ChainRow): void {
    if (r.kind === 'policy-loaded' && typeof r.details.digest === 'string' && r.details.policy) this.#policies.set(r.details.digest, r.details.policy as unknown as PolicyConfig);
    const text = r.details.statement;
    const signature = r.details.signature;
    if (typeof text !== 'string' || typeof signature !== 'string') return;
    this.#checked++;
    const problem = (reason: string): void => void this.#problems.push({ seq: r.seq, eventId: r.eventId, reason });
    const st = parseStatement(text);
    if (typeof st === 'string') return problem(`the statement does not parse: ${st}`);
    let sig;
    try {
      sig = parseSshSignature(signature);
    } catch (err) {
      return problem(`the signature does not parse: ${(err as Error).message}`);
    }
    if (!verifySshSignature(sig, text, ACTION_NAMESPACE)) return problem('the signature does not match the statement');
    const check: PendingCheck = { seq: r.seq, eventId: r.eventId, actor: r.actor, kind: r.kind, signer: st.signer, action: st.action, policyDigest: st.policyDigest, publicKey: sig.publicKey };
    if (this.#policies.has(st.policyDigest)) this.#checkOwner(check);
    else this.#pending.push(check);
  }

  #checkOwner(c: PendingCheck): void {
    const problem = (reason: string): void => void this.#problems.push({ seq: c.seq, eventId: c.eventId, reason });
    const named = this.#policies.get(c.policyDigest);
    const candidates = named ? [named] : OPENING_ACTIONS.includes(c.action) ? [...this.#policies.values()] : [];
    if (candidates.length === 0) return problem(`the statement names policy ${c.policyDigest.slice(0, 12)}…, which is not in the audit log`);
    if (!candidates.some((p) => ownerOfKey(p, c.publicKey) === c.signer)) problem(`the signing key is not ${c.signer}'s in the policy the statement names`);
    if (c.actor !== c.signer && c.kind !== 'rejected-attempt') problem(`the row's actor ${c.actor} is not the signer ${c.signer}`);
  }

  /** How many rows are held for later (the memory the check keeps beside the policies). */
  get pending(): number {
    return this.#pending.length;
  }

  report(): SignatureReport {
    // Every policy of the log is known now.
    for (const c of this.#pending.splice(0)) this.#checkOwner(c);
    return { checked: this.#checked, problems: [...this.#problems].sort((a, b) => a.seq - b.seq) };
  }
}

export function verifyRowSignatures(rows: Iterable<ChainRow>): SignatureReport {
  const v = new SignatureVerifier();
  for (const r of rows) v.add(r);
  return v.report();
}
