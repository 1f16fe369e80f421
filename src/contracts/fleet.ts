// The hosts of an environment as a deployment sees them, and each host's part in the deployment record.
// A contract module: shared by the deployment workflow, its activities, the CLI and the reports; pure, no I/O.
import type { SmokeResult } from '../activities/http/smoke';

export interface FleetHost {
  name: string;
  /** Serves the app: switched, restarted and smoke-tested in the rolling order. */
  web: boolean;
  /** Runs the database steps once for the environment (backup, migrations, invariants, feature flags). */
  primary: boolean;
}

export interface Fleet {
  hosts: FleetHost[];
  /** Web hosts switched and restarted together; each batch is checked before the next one starts. */
  batchSize: number;
  /** Hooks the app contract declares absent (hooks.<name>: absent). */
  absentHooks: AppHook[];
  /** What the playbook cannot do for this app, in words, for the record, `status` and the report. */
  limits: string[];
}

export type AppHook = 'maintenance' | 'moduleFreeze' | 'invariants';

/** Pure: what each absent hook takes away from the playbook; said, never skipped silently. */
export function hookLimits(absent: readonly AppHook[]): string[] {
  const words: Record<AppHook, string> = {
    invariants: 'no invariants hook: Steward cannot detect a silent balance change (§15); the invariant checks before and after are skipped',
    moduleFreeze: 'no module freeze hook: a financial rollback cannot disable the feature (§10.3.1); that step fails, is recorded and needs an incident',
    maintenance: 'no maintenance hook: an incident cannot put the app in maintenance mode (§13)',
  };
  return absent.map((h) => words[h]);
}

export type HostDeploymentStatus = 'live' | 'prepared' | 'switching' | 'serving' | 'failed' | 'rolled-back' | 'rollback-failed';

/** One host's part of a deployment, in the deployment record. */
export interface HostDeployment {
  name: string;
  web: boolean;
  primary: boolean;
  /** The release `current` pointed at before this deployment (null on a host's first deployment). */
  previousReleaseId: string | null;
  status: HostDeploymentStatus;
  commit?: string;
  restartMode?: string;
  smoke?: SmokeResult;
  smokeAfter?: SmokeResult;
  detail?: string;
}

/** Pure: the web hosts in rolling batches, in config order. */
export function rolloutBatches<T extends { web: boolean }>(hosts: T[], batchSize: number): T[][] {
  const web = hosts.filter((h) => h.web);
  const size = Math.max(1, Math.floor(batchSize));
  const out: T[][] = [];
  for (let i = 0; i < web.length; i += size) out.push(web.slice(i, i + size));
  return out;
}

/** Pure: one smoke result for the record from each host's, every check named with its host. */
export function combineSmoke(results: { host: string; result: SmokeResult }[]): SmokeResult {
  return {
    ok: results.every((r) => r.result.ok),
    checks: results.flatMap((r) => r.result.checks.map((c) => ({ ...c, name: `${r.host}: ${c.name}` }))),
    durationMs: results.reduce((n, r) => n + r.result.durationMs, 0),
  };
}

/** Pure: one line per host for `status`, the Web UI details and the report. */
export function describeHosts(hosts: HostDeployment[] | undefined): string[] {
  return (hosts ?? []).map((h) => {
    const role = [h.primary ? 'primary' : '', h.web ? '' : 'no web'].filter(Boolean).join(', ');
    const smoke = (s: SmokeResult | undefined, what: string) => (s ? `, ${what} ${s.checks.filter((c) => c.ok).length}/${s.checks.length}` : '');
    return `${h.name}${role ? ` (${role})` : ''}: ${h.status}; previous ${h.previousReleaseId ?? 'none'}${h.restartMode ? `, ${h.restartMode}` : ''}${smoke(h.smoke, 'smoke')}${smoke(h.smokeAfter, 'smoke after rollback')}${h.detail ? ` — ${h.detail}` : ''}`;
  });
}
