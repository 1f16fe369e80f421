/**
 * The change lifecycle (playbook §2) as an explicit graph. "No shortcuts": only the edges below exist.
 * Normal:  proposal → planning → implementation → review → staging-test → approval → deployment
 *          → post-deployment-review → completed
 * Hotfix (§11): proposal → review (minimal) → approval (emergency) → deployment (smoke test is part of it,
 *          never skipped) → post-deployment-review → full-review → completed. A hotfix may also pass through
 *          staging-test when it targets staging.
 * Gates: an edge may require facts (e.g. `quorumMet`); a gate not given as true is not met.
 */
import { refuse, PolicyViolation, type Refusal } from './errors';

export const PHASES = [
  'proposal',
  'planning',
  'implementation',
  'review',
  'staging-test',
  'approval',
  'deployment',
  'post-deployment-review',
  'full-review',
  'completed',
  'rejected',
  'withdrawn',
  'rolled-back',
  'failed',
] as const;
export type Phase = (typeof PHASES)[number];

export const TERMINAL_PHASES: readonly Phase[] = ['completed', 'rejected', 'withdrawn', 'rolled-back', 'failed'];

export const GATES = [
  'proposalAccepted',
  'hotfixEligible',
  'reviewsComplete',
  'stagingPassed',
  'quorumMet',
  'emergencyApproved',
  'smokePassed',
  'reportSubmitted',
  'fullReviewDone',
] as const;
export type Gate = (typeof GATES)[number];

export interface TransitionContext {
  hotfix: boolean;
  gates?: Partial<Record<Gate, boolean>>;
}

interface Edge {
  from: Phase;
  to: Phase;
  paths: ReadonlyArray<'normal' | 'hotfix'>;
  gates: readonly Gate[];
  why: string;
  /** Part of the forward (happy) path, returned by nextPhase. */
  forward?: boolean;
}

const N = ['normal'] as const;
const H = ['hotfix'] as const;
const B = ['normal', 'hotfix'] as const;

const PRE_DEPLOY: Phase[] = ['proposal', 'planning', 'implementation', 'review', 'staging-test', 'approval'];

export const EDGES: readonly Edge[] = [
  { from: 'proposal', to: 'planning', paths: N, gates: ['proposalAccepted'], why: 'proposal reviewed and accepted (§3: only then may work begin)', forward: true },
  { from: 'planning', to: 'implementation', paths: N, gates: [], why: 'plan recorded', forward: true },
  { from: 'implementation', to: 'review', paths: N, gates: [], why: 'implementation submitted for review (§5)', forward: true },
  { from: 'review', to: 'staging-test', paths: N, gates: ['reviewsComplete'], why: 'required reviews complete (§5, before staging)', forward: true },
  { from: 'review', to: 'implementation', paths: N, gates: [], why: 'changes requested by review' },
  { from: 'staging-test', to: 'approval', paths: B, gates: ['stagingPassed'], why: 'staging tests passed (§7)', forward: true },
  { from: 'staging-test', to: 'implementation', paths: N, gates: [], why: 'staging tests failed; back to implementation' },
  { from: 'approval', to: 'deployment', paths: N, gates: ['quorumMet'], why: 'approval quorum met (§5 maker-checker)', forward: true },
  { from: 'deployment', to: 'post-deployment-review', paths: B, gates: ['smokePassed'], why: 'deployed and smoke test passed (§8, §9)', forward: true },
  { from: 'deployment', to: 'rolled-back', paths: B, gates: [], why: 'deployment failed or smoke test failed; rolled back (§10)' },
  { from: 'deployment', to: 'failed', paths: B, gates: [], why: 'deployment failed and could not be rolled back automatically' },
  { from: 'post-deployment-review', to: 'completed', paths: N, gates: ['reportSubmitted'], why: 'post-deployment review recorded (§12)', forward: true },
  // hotfix path
  { from: 'proposal', to: 'review', paths: H, gates: ['hotfixEligible'], why: 'hotfix eligible (§11): skips planning and implementation; minimal review', forward: true },
  { from: 'review', to: 'approval', paths: H, gates: ['reviewsComplete'], why: 'minimal hotfix review complete', forward: true },
  { from: 'review', to: 'staging-test', paths: H, gates: ['reviewsComplete'], why: 'minimal hotfix review complete; testing on staging first' },
  { from: 'approval', to: 'deployment', paths: H, gates: ['emergencyApproved'], why: 'emergency approval given', forward: true },
  { from: 'post-deployment-review', to: 'full-review', paths: H, gates: ['reportSubmitted'], why: 'hotfix documented; full review scheduled (§11.5)', forward: true },
  { from: 'full-review', to: 'completed', paths: H, gates: ['fullReviewDone'], why: 'full review of the hotfix done (§11.5)', forward: true },
  // rejection and withdrawal before deployment
  ...(['proposal', 'planning', 'review', 'staging-test', 'approval'] as Phase[]).map(
    (from): Edge => ({ from, to: 'rejected', paths: B, gates: [], why: 'rejected by a reviewer or approver' }),
  ),
  ...PRE_DEPLOY.map((from): Edge => ({ from, to: 'withdrawn', paths: B, gates: [], why: 'withdrawn by the proposer' })),
];

export type TransitionVerdict = { ok: true; reason: string } | Refusal<'terminal' | 'not-an-edge' | 'wrong-path' | 'gate-not-met' | 'unknown-phase'>;

export function isPhase(x: unknown): x is Phase {
  return typeof x === 'string' && (PHASES as readonly string[]).includes(x);
}

export function isTerminal(phase: Phase): boolean {
  return TERMINAL_PHASES.includes(phase);
}

/** Whether `from → to` is allowed for this change (normal or hotfix path) given the gates. */
export function canTransition(from: Phase, to: Phase, ctx: TransitionContext): TransitionVerdict {
  if (!isPhase(from) || !isPhase(to)) return refuse('unknown-phase', `unknown phase "${String(!isPhase(from) ? from : to)}"; phases: ${PHASES.join(', ')}`);
  if (isTerminal(from)) return refuse('terminal', `the change is ${from}; nothing follows a terminal phase`);
  const path = ctx.hotfix ? 'hotfix' : 'normal';
  const edges = EDGES.filter((e) => e.from === from && e.to === to);
  if (edges.length === 0) {
    const allowed = allowedNext(from, ctx).join(', ') || 'nothing';
    return refuse('not-an-edge', `${from} → ${to} is not in the lifecycle (no shortcuts, §2); from ${from} the change may go to: ${allowed}`);
  }
  const edge = edges.find((e) => e.paths.includes(path));
  if (!edge) {
    return refuse('wrong-path', `${from} → ${to} exists only for ${path === 'hotfix' ? 'normal changes' : 'hotfixes'}`);
  }
  const unmet = edge.gates.filter((g) => ctx.gates?.[g] !== true);
  if (unmet.length > 0) return refuse('gate-not-met', `${from} → ${to} needs: ${unmet.join(', ')}`);
  return { ok: true, reason: edge.why };
}

/** Throws PolicyViolation (code from the refusal) when the transition is not allowed. */
export function assertTransition(from: Phase, to: Phase, ctx: TransitionContext): string {
  const v = canTransition(from, to, ctx);
  if (!v.ok) throw new PolicyViolation(v.code, v.reason);
  return v.reason;
}

/** Phases reachable in one step on this change's path (ignoring gates). */
export function allowedNext(from: Phase, ctx: Pick<TransitionContext, 'hotfix'>): Phase[] {
  const path = ctx.hotfix ? 'hotfix' : 'normal';
  return EDGES.filter((e) => e.from === from && e.paths.includes(path)).map((e) => e.to);
}

export interface NextPhase {
  phase: Phase | null;
  reason: string;
  /** Gates that must be true to take the step (some may already be met). */
  gates: Gate[];
}

/** The forward (happy-path) successor of `from`, with the gates it needs; null for terminal phases. */
export function nextPhase(from: Phase, ctx: Pick<TransitionContext, 'hotfix'>): NextPhase {
  if (isTerminal(from)) return { phase: null, reason: `${from} is terminal`, gates: [] };
  const path = ctx.hotfix ? 'hotfix' : 'normal';
  const e = EDGES.find((x) => x.from === from && x.forward && x.paths.includes(path));
  if (!e) return { phase: null, reason: `no forward step from ${from} on the ${path} path`, gates: [] };
  return { phase: e.to, reason: e.why, gates: [...e.gates] };
}

/** §12: a post-deployment report is required after any high/critical change (and every hotfix). */
export function postDeploymentReportRequired(risk: string, hotfix: boolean): boolean {
  return hotfix || risk === 'high' || risk === 'critical';
}
