// The worker-owned policy (DESIGN "Trust model"): read from the worker's own config at every gate, recorded in
// the audit log by digest (the whole document, so `steward audit verify` can check old signatures against the
// keys then in force), and a change of policy recorded with both digests (§15: no silent permission change).
// Also resolves a change's git ref to the commit its approvals are for.
import { ApplicationFailure } from '@temporalio/common';
import { ensureMirror, fetchMirror, releasePaths, resolveCommit as resolveCommitCommand } from '../commands/release';
import { PolicyConfigError } from '../domain/errors';
import { parsePolicyConfig, policyDigest, type PolicyConfig } from '../domain/policy';
import { gitRefProblem } from '../domain/gitref';
import type { StewardConfig } from '../config/schema';
import type { LoadedPolicy, PolicyActivities } from '../contracts/policy';
import type { AuditActivities } from './audit/api';
import { onHost, repoAccessOf, tokenLines, type DeploymentDeps } from './deployment/context';

export interface PolicyDeps extends DeploymentDeps {
  /** Returns the worker's current config (re-read from its file when the worker knows the path). */
  currentConfig?: () => StewardConfig;
  audit?: Pick<AuditActivities, 'appendAuditEvent'>;
}

export const POLICY_SUBJECT = 'policy';

/** The policy as the worker's config gives it, with its digest and each environment's protected tables. */
export function loadWorkerPolicy(config: StewardConfig): LoadedPolicy {
  let policy: PolicyConfig;
  try {
    policy = parsePolicyConfig(config.policy ?? {});
  } catch (err) {
    const detail = err instanceof PolicyConfigError ? err.issues.map((i) => `${i.field}: ${i.message}`).join('; ') : (err as Error).message;
    throw ApplicationFailure.nonRetryable(`the policy in the worker's config is invalid: ${detail}`, 'BadPolicy');
  }
  const protectedTables: Record<string, string[]> = {};
  for (const [name, env] of Object.entries(config.environments)) {
    protectedTables[name] = [...new Set([...policy.protectedTables, ...(env.database.protectedTables ?? []).map((t) => t.toLowerCase())])];
  }
  return { policy, digest: policyDigest(policy), protectedTables };
}

/**
 * Records a policy the first time this digest is seen (idempotent by event id, so several workers agree) and,
 * when it differs from the one recorded before, a "policy-changed" event with both digests.
 */
export async function recordPolicy(audit: Pick<AuditActivities, 'appendAuditEvent'>, loaded: LoadedPolicy, previousDigest: string | undefined, at: string): Promise<void> {
  // The event id names the digest: recorded already (by this or another worker, at another time) is the same event.
  const once = (p: Promise<unknown>) => p.catch((err: unknown) => {
    if (!(err instanceof ApplicationFailure && err.type === 'AuditConflict')) throw err;
  });
  await once(audit.appendAuditEvent({
    eventId: `policy:${loaded.digest}`,
    subject: POLICY_SUBJECT,
    kind: 'policy-loaded',
    actor: 'steward',
    at,
    details: { digest: loaded.digest, policy: loaded.policy as unknown as Record<string, unknown>, protectedTables: loaded.protectedTables },
  }));
  if (previousDigest && previousDigest !== loaded.digest) {
    await once(audit.appendAuditEvent({
      eventId: `policy-changed:${previousDigest}:${loaded.digest}`,
      subject: POLICY_SUBJECT,
      kind: 'policy-changed',
      actor: 'steward',
      at,
      details: { from: previousDigest, to: loaded.digest },
    }));
  }
}

export function createPolicyActivities(deps: PolicyDeps): PolicyActivities {
  const seen = new Set<string>();
  let last: string | undefined;
  return {
    async loadPolicy() {
      const loaded = loadWorkerPolicy(deps.currentConfig ? deps.currentConfig() : deps.config);
      if (deps.audit && deps.config.audit && !seen.has(loaded.digest)) {
        await recordPolicy(deps.audit, loaded, last, new Date().toISOString());
        seen.add(loaded.digest);
      }
      last = loaded.digest;
      return loaded;
    },

    async resolveCommit(input) {
      const problem = gitRefProblem(input.gitRef);
      if (problem) throw ApplicationFailure.nonRetryable(`git ref ${JSON.stringify(input.gitRef)}: ${problem}`, 'BadGitRef');
      const h = onHost(deps, input.environment);
      const p = releasePaths(h.env.app.deployRoot, 'resolve');
      const repo = repoAccessOf(h.env);
      // One exec, one fetch per gate; the deployment that follows finds the commit in this mirror and does not fetch.
      // With repo access the clone and the fetch each read one line of the exec's stdin: the token, once for each.
      const r = (await h.batch(
        [
          { command: ensureMirror(p, h.env.app.repo, repo.access), stdin: repo.stdin !== undefined },
          { command: fetchMirror(p, h.env.app.repo, repo.access), stdin: repo.stdin !== undefined },
          { command: resolveCommitCommand(p, input.gitRef), allowFailure: true },
        ],
        { stdin: tokenLines(repo.stdin, 2) },
      )).steps[2]!;
      const commit = r.stdout.trim();
      if (r.exitCode !== 0 || !/^[0-9a-f]{40}$/.test(commit)) {
        throw ApplicationFailure.nonRetryable(`git ref ${JSON.stringify(input.gitRef)} does not name a commit in the app repo of ${input.environment}`, 'UnknownGitRef');
      }
      return { commit };
    },
  };
}
