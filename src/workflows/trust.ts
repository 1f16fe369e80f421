// The trust model inside a workflow (DESIGN "Trust model"): the policy comes from the worker (an activity, at
// start and again at every gate; the stricter of then and now applies), and every human action is a signed
// statement verified here, deterministically, before it counts. Shared by changeLifecycle, deployment and
// incidentResponse. No I/O: the policy activity is imported as a type.
import { proxyActivities } from '@temporalio/workflow';
import type { LoadedPolicy, PolicyActivities } from '../contracts/policy';
import { stricterPolicy, type PolicyConfig } from '../domain/policy';
import {
  nonceUsed,
  spendNonce,
  verifySignedAction,
  type NonceBook,
  type SignedActionName,
  type StatementRefusal,
  type VerifiedStatement,
} from '../domain/statement';

const policyActivities = proxyActivities<PolicyActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 10 },
});

export interface TrustProblem {
  code: string;
  reason: string;
}

/** Names of workflow-input fields a caller might use to bring its own policy: always refused. */
const POLICY_FIELDS = ['policy', 'protectedTables', 'people', 'quorum', 'freezes', 'windows'];

/**
 * Refuses an input with fields outside `allowed` (a caller-supplied policy above all), naming them. Thrown as a
 * non-retryable failure, so `temporal workflow start` with a weakened policy ends at once and changes nothing.
 */
export function unexpectedInputFields(input: unknown, allowed: readonly string[]): string | null {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'the input must be an object';
  const extra = Object.keys(input).filter((k) => !allowed.includes(k));
  if (extra.length === 0) return null;
  const policyish = extra.filter((k) => POLICY_FIELDS.includes(k));
  if (policyish.length) {
    return `the input carries ${policyish.join(', ')}: the policy (people, roles, keys, quorums, windows, freezes, protected tables) comes from the worker's own config, never from a caller`;
  }
  return `unknown input fields: ${extra.join(', ')}; the input carries the proposal and ids only`;
}

export interface Trust {
  /** The policy in force now: the stricter of the one at start and the worker's latest. Undefined until loaded. */
  readonly policy: PolicyConfig | undefined;
  readonly startDigest: string | undefined;
  readonly digest: string | undefined;
  /** Every digest this workflow has had in force (a statement must name one of them). */
  readonly digests: readonly string[];
  protectedTables(environment: string): string[];
  /** Loads (or re-loads, at a gate) the worker's policy; returns the digest change when there was one. */
  load(reason: string): Promise<{ from: string; to: string } | null>;
  /** Verifies a signed action; does not spend it (call spend() when the action is applied). */
  verify(payload: unknown, expect: { actions: readonly SignedActionName[]; commit?: string | null; proposalDigest?: string | null; anyPolicy?: boolean }): VerifiedStatement | StatementRefusal | TrustProblem;
  /** Marks the statement's nonce as used: a signed action counts once. */
  spend(v: VerifiedStatement): void;
  /** Serialisable state for continue-as-new or the status query. */
  snapshot(): { digests: string[]; nonces: NonceBook['nonces'] };
}

export function createTrust(subject: string, workflowId: string, restore?: { nonces?: NonceBook['nonces'] }): Trust {
  let start: LoadedPolicy | undefined;
  let latest: LoadedPolicy | undefined;
  let effective: PolicyConfig | undefined;
  const digests: string[] = [];
  const book: NonceBook = { nonces: [...(restore?.nonces ?? [])] };
  return {
    get policy() {
      return effective;
    },
    get startDigest() {
      return start?.digest;
    },
    get digest() {
      return latest?.digest;
    },
    get digests() {
      return digests;
    },
    protectedTables(environment: string) {
      const a = start?.protectedTables[environment] ?? start?.policy.protectedTables ?? [];
      const b = latest?.protectedTables[environment] ?? latest?.policy.protectedTables ?? [];
      return [...new Set([...a, ...b])];
    },
    async load(reason: string) {
      const now = await policyActivities.loadPolicy.executeWithOptions({ summary: `load the worker's policy (${reason})` }, [{ reason }]);
      const before = latest?.digest;
      start ??= now;
      latest = now;
      if (!digests.includes(now.digest)) digests.push(now.digest);
      effective = start === now ? now.policy : stricterPolicy(start.policy, now.policy);
      return before && before !== now.digest ? { from: before, to: now.digest } : null;
    },
    verify(payload, expect) {
      if (!effective) return { code: 'not-ready', reason: 'the workflow is still loading the policy; try again in a moment' };
      return verifySignedAction(
        payload,
        {
          actions: expect.actions,
          subject,
          workflowId,
          commit: expect.commit,
          proposalDigest: expect.proposalDigest,
          policyDigests: digests,
          anyPolicy: expect.anyPolicy,
          nowMs: Date.now(),
          maxAgeMs: effective.signatureMaxAgeMinutes * 60_000,
          nonceUsed: (n) => nonceUsed(book, n),
        },
        effective,
      );
    },
    spend(v) {
      spendNonce(book, v.statement.nonce, Date.parse(v.statement.issuedAt), Date.now());
    },
    snapshot() {
      return { digests: [...digests], nonces: [...book.nonces] };
    },
  };
}
