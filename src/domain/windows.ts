/**
 * Deployment windows (playbook §15 "not on Friday night"): the weekly blackout in policy.timeZone
 * (default Fri 16:00 → Mon 06:00) and configured freeze periods. Exact across DST changes: the
 * local wall clock is computed per instant with Intl, and the next opening is found by jumping
 * from one blocking cause's end to the next, never by sampling.
 */
import type { BlackoutRule, PolicyConfig, Weekday } from './policy';
import { WEEKDAYS } from './policy';
import { DAY_MS, WEEK_MS, isValidInstant, offsetMs, wallWeekOffset, MAX_INSTANT_MS } from './time';
import type { Environment } from './types';

export interface WindowOptions {
  environment: Environment;
  hotfix?: boolean;
  /** True only when a hotfix holds its emergency approval. */
  emergencyApproved?: boolean;
}

export interface WindowVerdict {
  open: boolean;
  reason: string;
  /** When closed: the first instant at or after now at which the window is open (absent if none within the horizon). */
  nextOpeningMs?: number;
  /** True when a hotfix deploys inside a blackout/freeze thanks to its emergency approval. */
  overridden?: boolean;
  /** What blocks (or would block, when overridden) at nowMs. */
  blockedBy?: string[];
}

/** How far ahead nextOpeningMs is searched. */
export const WINDOW_HORIZON_MS = 2 * 366 * DAY_MS;

type WindowPolicy = Pick<PolicyConfig, 'timeZone' | 'windows' | 'freezes'>;

interface Blocker {
  description: string;
  /** Every instant in [at, untilMs) is blocked by this cause; untilMs > at. */
  untilMs: number;
}

function weekMs(day: Weekday, time: string): number {
  const [h, m] = time.split(':').map(Number);
  return WEEKDAYS.indexOf(day) * DAY_MS + (h ?? 0) * 3_600_000 + (m ?? 0) * 60_000;
}

function ruleContains(rule: BlackoutRule, w: number): { contains: boolean; toMs: number } {
  const from = weekMs(rule.fromDay, rule.fromTime);
  const to = weekMs(rule.toDay, rule.toTime);
  const contains = from < to ? w >= from && w < to : w >= from || w < to;
  return { contains, toMs: to };
}

/** First instant in (t, limit] whose UTC offset differs from `off`, or Infinity. */
function nextOffsetChange(t: number, off: number, limit: number, timeZone: string): number {
  const STEP = DAY_MS / 2;
  let prev = t;
  for (let probe = Math.min(t + STEP, limit); ; probe = Math.min(probe + STEP, limit)) {
    if (offsetMs(probe, timeZone) !== off) {
      let lo = prev;
      let hi = probe;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offsetMs(mid, timeZone) !== off) hi = mid;
        else lo = mid;
      }
      return hi;
    }
    if (probe >= limit) return Infinity;
    prev = probe;
  }
}

function describeRule(r: BlackoutRule, timeZone: string): string {
  return `blackout ${r.fromDay} ${r.fromTime} → ${r.toDay} ${r.toTime} (${timeZone})`;
}

function blockersAt(t: number, policy: WindowPolicy, env: Environment): Blocker[] {
  const out: Blocker[] = [];
  if (policy.windows.blockedEnvironments.includes(env)) {
    const off = offsetMs(t, policy.timeZone);
    const w = wallWeekOffset(t + off);
    let segEnd: number | undefined;
    for (const rule of policy.windows.blackout) {
      const { contains, toMs } = ruleContains(rule, w);
      if (!contains) continue;
      const delta = (((toMs - w) % WEEK_MS) + WEEK_MS) % WEEK_MS || WEEK_MS;
      const exit = t + delta;
      if (segEnd === undefined) segEnd = nextOffsetChange(t, off, exit, policy.timeZone);
      out.push({ description: describeRule(rule, policy.timeZone), untilMs: Math.min(exit, segEnd) });
    }
  }
  for (const f of policy.freezes) {
    if (f.environments.includes(env) && t >= f.fromMs && t < f.toMs) {
      out.push({ description: `freeze ${f.from} → ${f.to}: ${f.reason}`, untilMs: f.toMs });
    }
  }
  return out;
}

/** True when no blackout or freeze applies to `environment` at instant `t` (overrides not considered). */
export function isWindowOpen(t: number, policy: WindowPolicy, environment: Environment): boolean {
  return blockersAt(t, policy, environment).length === 0;
}

/** The first instant ≥ t at which the window is open, or undefined if none within WINDOW_HORIZON_MS. */
export function nextWindowOpening(t: number, policy: WindowPolicy, environment: Environment): number | undefined {
  const horizon = Math.min(t + WINDOW_HORIZON_MS, MAX_INSTANT_MS - WEEK_MS);
  let u = t;
  for (let i = 0; i < 100_000 && u <= horizon; i++) {
    const b = blockersAt(u, policy, environment);
    if (b.length === 0) return u;
    u = Math.max(...b.map((x) => x.untilMs));
  }
  return undefined;
}

function localText(ms: number, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    }).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString();
  }
}

/** Is a deployment to `opts.environment` allowed at nowMs? Total: any number gives an answer. */
export function deploymentWindow(nowMs: number, policy: WindowPolicy, opts: WindowOptions): WindowVerdict {
  if (!isValidInstant(nowMs) || Math.abs(nowMs) > MAX_INSTANT_MS - WINDOW_HORIZON_MS - WEEK_MS) {
    return { open: false, reason: `the time ${String(nowMs)} is not a valid instant; deployments are refused` };
  }
  const blockers = blockersAt(nowMs, policy, opts.environment);
  if (blockers.length === 0) {
    return { open: true, reason: `open: no blackout or freeze applies to ${opts.environment} at ${localText(nowMs, policy.timeZone)}` };
  }
  const blockedBy = blockers.map((b) => b.description);
  if (opts.hotfix && opts.emergencyApproved) {
    return {
      open: true,
      overridden: true,
      blockedBy,
      reason: `open for this hotfix only: the emergency approval overrides ${blockedBy.join('; ')}`,
    };
  }
  const next = nextWindowOpening(nowMs, policy, opts.environment);
  const when = next === undefined ? 'no opening within the next two years' : `next opening ${localText(next, policy.timeZone)}`;
  const hint = opts.hotfix ? '; a hotfix may deploy now only with an emergency approval' : '; the change waits for the window';
  const v: WindowVerdict = {
    open: false,
    blockedBy,
    reason: `${opts.environment} deployments are blocked by ${blockedBy.join('; ')}; ${when}${hint}`,
  };
  if (next !== undefined) v.nextOpeningMs = next;
  return v;
}
