// `steward hotfix FILE`: a change on the hotfix path (playbook §11) — refused with the reason unless it is for a
// production outage, a financial miscalculation or a security vulnerability. With --incident, the incident starts
// it as its corrective patch (§13.6) and follows it; the module stays frozen until it is deployed.
import type { Command } from 'commander';
import { classifyRisk, defaultPolicy, hotfixEligibility, hotfixRequirements, initialApprovalState, requiredSignoffs } from '../domain';
import { incidentWorkflowId } from '../workflows/incident-api';
import { changeWorkflowId } from '../workflows/lifecycle-api';
import { signedIncidentUpdate } from './incident';
import { proposalDigest } from '../domain/proposal';
import { newChangeId, webUiUrl, withCtx } from './lifecycle-client';
import { emit } from './output';
import { proposeChange, readProposal } from './propose';
import { CliError } from './temporal';

export function registerHotfix(program: Command): void {
  program
    .command('hotfix')
    .description('propose a hotfix (§11): minimal review, emergency approval, immediate smoke test, full review scheduled')
    .argument('<file>', 'the proposal YAML, with hotfixReason: production-outage | financial-miscalculation | security-vulnerability')
    .option('--id <CHANGE_ID>', 'use this change id instead of a generated one')
    .option('--incident <INCIDENT_ID>', 'the incident this hotfix corrects: the incident starts and follows it')
    .option('--as <user>', 'who proposes it (optional: the signing key says it; must match the proposal\'s proposer)')
    .option('--key <file>', 'your SSH key to sign with (default $STEWARD_SIGNING_KEY or ~/.ssh/id_ed25519)')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { id?: string; incident?: string; as?: string; key?: string; json?: boolean }) => {
      const proposal = readProposal(file);
      const elig = hotfixEligibility({ hotfixReason: proposal.hotfixReason, targetEnvironments: proposal.targetEnvironments });
      if (!elig.eligible) {
        throw new CliError(`refused: ${file} is not eligible for the hotfix path: ${elig.reasons.join('; ')}\nUse \`steward propose ${file}\` for the normal change path.`, 2);
      }
      const req = hotfixRequirements(
        { type: proposal.type, hotfixReason: proposal.hotfixReason!, dataMigrationRequired: proposal.dataMigrationRequired, financialImpact: proposal.financialImpact, complianceImpact: proposal.complianceImpact },
        defaultPolicy(),
        Date.now(),
      );
      if (opts.incident) {
        const incidentId = opts.incident;
        const changeId = opts.id ?? newChangeId();
        const r = await withCtx(program, async (ctx) => {
          const { config, policy } = ctx;
          const { risk } = classifyRisk(proposal);
          const slots = requiredSignoffs(initialApprovalState({ changeId, proposal, risk }), policy);
          const { state: s } = await signedIncidentUpdate(ctx, incidentId, 'proposeCorrectivePatch', { changeId, proposal }, { key: opts.key, as: opts.as ?? proposal.proposer }, proposalDigest(proposal));
          return { changeId, workflowId: changeWorkflowId(changeId), incidentId, incidentStep: s.step, requiredSignoffs: slots, steps: req.steps, url: webUiUrl(config, changeWorkflowId(changeId)), incidentUrl: webUiUrl(config, incidentWorkflowId(incidentId)) };
        });
        emit(opts, r, () =>
          [
            `hotfix ${r.changeId} started by incident ${r.incidentId} (${elig.reasons.join('; ')})`,
            'signoffs required:',
            ...r.requiredSignoffs.map((s) => `  - ${s.id} ×${s.count}: ${s.why}`),
            'hotfix steps:',
            ...r.steps.map((s) => `  - ${s}`),
            `Web UI: ${r.url}`,
          ].join('\n'),
        );
        return;
      }
      const r = await proposeChange(program, file, opts.id, { key: opts.key, as: opts.as }, 'hotfix');
      emit(opts, { ...r, hotfix: true, eligibility: elig.reasons, steps: req.steps }, () =>
        [
          `hotfix ${r.changeId} proposed (workflow ${r.workflowId}): ${elig.reasons.join('; ')}`,
          'signoffs required:',
          ...r.requiredSignoffs.map((s) => `  - ${s.id} ×${s.count}: ${s.why}`),
          'hotfix steps:',
          ...req.steps.map((s) => `  - ${s}`),
          `Web UI: ${r.url}`,
        ].join('\n'),
      );
    });
}
