// `steward incident open|scope|restore|findings|link|close|status`: incident response (playbook §13).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { parse } from 'yaml';
import { z } from 'zod';
import { SA } from '../workflows/lifecycle-api';
import {
  incidentReportOf,
  INCIDENT_AFFECTS,
  INCIDENT_ID_RE,
  INCIDENT_SEVERITIES,
  STEP_TITLES,
  incidentWorkflowId,
  type IncidentInput,
  type IncidentState,
} from '../workflows/incident-api';
import { webUiUrl, withCtx, type Ctx } from './lifecycle-client';
import { digestOf } from '../domain/canonical';
import { policyDigest } from '../domain/policy';
import type { SignedActionName } from '../domain/statement';
import { signAction, signerOf, signingKeyFile, signingOptions, type SigningOptions } from './signing';
import { emit } from './output';
import { CliError } from './temporal';

export const incidentFileSchema = z.strictObject({
  id: z.string().regex(INCIDENT_ID_RE, 'letters, digits, ".", "_" or "-"').optional(),
  environment: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'an environment name from the config, e.g. production'),
  affectedModule: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'the app module flag to freeze: posting, payments or loans'),
  affects: z.array(z.enum(INCIDENT_AFFECTS)).min(1, `name at least one of ${INCIDENT_AFFECTS.join(', ')}`),
  severity: z.enum(INCIDENT_SEVERITIES),
  description: z.string().trim().min(10, 'describe what happened (at least 10 characters)').max(2000),
  openedBy: z.string().regex(/^[a-z][a-z0-9._-]{1,63}$/, 'a person id').optional(),
  changeId: z.string().regex(INCIDENT_ID_RE).optional(),
  deploymentWorkflowId: z.string().regex(/^deploy-[A-Za-z0-9._-]+$/, 'a deployment workflow id (deploy-<CHANGE_ID>-<env>-<n>)').optional(),
});
export type IncidentFile = z.infer<typeof incidentFileSchema>;

/** Parses an incident YAML; the error names every bad field and what it must be. */
export function parseIncidentYaml(text: string, file = 'the incident file'): IncidentFile {
  let data: unknown;
  try {
    data = parse(text, { uniqueKeys: true });
  } catch (err) {
    throw new CliError(`${file} is not valid YAML: ${(err as Error).message}`, 2);
  }
  const r = incidentFileSchema.safeParse(data);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `  - ${i.path.join('.') || '(file)'}: ${i.message}`);
    throw new CliError(`${file} is not a valid incident:\n${issues.join('\n')}\nFix the named fields and run \`steward incident open ${file}\` again.`, 2);
  }
  return r.data;
}

export function newIncidentId(now = new Date(), rand = Math.random()): string {
  return `INC-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${Math.floor(rand * 0xffff).toString(16).padStart(4, '0')}`;
}

async function query(client: Client, id: string): Promise<IncidentState> {
  try {
    return (await client.workflow.getHandle(incidentWorkflowId(id)).query('status')) as IncidentState;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`no incident ${id} (workflow ${incidentWorkflowId(id)}); check the id in the Web UI (ChangeId = ${id})`);
    throw err;
  }
}

async function incidentUpdate(client: Client, id: string, name: string, arg: unknown): Promise<IncidentState> {
  try {
    return (await client.workflow.getHandle(incidentWorkflowId(id)).executeUpdate(name, { args: [arg] })) as IncidentState;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause as { message?: string; type?: string } | undefined;
      throw new CliError(`${name} refused${cause?.type ? ` (${cause.type})` : ''}: ${cause?.message ?? err.message}\nSee \`steward incident status ${id}\` for the step it is in.`);
    }
    if (err instanceof WorkflowNotFoundError) throw new CliError(`no running incident ${id}; see \`steward incident status ${id}\``);
    throw err;
  }
}

/** Message name → the statement action a person signs. */
const INCIDENT_ACTIONS: Record<string, SignedActionName> = {
  recordScope: 'recordScope',
  decideRestore: 'decideIncidentRestore',
  recordFindings: 'recordFindings',
  linkCorrectivePatch: 'linkCorrectivePatch',
  proposeCorrectivePatch: 'proposeCorrectivePatch',
  closeIncident: 'closeIncident',
};

/** Signs the decision with the person's key (DESIGN "Trust model") and sends it as an Update. */
export async function signedIncidentUpdate(ctx: Ctx, id: string, name: string, decision: Record<string, unknown>, opts: SigningOptions, proposalDigestOf?: string): Promise<{ state: IncidentState; by: string }> {
  const keyFile = signingKeyFile(opts);
  const by = signerOf(keyFile, ctx.policy, opts.as);
  const s = await query(ctx.client, id);
  const payload = signAction(keyFile, by, {
    action: INCIDENT_ACTIONS[name]!,
    subject: id,
    workflowId: s.workflowId,
    decision,
    commit: null,
    proposalDigest: proposalDigestOf ?? null,
    policyDigest: s.policyDigest ?? policyDigest(ctx.policy),
  });
  return { state: await incidentUpdate(ctx.client, id, name, payload), by };
}

export function describeIncident(s: IncidentState, url?: string): string {
  const lines = [
    `${s.incidentId}  ${s.severity} on ${s.environment} — ${s.description}`,
    `  affects ${s.affects.join(', ') || '—'}; module ${s.affectedModule} ${s.frozen ? 'FROZEN' : 'not frozen'}${s.maintenance ? ', maintenance ON' : ''}`,
    `  step ${s.step} — waiting for ${s.waitingFor}`,
    ...s.steps.map((x) => `  [${x.status === 'done' || x.status === 'skipped' ? 'x' : x.status === 'failed' ? '!' : ' '}] ${STEP_TITLES[x.name]}: ${x.status}${x.by ? ` by ${x.by}` : ''}${x.finishedAt ? ` at ${x.finishedAt}` : ''}${x.detail ? ` — ${x.detail}` : ''}`),
  ];
  for (const l of s.limits ?? []) lines.push(`  cannot: ${l}`);
  if (s.restoreVotes.length && !s.restoreDecision) lines.push(`  restore votes: ${s.restoreVotes.map((v) => `${v.by} ${v.restore ? 'restore' : 'no restore'}`).join(', ')} (a second, distinct decider must agree)`);
  for (const p of s.patches) lines.push(`  patch ${p.changeId}: ${p.deployedAt ? `deployed ${p.releaseVersion ?? ''}` : p.outcome ?? p.phase ?? 'starting'}`);
  if (s.rejectedAttempts.length) lines.push(`  rejected attempts: ${s.rejectedAttempts.map((a) => `${a.message} by ${a.by ?? '?'}: ${a.reason}`).join(' | ')}`);
  if (s.reportPath) lines.push(`  audit report: ${s.reportPath}`);
  if (url) lines.push(`  Web UI: ${url}`);
  return lines.join('\n');
}

const list = (v?: string) => (v ? v.split(',').map((x) => x.trim()).filter(Boolean) : []);

export function registerIncident(program: Command): void {
  const inc = program.command('incident').description('incident response (playbook §13): open, scope, restore, findings, link, close, status');

  inc
    .command('open')
    .description('open an incident from a YAML file: freezes the module at once and preserves the logs')
    .argument('<file>', 'incident YAML (affectedModule, affects, severity, description, environment)')
    .option('--id <INCIDENT_ID>', 'use this incident id instead of the file\'s id or a generated INC-<yyyymmdd>-<hex>')
    .option('--as <user>', 'who opens it (optional: the signing key says it; must match)')
    .option('--key <file>', 'your SSH key to sign with (default $STEWARD_SIGNING_KEY or ~/.ssh/id_ed25519)')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { id?: string; as?: string; key?: string; json?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 2);
      }
      const f = parseIncidentYaml(text, file);
      const incidentId = opts.id ?? f.id ?? newIncidentId();
      if (!INCIDENT_ID_RE.test(incidentId)) throw new CliError(`--id must be letters, digits, ".", "_" or "-" (got "${incidentId}")`, 2);
      const r = await withCtx(program, async ({ config, policy, client }) => {
        if (!config.environments[f.environment]) throw new CliError(`environment "${f.environment}" is not in the config (known: ${Object.keys(config.environments).join(', ')})`, 2);
        // The opener is whoever's key signs the opening statement.
        const keyFile = signingKeyFile({ key: opts.key, as: opts.as ?? f.openedBy });
        const openedBy = signerOf(keyFile, policy, opts.as);
        const input: IncidentInput = {
          incidentId,
          environment: f.environment,
          affectedModule: f.affectedModule,
          affects: f.affects,
          severity: f.severity,
          description: f.description,
          openedBy,
          openedAtMs: Date.now(),
          ...(f.changeId ? { changeId: f.changeId } : {}),
          ...(f.deploymentWorkflowId ? { deploymentWorkflowId: f.deploymentWorkflowId } : {}),
        };
        const workflowId = incidentWorkflowId(incidentId);
        input.signedOpening = signAction(keyFile, openedBy, {
          action: 'openIncident',
          subject: incidentId,
          workflowId,
          decision: {},
          commit: null,
          proposalDigest: digestOf(incidentReportOf(input)),
          policyDigest: policyDigest(policy),
        });
        try {
          await client.workflow.start('incidentResponse', {
            taskQueue: config.temporal.taskQueue,
            workflowId,
            args: [input],
            staticSummary: `Incident ${incidentId} (${f.severity}): ${f.description}`.slice(0, 200),
            typedSearchAttributes: [
              { key: SA.changeId, value: incidentId },
              { key: SA.changePhase, value: 'freeze' },
              { key: SA.targetEnvironment, value: f.environment },
            ],
          });
        } catch (err) {
          if (err instanceof WorkflowExecutionAlreadyStartedError) throw new CliError(`incident ${incidentId} already exists; see \`steward incident status ${incidentId}\` or choose another --id`);
          throw err;
        }
        return { incidentId, workflowId, url: webUiUrl(config, workflowId) };
      });
      emit(opts, r, () => `opened ${r.incidentId} (workflow ${r.workflowId}); ${f.affectedModule} is being frozen on ${f.environment}\nnext: steward incident scope ${r.incidentId} --as USER --tenants T --from ISO --to ISO\nWeb UI: ${r.url}`);
    });

  const act = (name: string, description: string, build: (c: Command) => Command, payload: (opts: Record<string, unknown>) => unknown, update: string) => {
    build(signingOptions(inc.command(name).description(`${description}; signed with your SSH key`).argument('<id>', 'the incident id')).option('--json', 'machine-readable output')).action(
      async (id: string, opts: Record<string, unknown>) => {
        await withCtx(program, async (ctx) => {
          const { state: s, by } = await signedIncidentUpdate(ctx, id, update, payload(opts) as Record<string, unknown>, opts as SigningOptions);
          emit(opts, s, () => `${update} accepted from ${by}\n${describeIncident(s, webUiUrl(ctx.config, incidentWorkflowId(id)))}`);
        });
      },
    );
  };
  act(
    'scope',
    'record the scope: tenants, accounts and the affected period (§13.3)',
    (c) => c.option('--tenants <list>', 'comma-separated tenant names', '').option('--accounts <list>', 'comma-separated account numbers', '').requiredOption('--from <iso>', 'start of the affected period').requiredOption('--to <iso>', 'end of the affected period').option('--notes <text>', 'notes'),
    (o) => ({ tenants: list(o.tenants as string), accounts: list(o.accounts as string), from: o.from, to: o.to, ...(o.notes ? { notes: o.notes } : {}) }),
    'recordScope',
  );
  act(
    'restore',
    'vote on restoring a backup (§13.4); two distinct approvers/auditors/emergency-approvers must agree',
    (c) => c.option('--restore', 'restore the backup').option('--no-restore', 'do not restore').requiredOption('--reason <text>', 'why').option('--backup <file>', 'the backup to restore (default: the pre-deployment backup)'),
    (o) => {
      if (typeof o.restore !== 'boolean') throw new CliError('say --restore or --no-restore', 2);
      return { restore: o.restore, reason: o.reason, ...(o.backup ? { backupFile: o.backup } : {}) };
    },
    'decideRestore',
  );
  act(
    'findings',
    'document the findings (§13.5)',
    (c) => c.requiredOption('--summary <text>', 'what happened').requiredOption('--root-cause <text>', 'why it happened'),
    (o) => ({ summary: o.summary, rootCause: o.rootCause }),
    'recordFindings',
  );
  act('link', 'link a change as the corrective patch (§13.6); the incident follows it until deployed', (c) => c.requiredOption('--change <CHANGE_ID>', 'the change id'), (o) => ({ changeId: o.change }), 'linkCorrectivePatch');
  act('close', 'close the incident once the patch is deployed: unfreezes the module and writes the audit report (§13.7)', (c) => c.requiredOption('--summary <text>', 'how it ended'), (o) => ({ summary: o.summary }), 'closeIncident');

  inc
    .command('status')
    .description('the whole state of an incident: steps with who and when, votes, patch, report')
    .argument('<id>', 'the incident id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withCtx(program, async ({ client, config }) => {
        const s = await query(client, id);
        const url = webUiUrl(config, incidentWorkflowId(id));
        emit(opts, { ...s, url }, () => describeIncident(s, url));
      });
    });
}

export { incidentUpdate };
