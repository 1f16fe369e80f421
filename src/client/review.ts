import type { Command } from 'commander';
import { REVIEW_CHECKLIST } from '../domain';
import { describeState, signedUpdate, withCtx } from './lifecycle-client';
import { signingOptions } from './signing';
import { emit } from './output';
import { CliError } from './temporal';

export function registerReview(program: Command): void {
  signingOptions(
    program
      .command('review')
      .description(`review a change (§5), signed with your SSH key; or, in post-deployment-review, give the §12 review with --post-deployment`)
      .argument('<id>', 'the change id'),
  )
    .option('--mode <mode>', 'standard|auditor|security|dba|compliance', 'standard')
    .option('--check <items>', `comma-separated checklist items done: ${REVIEW_CHECKLIST.join(',')}`, '')
    .option('--comment <text>', 'a comment for the record')
    .option('--post-deployment', 'submit the post-deployment review (§12) instead')
    .option('--issues <text>', '§12 issues encountered', 'none')
    .option('--unexpected <text>', '§12 unexpected behavior', 'none')
    .option('--performance <text>', '§12 performance impact', 'none')
    .option('--security <text>', '§12 security impact', 'none')
    .option('--follow-up', '§12 follow-up required')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { as?: string; key?: string; mode: string; check: string; comment?: string; postDeployment?: boolean; issues: string; unexpected: string; performance: string; security: string; followUp?: boolean; json?: boolean }) => {
      await withCtx(program, async (ctx) => {
        if (o.postDeployment) {
          const { state: s, by } = await signedUpdate(ctx, id, 'submitPostDeploymentReview', {
            issuesEncountered: o.issues,
            unexpectedBehavior: o.unexpected,
            performanceImpact: o.performance,
            securityImpact: o.security,
            followUpRequired: o.followUp === true,
          }, o);
          emit(o, s, () => `post-deployment review by ${by} recorded\n${describeState(s)}`);
          return;
        }
        const checklist = o.check.split(',').map((x) => x.trim()).filter(Boolean);
        if (checklist.length === 0) throw new CliError(`give the checklist items you verified with --check ${REVIEW_CHECKLIST.join(',')}`, 2);
        const { state: s, by } = await signedUpdate(ctx, id, 'submitReview', { mode: o.mode, checklist, ...(o.comment ? { comment: o.comment } : {}) }, o);
        emit(o, s, () => `${o.mode} review by ${by} recorded\n${describeState(s)}`);
      });
    });
}
