// Shared by the change verbs: config + policy, the client, the change handle, update errors, formatting.
import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import type { StewardConfig } from '../config/schema';
import { parsePolicyConfig, PolicyConfigError, type PolicyConfig } from '../domain';
import { policyDigest } from '../domain/policy';
import type { SignedActionName } from '../domain/statement';
import { signAction, signerOf, signingKeyFile, type SigningOptions } from './signing';
import { changeWorkflowId, type ChangeState } from '../workflows/lifecycle-api';
import { CliError, connectClient } from './temporal';

// Formatting lives apart from the SDK client, so the read-only verbs load neither (src/client/rpc.ts).
export { describeState, webUiUrl } from './describe';

export interface Ctx {
  config: StewardConfig;
  policy: PolicyConfig;
  client: Client;
}

export async function withCtx<T>(program: Command, fn: (ctx: Ctx) => Promise<T>): Promise<T> {
  const config = loadConfig(program.opts().config);
  let policy: PolicyConfig;
  try {
    policy = parsePolicyConfig(config.policy ?? {});
  } catch (err) {
    if (err instanceof PolicyConfigError) throw new CliError(`the policy in the config is invalid:\n${err.issues.map((i) => `  - ${i.field}: ${i.message}`).join('\n')}`, 2);
    throw err;
  }
  const client = await connectClient(config);
  try {
    return await fn({ config, policy, client });
  } finally {
    await client.connection.close();
  }
}

export function newChangeId(now = new Date()): string {
  const d = now.toISOString().slice(0, 10).replace(/-/g, '');
  return `CHG-${d}-${randomBytes(2).toString('hex')}`;
}

export async function queryStatus(client: Client, id: string): Promise<ChangeState> {
  try {
    return (await client.workflow.getHandle(changeWorkflowId(id)).query('status')) as ChangeState;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`no change ${id} (workflow ${changeWorkflowId(id)}); list changes with \`steward list\``);
    throw err;
  }
}

/** Runs an Update; a refusal by the workflow's validator becomes a CliError with the domain's reason. */
export async function update(client: Client, id: string, name: string, arg: unknown): Promise<ChangeState> {
  try {
    return (await client.workflow.getHandle(changeWorkflowId(id)).executeUpdate(name, { args: [arg] })) as ChangeState;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause as { message?: string; type?: string } | undefined;
      throw new CliError(`${name} refused${cause?.type ? ` (${cause.type})` : ''}: ${cause?.message ?? err.message}`);
    }
    if (err instanceof WorkflowNotFoundError) throw new CliError(`no running change ${id}; check the id with \`steward list\` or \`steward status ${id}\``);
    throw err;
  }
}

/**
 * Signs the decision as the key's owner (DESIGN "Trust model") about the change as it is now (its commit, proposal
 * and policy from `status`) and sends it as an Update; returns the new state and who signed.
 */
export async function signedUpdate(ctx: Ctx, id: string, action: SignedActionName, decision: Record<string, unknown>, opts: SigningOptions): Promise<{ state: ChangeState; by: string }> {
  const keyFile = signingKeyFile(opts);
  const by = signerOf(keyFile, ctx.policy, opts.as);
  const s = await queryStatus(ctx.client, id);
  const payload = signAction(keyFile, by, {
    action,
    subject: id,
    workflowId: s.workflowId,
    decision,
    commit: s.commit ?? null,
    proposalDigest: s.proposalDigest ?? null,
    policyDigest: s.policyDigest ?? policyDigest(ctx.policy),
  });
  return { state: await update(ctx.client, id, action, payload), by };
}
