// The worker-owned policy as workflows receive it (DESIGN "Trust model"): loaded by an activity from the worker's
// own config, never taken from a workflow input. Shared by the policy activity, the workflows and the CLI.
import type { PolicyConfig } from '../domain/policy';
import type { NonceBook } from '../domain/statement';

export interface LoadedPolicy {
  policy: PolicyConfig;
  /** sha256 of the policy's canonical JSON (policyDigest). */
  digest: string;
  /** Per environment: the policy's protected tables plus the environment database's own list. */
  protectedTables: Record<string, string[]>;
}

/**
 * What a workflow's trust carries into its continue-as-new: the policy it started under (for stricterPolicy: a later
 * edit never weakens an open change), the one it loaded last (so the continued run judges messages at once, as the
 * last run did, until it has loaded the worker's policy again), every digest it has had in force, and the nonce book
 * (a statement used before the rollover is refused after it).
 */
export interface TrustCarry {
  start: LoadedPolicy;
  latest: LoadedPolicy;
  digests: string[];
  nonces: NonceBook['nonces'];
}

export interface PolicyActivities {
  /** Reads the worker's config afresh (a freeze added, a person removed count at once) and records new digests. */
  loadPolicy(input: { reason: string }): Promise<LoadedPolicy>;
  /** Resolves a git ref to the full commit SHA in the environment's app repo (a SHA is checked to exist). */
  resolveCommit(input: { environment: string; gitRef: string }): Promise<{ commit: string }>;
}
