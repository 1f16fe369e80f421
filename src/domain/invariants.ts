/** Financial invariants (playbook §13 "GL balances", §15 "no silent balance change"): pure comparison. */

export type InvariantSnapshot = Record<string, Record<string, string | number>>;

export interface DeclaredBalanceChange {
  tenant: string;
  metric: string;
  reason?: string;
}

export interface InvariantDifference {
  tenant: string;
  metric: string;
  before: string | number | null;
  after: string | number | null;
  reason: string;
}

/** Quantities that are zero in a healthy ledger, whatever was posted. */
export const MUST_BE_ZERO = ['debits_minus_credits', 'deposits_minus_ledger'] as const;

function isZero(v: string | number | undefined): boolean {
  return v !== undefined && Number(v) === 0;
}

/**
 * Compares snapshots before and after a deployment. Every tenant's must-be-zero quantities must be zero after;
 * every other quantity of every tenant but the smoke-test tenant must be unchanged, unless the change declared it.
 */
export function compareInvariants(
  before: InvariantSnapshot | null,
  after: InvariantSnapshot,
  opts: { smokeTenant?: string; declared?: readonly DeclaredBalanceChange[] } = {},
): { ok: boolean; differences: InvariantDifference[]; preExisting: InvariantDifference[] } {
  const differences: InvariantDifference[] = [];
  const preExisting: InvariantDifference[] = [];
  const declared = (t: string, m: string) => (opts.declared ?? []).some((d) => d.tenant === t && d.metric === m);
  for (const [tenant, metrics] of Object.entries(after)) {
    for (const metric of MUST_BE_ZERO) {
      if (!(metric in metrics) || isZero(metrics[metric])) continue;
      const was = before?.[tenant]?.[metric];
      // An imbalance that was already there before this deployment is not this deployment's doing (it is
      // reported as pre-existing); one that appears or moves during it is.
      if (was !== undefined && String(was) === String(metrics[metric])) {
        preExisting.push({ tenant, metric, before: was, after: metrics[metric]!, reason: `${metric} was already ${was} before this deployment` });
        continue;
      }
      differences.push({ tenant, metric, before: was ?? null, after: metrics[metric]!, reason: `${metric} must be 0 in a balanced ledger` });
    }
  }
  if (before) {
    for (const [tenant, metrics] of Object.entries(before)) {
      if (tenant === opts.smokeTenant) continue;
      for (const [metric, value] of Object.entries(metrics)) {
        if ((MUST_BE_ZERO as readonly string[]).includes(metric)) continue;
        const now = after[tenant]?.[metric];
        if (String(now) !== String(value) && !declared(tenant, metric)) {
          differences.push({ tenant, metric, before: value, after: now ?? null, reason: 'changed by the deployment without being declared: a silent balance change' });
        }
      }
    }
  }
  return { ok: differences.length === 0, differences, preExisting };
}
