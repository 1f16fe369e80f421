/** Hotfix policy (playbook §11, §10.4): who may take the emergency path, and what it still requires. */
import { requiredSignoffs, type SignoffSlot } from './approvals';
import type { PolicyConfig } from './policy';
import { DAY_MS } from './time';
import { HOTFIX_REASONS, type ChangeType, type HotfixReason } from './types';

export interface HotfixEligibility {
  eligible: boolean;
  reasons: string[];
}

const REASON_TEXT: Record<HotfixReason, string> = {
  'production-outage': 'production outage',
  'financial-miscalculation': 'financial miscalculation',
  'security-vulnerability': 'security vulnerability',
};

/** §11: a hotfix is allowed only for a production outage, a financial miscalculation or a security vulnerability. */
export function hotfixEligibility(input: { hotfixReason?: string | undefined; targetEnvironments?: readonly string[] }): HotfixEligibility {
  const r = input.hotfixReason;
  if (r === undefined) {
    return { eligible: false, reasons: [`no hotfixReason given; a hotfix is allowed only for: ${HOTFIX_REASONS.join(', ')} (§11). Use the normal change path otherwise.`] };
  }
  if (!(HOTFIX_REASONS as readonly string[]).includes(r)) {
    return { eligible: false, reasons: [`"${r}" is not a hotfix reason; allowed only: ${HOTFIX_REASONS.join(', ')} (§11)`] };
  }
  if (input.targetEnvironments && !input.targetEnvironments.includes('production')) {
    return { eligible: false, reasons: ['a hotfix fixes production; targetEnvironments must include production'] };
  }
  return { eligible: true, reasons: [`${REASON_TEXT[r as HotfixReason]} (§11)`] };
}

export interface HotfixRequirements {
  /** The minimal review and the emergency approval (from requiredSignoffs with hotfix=true). */
  signoffs: SignoffSlot[];
  smokeTestImmediately: true;
  documentationRequired: true;
  /** A financial miscalculation is never silently patched (§10.3): an incident is opened. */
  incidentRequired: boolean;
  postIncidentReviewRequired: true;
  /** The full review must be done by this instant (deployment time + policy.hotfixFullReviewDays). */
  fullReviewDueMs: number;
  steps: string[];
}

/** What a hotfix still requires (§11 steps 1-5, §10.4). `deployedAtMs` is when the hotfix reached production. */
export function hotfixRequirements(
  change: { type: ChangeType; hotfixReason: HotfixReason; dataMigrationRequired: boolean; financialImpact?: boolean; complianceImpact?: boolean },
  policy: Pick<PolicyConfig, 'hotfixFullReviewDays' | 'quorum'>,
  deployedAtMs: number,
): HotfixRequirements {
  const incidentRequired = change.hotfixReason === 'financial-miscalculation' || change.type === 'financial-logic';
  return {
    signoffs: requiredSignoffs({ ...change, risk: 'critical', hotfix: true }, policy),
    smokeTestImmediately: true,
    documentationRequired: true,
    incidentRequired,
    postIncidentReviewRequired: true,
    fullReviewDueMs: deployedAtMs + policy.hotfixFullReviewDays * DAY_MS,
    steps: [
      'minimal change: a focused fix only (§11.1, §11.2)',
      'minimal review with the full §5 checklist',
      'emergency approval by an emergency-approver who is not the proposer or implementer',
      'deploy, then the smoke test immediately; it is never skipped (§11.3, §15)',
      'document the change in the post-deployment report (§11.4)',
      `full review within ${policy.hotfixFullReviewDays} day(s) (§11.5)`,
      ...(incidentRequired ? ['open and document an incident; never silently patch a financial miscalculation (§10.3)'] : []),
    ],
  };
}
