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

export function verifyRowSignatures(rows: ChainRow[]): SignatureReport {
  const policies = new Map<string, PolicyConfig>();
  for (const r of rows) {
    if (r.kind === 'policy-loaded' && typeof r.details.digest === 'string' && r.details.policy) policies.set(r.details.digest, r.details.policy as unknown as PolicyConfig);
  }
  let checked = 0;
  const problems: SignatureProblem[] = [];
  for (const r of rows) {
    const text = r.details.statement;
    const signature = r.details.signature;
    if (typeof text !== 'string' || typeof signature !== 'string') continue;
    checked++;
    const problem = (reason: string) => problems.push({ seq: r.seq, eventId: r.eventId, reason });
    const st = parseStatement(text);
    if (typeof st === 'string') {
      problem(`the statement does not parse: ${st}`);
      continue;
    }
    let sig;
    try {
      sig = parseSshSignature(signature);
    } catch (err) {
      problem(`the signature does not parse: ${(err as Error).message}`);
      continue;
    }
    if (!verifySshSignature(sig, text, ACTION_NAMESPACE)) {
      problem('the signature does not match the statement');
      continue;
    }
    // The policy the statement names; an opening statement (a proposal) may name the proposer's copy, so any
    // recorded policy that enrols the key for the signer will do for it.
    const named = policies.get(st.policyDigest);
    const candidates = named ? [named] : ['propose', 'hotfix', 'openIncident', 'proposeCorrectivePatch'].includes(st.action) ? [...policies.values()] : [];
    if (candidates.length === 0) {
      problem(`the statement names policy ${st.policyDigest.slice(0, 12)}…, which is not in the audit log`);
      continue;
    }
    if (!candidates.some((p) => ownerOfKey(p, sig.publicKey) === st.signer)) problem(`the signing key is not ${st.signer}'s in the policy the statement names`);
    if (r.actor !== st.signer && r.kind !== 'rejected-attempt') problem(`the row's actor ${r.actor} is not the signer ${st.signer}`);
  }
  return { checked, problems };
}
