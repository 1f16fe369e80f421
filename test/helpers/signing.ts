// Test people with real SSH keys (ssh-keygen, once per process) and signed actions made the way the CLI makes them
// (src/client/signing.ts: the canonical statement, `ssh-keygen -Y sign`). Tests that forge use these pieces.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { directOrderSubject, signAction, type StatementSubject } from '../../src/client/signing';
import { DEMO_PEOPLE } from '../../src/dev/stack';
import { stewardHome } from '../../src/dev/paths';
import { deploymentWorkflowId, type DeploymentInput, type DeploymentRecord } from '../../src/workflows/deployment';
import type { SignedAction, SignedActionName } from '../../src/domain/statement';

let dir: string | undefined;

/**
 * A person's key: the local stack's own (its demo people are enrolled in the generated config) when there is one,
 * else a fresh key pair in a temporary keyring (mallory, or people of a workflow test's own policy).
 */
export function testKey(name: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): string {
  if (type === 'ed25519') {
    const stack = path.join(process.env.STEWARD_KEYRING ?? path.join(stewardHome(), 'people'), name, 'id_ed25519');
    if (existsSync(stack)) return stack;
  }
  dir ??= mkdtempSync(path.join(os.tmpdir(), 'steward-test-keys-'));
  const key = path.join(dir, name, `id_${type}`);
  if (!existsSync(key)) {
    mkdirSync(path.dirname(key), { recursive: true, mode: 0o700 });
    const args = ['-q', '-t', type, ...(type === 'ecdsa' ? ['-b', '256'] : type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', `${name}@test`, '-f', key];
    const r = spawnSync('ssh-keygen', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
  }
  return key;
}

export const publicKey = (keyFile: string) => readFileSync(`${keyFile}.pub`, 'utf8').trim();

/** The demo people, each with a key of their own (what `steward dev up` enrols). */
export function testPeople() {
  return DEMO_PEOPLE.map((p) => ({ ...p, roles: [...p.roles], keys: [publicKey(testKey(p.id))] }));
}

export interface Subject {
  subject: string;
  workflowId: string;
  commit?: string | null;
  proposalDigest?: string | null;
  policyDigest?: string;
}

/** Signs `decision` as `as` (with their own key unless `keyOf` says whose key to use: a forgery). */
export function signAs(as: string, action: SignedActionName, s: Subject, decision: Record<string, unknown> = {}, opts: { keyOf?: string; issuedAtMs?: number; signer?: string } = {}): SignedAction {
  const subject: StatementSubject = {
    action,
    subject: s.subject,
    workflowId: s.workflowId,
    decision,
    commit: s.commit ?? null,
    proposalDigest: s.proposalDigest ?? null,
    policyDigest: s.policyDigest ?? '0'.repeat(64),
  };
  return signAction(testKey(opts.keyOf ?? as), opts.signer ?? as, subject, opts.issuedAtMs);
}

/** A stand-in for the app repo in workflow tests: a ref's commit is a stable sha of its name (refs with "fails" start fa11). */
export function commitOf(ref: string): string {
  if (/^[0-9a-f]{40}$/.test(ref)) return ref;
  const h = createHash('sha1').update(ref).digest('hex');
  return ref.includes('fails') ? `fa11${h.slice(4)}` : h;
}

/** A decision a running deployment waits for, signed as `as` about that deployment (its id and commit). */
export async function signForDeployment(handle: { workflowId: string; query: (q: string) => Promise<unknown> }, as: string, action: SignedActionName, decision: Record<string, unknown>, opts: Parameters<typeof signAs>[4] = {}): Promise<SignedAction> {
  const r = (await handle.query('status')) as DeploymentRecord;
  return signAs(as, action, { subject: r.changeId, workflowId: r.workflowId, commit: r.commit ?? null, policyDigest: r.policyDigest }, decision, opts);
}

/** A human action on a change, signed as `as` about the change as it is now (its commit, proposal and policy). */
export async function signForChange(handle: { query: (q: string) => Promise<unknown> }, as: string, action: SignedActionName, decision: Record<string, unknown>, opts: Parameters<typeof signAs>[4] = {}): Promise<SignedAction> {
  const s = (await handle.query('status')) as { changeId: string; workflowId: string; commit?: string; proposalDigest?: string; policyDigest?: string };
  return signAs(as, action, { subject: s.changeId, workflowId: s.workflowId, commit: s.commit ?? null, proposalDigest: s.proposalDigest ?? null, policyDigest: s.policyDigest }, decision, opts);
}

/** The demo person who orders deployments started outside a change (an emergency approver in the demo policy). */
export const ORDERED_BY = 'ivan';

/**
 * A signed direct order for a deployment started outside a change (tests and benchmarks start `deployment` directly):
 * signed as `as` (default ivan) under the worker's policy digest, naming the deployment's workflow, environment, gitRef.
 */
export function signDirectOrder(input: Pick<DeploymentInput, 'changeId' | 'environment' | 'gitRef' | 'attempt'>, policyDigest: string, as = ORDERED_BY, opts: { keyOf?: string; issuedAtMs?: number; workflowId?: string } = {}): SignedAction {
  const workflowId = opts.workflowId ?? deploymentWorkflowId(input.changeId, input.environment, input.attempt);
  return signAction(testKey(opts.keyOf ?? as), as, directOrderSubject({ changeId: input.changeId, workflowId, environment: input.environment, gitRef: input.gitRef, policyDigest }), opts.issuedAtMs);
}
