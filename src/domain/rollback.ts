/** Rollback plans by change type (playbook §10.1–10.4). Pure: the deployment workflow executes the steps. */
import type { ChangeType } from './types';

export const ROLLBACK_ACTIONS = [
  'switch-to-previous-release',
  'restart',
  'reverse-migrations',
  'disable-feature',
  'await-restore-decision',
  'manual-reversal-steps',
  'open-incident',
] as const;
export type RollbackAction = (typeof ROLLBACK_ACTIONS)[number];

export interface AppliedMigration {
  app: string;
  name: string;
  reversible: boolean;
}

export interface RollbackInput {
  changeType: ChangeType;
  /** Migrations this deployment applied, in the order they were applied. */
  migrationsApplied: AppliedMigration[];
  /** Whether the `current` symlink was switched to the new release. */
  releaseSwitched: boolean;
  /** Whether the change touches money (financialImpact), even if its type is not financial-logic. */
  financialImpact?: boolean;
  previousRelease?: string;
  featureFlag?: string;
}

export interface RollbackStep {
  action: RollbackAction;
  reason: string;
  /** Needs a person: the workflow waits for a signal (e.g. decideRestore, completeManualStep). */
  requiresHuman: boolean;
  migrations?: AppliedMigration[];
}

export interface RollbackPlan {
  steps: RollbackStep[];
  requiresHuman: boolean;
  summary: string;
}

/**
 * Ordered rollback steps.
 * - Code only (§10.1): switch to the previous release, restart.
 * - Reversible migrations (§10.2): reverse them newest first, THEN switch and restart. The playbook lists
 *   "revert code" first, but Django can only unapply a migration whose file exists, and the previous release
 *   does not have it; reversing with the new release's code first is the order that works.
 * - Any irreversible migration: stop for a human restore decision before touching schema or code.
 * - Financial logic (§10.3): disable the feature first, revert code, a human decides on restoring the backup,
 *   manual reversal of incorrect transactions, and an incident (never silently patch).
 */
export function rollbackPlan(input: RollbackInput): RollbackPlan {
  const steps: RollbackStep[] = [];
  const financial = input.changeType === 'financial-logic' || input.financialImpact === true;
  const applied = input.migrationsApplied ?? [];
  const irreversible = applied.filter((m) => !m.reversible);
  if (financial) {
    steps.push({
      action: 'disable-feature',
      reason: `financial logic: disable the feature first to stop further postings (§10.3.1)${input.featureFlag ? ` (flag ${input.featureFlag})` : ''}`,
      requiresHuman: false,
    });
  }
  if (irreversible.length > 0) {
    steps.push({
      action: 'await-restore-decision',
      reason: `irreversible migration(s) applied (${irreversible.map((m) => `${m.app}.${m.name}`).join(', ')}): stop; a person decides whether to restore the pre-deployment backup`,
      requiresHuman: true,
      migrations: irreversible,
    });
  } else if (applied.length > 0) {
    steps.push({
      action: 'reverse-migrations',
      reason: 'reverse the applied migrations newest first, with the new release still in place (§10.2; its migration files are needed to unapply)',
      requiresHuman: false,
      migrations: [...applied].reverse(),
    });
  }
  if (input.releaseSwitched) {
    steps.push({
      action: 'switch-to-previous-release',
      reason: `revert code to the previous stable release${input.previousRelease ? ` ${input.previousRelease}` : ''} (§10.1.1)`,
      requiresHuman: false,
    });
    steps.push({ action: 'restart', reason: 'restart the application server on the previous release (§10.1.2)', requiresHuman: false });
  }
  if (financial) {
    if (irreversible.length === 0) {
      steps.push({
        action: 'await-restore-decision',
        reason: 'financial logic: a person decides whether to restore the DB backup (only if severe, §10.3.2)',
        requiresHuman: true,
      });
    }
    steps.push({
      action: 'manual-reversal-steps',
      reason: 'reverse incorrect transactions manually, each step recorded (§10.3.3)',
      requiresHuman: true,
    });
    steps.push({
      action: 'open-incident',
      reason: 'document the incident; never silently patch a financial miscalculation (§10.3.4, §13)',
      requiresHuman: false,
    });
  }
  const requiresHuman = steps.some((s) => s.requiresHuman);
  const summary =
    steps.length === 0
      ? 'nothing to roll back: the release was not switched and no migration was applied'
      : steps.map((s) => s.action).join(' → ');
  return { steps, requiresHuman, summary };
}

/**
 * The order for a fleet (and every deployment since hosts were named): put the previous code back on every switched
 * host first, then reverse the migrations. The reverse still uses the new release's migration files, which stay on
 * the primary host in releases/<id> whatever `current` points at; meanwhile the old code meets the new schema (the
 * additive case a migration must allow anyway) instead of the new code meeting the old schema.
 */
export function codeBeforeMigrations(plan: RollbackPlan): RollbackPlan {
  const reverse = plan.steps.filter((s) => s.action === 'reverse-migrations');
  const restartAt = plan.steps.findIndex((s) => s.action === 'restart');
  if (reverse.length === 0 || restartAt < 0) return plan;
  const rest = plan.steps.filter((s) => s.action !== 'reverse-migrations');
  const at = rest.findIndex((s) => s.action === 'restart') + 1;
  const steps = [...rest.slice(0, at), ...reverse.map((s) => ({ ...s, reason: `${s.reason}; after the code is back on every switched host` })), ...rest.slice(at)];
  return { ...plan, steps, summary: steps.map((s) => s.action).join(' → ') };
}
