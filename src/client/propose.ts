import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/client';
import { classifyRisk, parseProposalYaml, ProposalError, requiredSignoffs, initialApprovalState, type Proposal } from '../domain';
import { changeMakers, changeWorkflowId, SA, type ChangeLifecycleInput } from '../workflows/lifecycle-api';
import { policyDigest } from '../domain/policy';
import { proposalDigest } from '../domain/proposal';
import { signAction, signerOf, signingKeyFile, signingOptions, type SigningOptions } from './signing';
import { newChangeId, webUiUrl, withCtx } from './lifecycle-client';
import { emit } from './output';
import { CliError } from './temporal';

export function readProposal(file: string): Proposal {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 2);
  }
  try {
    return parseProposalYaml(text);
  } catch (err) {
    if (err instanceof ProposalError) {
      throw new CliError(`${file} is not a valid change proposal:\n${err.issues.map((i) => `  - ${i.field}: ${i.message}`).join('\n')}\nFix the named fields and run \`steward propose ${file}\` again.`, 2);
    }
    throw err;
  }
}

export async function proposeChange(program: Command, file: string, id?: string, signing: SigningOptions = {}, action: 'propose' | 'hotfix' = 'propose') {
  const proposal = readProposal(file);
  const changeId = id ?? newChangeId();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(changeId)) throw new CliError(`--id must be letters, digits, ".", "_" or "-" (got "${changeId}")`, 2);
  return withCtx(program, async ({ config, policy, client }) => {
    const { risk, reasons } = classifyRisk(proposal);
    const slots = requiredSignoffs(initialApprovalState({ changeId, proposal, risk }), policy);
    // The proposer is whoever's key signs the proposal; it must be the proposal's own proposer.
    const keyFile = signingKeyFile({ key: signing.key, as: signing.as ?? proposal.proposer });
    const signer = signerOf(keyFile, policy, signing.as);
    if (signer !== proposal.proposer) throw new CliError(`the proposal names ${proposal.proposer} as proposer, but the signing key is ${signer}'s: a proposal is signed by its proposer`, 2);
    const workflowId = changeWorkflowId(changeId);
    const signedProposal = signAction(keyFile, signer, { action, subject: changeId, workflowId, decision: {}, commit: null, proposalDigest: proposalDigest(proposal), policyDigest: policyDigest(policy) });
    const input: ChangeLifecycleInput = { changeId, proposal, proposedAtMs: Date.now(), signedProposal };
    try {
      await client.workflow.start('changeLifecycle', {
        taskQueue: config.temporal.taskQueue,
        workflowId,
        // Change ids are unique for ever: a closed change's id cannot be proposed again (its deployments, backups
        // and audit rows are named by it).
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        args: [input],
        staticSummary: proposal.title,
        staticDetails: `${proposal.type} change by ${proposal.proposer}: ${proposal.gitRef}`,
        typedSearchAttributes: [
          { key: SA.changeId, value: changeId },
          { key: SA.changeType, value: proposal.type },
          { key: SA.riskLevel, value: risk },
          { key: SA.changePhase, value: 'proposal' },
          { key: SA.targetEnvironment, value: proposal.targetEnvironments[proposal.targetEnvironments.length - 1]! },
          { key: SA.changeMakers, value: changeMakers(proposal) },
        ],
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new CliError(`change ${changeId} already exists (open or closed: a change id is never reused); choose another --id or see \`steward status ${changeId}\``);
      throw err;
    }
    return { changeId, workflowId, risk, reasons, requiredSignoffs: slots, url: webUiUrl(config, workflowId) };
  });
}

export function registerPropose(program: Command): void {
  signingOptions(
    program
      .command('propose')
      .description('propose a change from a YAML proposal (playbook §3) and start its lifecycle; signed with your SSH key')
      .argument('<file>', 'the proposal YAML'),
  )
    .option('--id <CHANGE_ID>', 'use this change id instead of a generated CHG-<yyyymmdd>-<hex>')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { id?: string; as?: string; key?: string; json?: boolean }) => {
      const r = await proposeChange(program, file, opts.id, opts);
      emit(opts, r, () =>
        [
          `proposed ${r.changeId} (workflow ${r.workflowId})`,
          `risk: ${r.risk}${r.reasons.length ? ` — ${r.reasons.join('; ')}` : ''}`,
          'signoffs required:',
          ...r.requiredSignoffs.map((s) => `  - ${s.id} ×${s.count}: ${s.why}`),
          `Web UI: ${r.url}`,
        ].join('\n'),
      );
    });
}
