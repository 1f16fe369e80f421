// The trust model inside a workflow (DESIGN "Trust model"): the policy comes from the worker (an activity, at
// start and again at every gate; the stricter of then and now applies), and every human action is a signed
// statement verified here, deterministically, before it counts. Shared by changeLifecycle, deployment and
// incidentResponse. No I/O: the policy activity is imported as a type.
import { ApplicationFailure, log, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { LoadedPolicy, PolicyActivities, TrustCarry } from '../contracts/policy';

export type { TrustCarry } from '../contracts/policy';
import { stricterPolicy, type PolicyConfig } from '../domain/policy';
import {
  nonceUsed,
  spendNonce,
  verifySignedAction,
  type NonceBook,
  type SignedAction,
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
  /** Everything a continued run needs to judge as this run does (continue-as-new): see TrustCarry. */
  carry(): TrustCarry | undefined;
}

export function createTrust(subject: string, workflowId: string, restore?: { nonces?: NonceBook['nonces'] } & Partial<TrustCarry>): Trust {
  let start: LoadedPolicy | undefined = restore?.start;
  let latest: LoadedPolicy | undefined = restore?.latest;
  let effective: PolicyConfig | undefined = start && latest ? (start.digest === latest.digest ? latest.policy : stricterPolicy(start.policy, latest.policy)) : undefined;
  const digests: string[] = [...(restore?.digests ?? [])];
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
      // (A restored start with the digest of the policy now is that same policy.)
      effective = start === now || (restore?.start && start.digest === now.digest) ? now.policy : stricterPolicy(start.policy, now.policy);
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
    carry() {
      if (!start || !latest) return undefined;
      // Spent nonces past their keep-until time are dropped (they can no longer be replayed: too old to verify).
      const t = Date.now();
      return { start, latest, digests: [...digests], nonces: book.nonces.filter((n) => n.untilMs > t) };
    },
  };
}

// ---- signed messages --------------------------------------------------------------------------------------

/** How many refused Signals a workflow keeps in its state (the rest are only counted), so no caller can grow it. */
export const MAX_KEPT_REJECTED = 20;

/**
 * After this many refused Signals a workflow stops verifying Signals (they are only counted): verifying thousands of
 * forged statements in one workflow task would exceed the SDK's 5-second task deadline and jam the run. Signed
 * actions still work as Updates (the steward CLI sends Updates), whose validators refuse before anything is recorded.
 */
export const FLOOD_THRESHOLD = 200;
export const FLOOD_REFUSAL: TrustProblem = {
  code: 'flood',
  reason: `more than ${FLOOD_THRESHOLD} refused attempts: Signals to this workflow are counted and no longer verified; send the action as an Update (the steward CLI does)`,
};
/** Whether a workflow with `refused` refused Signals is flooded (behind patched(): runs recorded before replay as they ran). */
export const flooded = (refused: number) => refused >= FLOOD_THRESHOLD && patched('signal-flood-guard');

/** What a message's judge returns: the decision with its verified statement, or why it is refused. */
export type Judged<T> = { x: T; v: VerifiedStatement } | TrustProblem;

export interface SignedMessage<S, T> {
  /** The message's name, for the log. */
  name: string;
  update: UpdateDefinition<S, [SignedAction]>;
  signal: SignalDefinition<[SignedAction]>;
  /** Verifies the statement and checks its decision against the workflow's state. Pure: runs in the validator. */
  judge(payload: unknown): Judged<T>;
  /** Applies an accepted decision; its nonce is already spent. */
  apply(x: T, v: VerifiedStatement, payload: SignedAction): Promise<void> | void;
  /** What the Update returns. */
  result(): S;
  /** Records a refused Signal (bounded by the workflow); an Update is refused by its validator instead. */
  rejected(p: TrustProblem, payload: unknown): Promise<void> | void;
  /** How many Signals this workflow has refused so far (see FLOOD_THRESHOLD). */
  refusedSignals(): number;
}

/**
 * The Update and the Signal of one human message, with one path for both: the same verification and checks, the
 * same effect, and each statement counts once. A refused Update reaches its caller from the validator, before
 * anything is recorded; a refused Signal is recorded as a rejected attempt. Handlers never throw: a Signal handler
 * that threw would fail the whole run.
 */
export function setSignedHandlers<S, T>(trust: Trust, m: SignedMessage<S, T>): void {
  const accept = async (r: { x: T; v: VerifiedStatement }, payload: SignedAction) => {
    trust.spend(r.v);
    await m.apply(r.x, r.v, { statement: payload.statement, signature: payload.signature });
  };
  setHandler(
    m.update,
    async (payload: SignedAction) => {
      const r = m.judge(payload);
      if ('v' in r) await accept(r, payload); // a refusal cannot get past the validator; never throw here
      return m.result();
    },
    {
      validator: (payload: SignedAction) => {
        const r = m.judge(payload);
        if (!('v' in r)) throw ApplicationFailure.nonRetryable(r.reason, r.code);
      },
    },
  );
  setHandler(m.signal, async (payload: SignedAction) => {
    try {
      if (flooded(m.refusedSignals())) return await m.rejected(FLOOD_REFUSAL, payload);
      const r = m.judge(payload);
      if (!('v' in r)) return await m.rejected(r, payload);
      try {
        await accept(r, payload);
      } catch (err) {
        // The effect itself refused (e.g. the audit store could not record it, so it is not applied).
        const e = err as { type?: string; message?: string };
        await m.rejected({ code: e.type ?? 'not-applied', reason: String(e.message) }, payload);
      }
    } catch (err) {
      log.error('signal handler failed', { name: m.name, error: (err as Error).message });
    }
  });
}

/** Keeps a refused attempt: the last MAX_KEPT_REJECTED of them (the workflow keeps the count). */
export function keepRejected<A>(kept: A[], attempt: A): void {
  kept.push(attempt);
  if (kept.length > MAX_KEPT_REJECTED) kept.splice(0, kept.length - MAX_KEPT_REJECTED);
}

/** The signer a payload claims, for the record of a rejected attempt (never trusted). */
export function claimedSigner(payload: unknown): string | undefined {
  try {
    const text = (payload as { statement?: unknown } | null)?.statement;
    if (typeof text !== 'string' || text.length > 65_536) return undefined;
    const signer = (JSON.parse(text) as { signer?: unknown }).signer;
    return typeof signer === 'string' && /^[a-z][a-z0-9._-]{1,63}$/.test(signer) ? signer : undefined;
  } catch {
    return undefined;
  }
}
