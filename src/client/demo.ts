import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import { up } from '../dev/stack';
import { REPO_ROOT } from '../dev/paths';
import { REVIEW_CHECKLIST } from '../domain';
import { startWorker } from '../workers/worker';
import { changeWorkflowId } from '../workflows/lifecycle-api';
import { proposeChange } from './propose';
import { describeState, signedUpdate, webUiUrl, withCtx } from './lifecycle-client';
import { runPing } from './ping';
import { watchChange } from './watch';
import { CliError } from './temporal';
import { emit, progress } from './output';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('on the local stack: start everything, then run a change end to end (propose, review, approve, staging, production)')
    .option('--proposal <file>', 'the proposal to run', path.join(REPO_ROOT, 'examples', 'proposals', 'demo-cosmetic.yaml'))
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean; proposal: string }) => {
      const parts = await up(progress);
      if (!parts.every((p) => p.ready)) throw new CliError('the local stack is not ready; run `steward dev status`');
      const config = loadConfig(program.opts().config);
      const worker = await startWorker(config, { identity: 'steward-demo', configFile: program.opts().config });
      try {
        progress('pinging the staging and production hosts through a Temporal workflow');
        const { result, url: pingUrl } = await runPing(program.opts().config, ['staging', 'production']);
        for (const h of result.hosts) progress(`ping ${h.environment}: ${h.nodeName} as ${h.user}, deploy root ${h.deployRootOk ? 'ok' : 'MISSING'}`);
        const proposed = await proposeChange(program, opts.proposal);
        progress(`alice proposed ${proposed.changeId} (${proposed.risk} risk); Web UI: ${proposed.url}`);
        const final = await withCtx(program, async (ctx) => {
          const { client } = ctx;
          const id = proposed.changeId;
          const step = async (until: (phase: string) => boolean) => watchChange(client, id, progress, { until: (s) => until(s.phase) });
          let s = await step((p) => p === 'review' || p === 'staging-test' || p === 'approval');
          for (const slot of s.requiredSignoffs.filter((x) => x.kind === 'review')) {
            const who = slot.mode === 'standard' ? 'bob' : slot.mode === 'dba' ? 'grace' : slot.mode === 'auditor' ? 'erin' : slot.mode === 'security' ? 'frank' : 'heidi';
            progress(`${who} reviews (${slot.mode}, full checklist), signed with ${who}'s key`);
            await signedUpdate(ctx, id, 'submitReview', { mode: slot.mode, checklist: [...REVIEW_CHECKLIST] }, { as: who });
          }
          s = await step((p) => p === 'approval');
          if (s.phase === 'approval') {
            for (const who of ['carol', 'dave']) {
              if (s.phase !== 'approval' || s.missing.length === 0) break;
              progress(`${who} approves`);
              s = (await signedUpdate(ctx, id, 'approve', { comment: 'demo approval' }, { as: who })).state;
            }
          }
          s = await step((p) => p === 'post-deployment-review');
          if (s.window && !s.window.open) progress(`the production window is closed (${s.window.reason}); the change waits durably — watch it at ${proposed.url}`);
          if (s.phase === 'post-deployment-review' && s.postDeploymentReportRequired) {
            progress('alice gives the post-deployment review (§12)');
            await signedUpdate(ctx, id, 'submitPostDeploymentReview', { issuesEncountered: 'none', unexpectedBehavior: 'none', performanceImpact: 'none measured', securityImpact: 'none', followUpRequired: false }, { as: 'alice' });
          }
          return step(() => false);
        });
        const url = webUiUrl(config, changeWorkflowId(proposed.changeId));
        let report: string | undefined;
        if (final.reportPath) {
          const { readFileSync } = await import('node:fs');
          report = readFileSync(final.reportPath, 'utf8');
        }
        emit(opts, { ping: result, pingUrl, change: final, url, report }, () => [report ?? '(no report)', '', describeState(final, url)].join('\n'));
      } finally {
        await worker.shutdown();
      }
    });
}
