// The decisions a running deployment waits for (§6.2 destructive migration, §10.3 restore, manual reversal steps),
// signed with the person's key like every human action and sent to the deployment itself: the statement names the
// deployment's workflow id and the commit it is deploying. `steward status` says which decision is awaited and who
// may give it.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import { findPerson, parsePolicyConfig, policyDigest } from '../domain/policy';
import { loadConfig } from '../config/load';
import type { SignedActionName } from '../domain/statement';
import type { DeploymentRecord } from '../workflows/deployment';
import { queryStatus, withCtx, type Ctx } from './lifecycle-client';
import { emit } from './output';
import { signAction, signerOf, signingKeyFile, signingOptions, type SigningOptions } from './signing';
import { CliError } from './temporal';

/** The change's running deployment and its record, or a clear error. */
export async function runningDeployment(client: Client, changeId: string): Promise<DeploymentRecord> {
  const s = await queryStatus(client, changeId);
  const id = s.runningDeployment;
  if (!id) throw new CliError(`${changeId} has no running deployment (phase ${s.phase}, waiting for ${s.waitingFor})`);
  try {
    return (await client.workflow.getHandle(id).query('status')) as DeploymentRecord;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`the deployment ${id} of ${changeId} is not found`);
    throw err;
  }
}

async function decide(ctx: Ctx, changeId: string, action: SignedActionName, decision: Record<string, unknown>, opts: SigningOptions): Promise<{ record: DeploymentRecord; by: string }> {
  const keyFile = signingKeyFile(opts);
  const by = signerOf(keyFile, ctx.policy, opts.as);
  const rec = await runningDeployment(ctx.client, changeId);
  const payload = signAction(keyFile, by, { action, subject: rec.changeId, workflowId: rec.workflowId, decision, commit: rec.commit ?? null, proposalDigest: null, policyDigest: rec.policyDigest ?? policyDigest(ctx.policy) });
  try {
    const record = (await ctx.client.workflow.getHandle(rec.workflowId).executeUpdate(action, { args: [payload] })) as DeploymentRecord;
    return { record, by };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause as { message?: string } | undefined;
      throw new CliError(`${action} refused: ${cause?.message ?? err.message}${rec.pendingDecision ? `\nThe deployment waits for ${rec.pendingDecision.what}; roles: ${rec.pendingDecision.roles.join(', ')}; not by ${rec.pendingDecision.notBy.join(', ')}` : ''}`);
    }
    throw err;
  }
}

export function describePending(rec: DeploymentRecord): string {
  const p = rec.pendingDecision;
  const w = rec.lockWait;
  if (!p && w) return `deployment ${rec.workflowId} waits for the ${rec.environment} deployment lock (since ${w.since}), held by ${w.holder ?? '(nobody: about to be granted)'}${w.position > 1 ? `; ${w.position} in line` : ''}`;
  if (!p) return `deployment ${rec.workflowId}: ${rec.status}`;
  return `deployment ${rec.workflowId} waits for ${p.what}\n  who may: ${p.roles.join(', ')} (never ${p.notBy.join(', ')})\n  how: ${p.command}`;
}

export function registerMigration(program: Command): void {
  signingOptions(
    program
      .command('migration')
      .description('§6.2 destructive-migration controls of a running deployment')
      .command('approve')
      .description('approve the destructive migration a deployment waits for (role dba by default; never the proposer); signed with your SSH key')
      .argument('<id>', 'the change id'),
  )
    .requiredOption('--rollback-plan <text>', 'how this change is rolled back (§6.2)')
    .option('--backup-confirmed', 'you checked the verified backup of this deployment (required)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: SigningOptions & { rollbackPlan: string; backupConfirmed?: boolean; json?: boolean }) => {
      if (!o.backupConfirmed) throw new CliError('confirm the verified backup with --backup-confirmed (§6.2): see the backup in `steward status ' + id + '`', 2);
      await withCtx(program, async (ctx) => {
        const { record, by } = await decide(ctx, id, 'approveDestructiveMigration', { backupConfirmed: true, rollbackPlan: o.rollbackPlan }, o);
        emit(o, record, () => `destructive migration approved by ${by}; ${record.workflowId} is ${record.status}`);
      });
    });

}

export function registerDeploymentDecisions(program: Command): void {
  const dep = program.command('deployment').description('decisions a running deployment waits for (restore, manual reversal steps)');
  signingOptions(dep.command('restore').description('decide whether to restore the pre-deployment backup (§10.3); signed with your SSH key').argument('<id>', 'the change id'))
    .option('--restore', 'restore the backup')
    .option('--no-restore', 'do not restore')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: SigningOptions & { restore?: boolean; reason: string; json?: boolean }) => {
      if (typeof o.restore !== 'boolean') throw new CliError('say --restore or --no-restore', 2);
      await withCtx(program, async (ctx) => {
        const { record, by } = await decide(ctx, id, 'decideRestore', { restore: o.restore, reason: o.reason }, o);
        emit(o, record, () => `restore decision (${o.restore ? 'restore' : 'no restore'}) by ${by}; ${record.workflowId} is ${record.status}`);
      });
    });
  signingOptions(dep.command('step').description('confirm a manual reversal step (§10.3.3); finish with --step all-done; signed with your SSH key').argument('<id>', 'the change id'))
    .requiredOption('--step <text>', 'the step that was completed ("all-done" when every step is done)')
    .option('--note <text>', 'a note for the record')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: SigningOptions & { step: string; note?: string; json?: boolean }) => {
      await withCtx(program, async (ctx) => {
        const { record, by } = await decide(ctx, id, 'completeManualStep', { step: o.step, ...(o.note ? { note: o.note } : {}) }, o);
        emit(o, record, () => `manual step "${o.step}" confirmed by ${by}; ${record.workflowId} is ${record.status}`);
      });
    });
  dep
    .command('waiting')
    .description('what the running deployment of a change waits for, and who may decide it')
    .argument('<id>', 'the change id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { json?: boolean }) => {
      await withCtx(program, async (ctx) => {
        const rec = await runningDeployment(ctx.client, id);
        emit(o, rec, () => describePending(rec));
      });
    });

}

export function registerWhoami(program: Command): void {
  program
    .command('whoami')
    .description('who your signing key says you are, in the policy of the config')
    .option('--key <file>', 'the key to check (default $STEWARD_SIGNING_KEY or ~/.ssh/id_ed25519)')
    .option('--as <user>', 'check that the key is this person\'s')
    .option('--json', 'machine-readable output')
    .action(async (o: SigningOptions & { json?: boolean }) => {
      const policy = parsePolicyConfig(loadConfig(program.opts().config).policy ?? {});
      const keyFile = signingKeyFile(o);
      const id = signerOf(keyFile, policy, o.as);
      const person = findPerson(policy, id)!;
      emit(o, { id, name: person.name, roles: person.roles, key: keyFile }, () => `${id} (${person.name}), roles ${person.roles.join(', ')}; signing with ${keyFile}`);
    });
}
