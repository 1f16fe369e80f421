// Incident response activities (playbook §13): freeze/unfreeze a module on the host, maintenance mode, the
// evidence archive, the policy for an incident opened by a deployment, following a corrective patch, the report.
import { createHash } from 'node:crypto';
import { redact } from '../config/redact';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  completeSha,
  currentDir,
  describeEvidence,
  evidencePaths,
  existsFile,
  listFlags,
  logsDir,
  packEvidence,
  publishEvidence,
  setMaintenanceMode,
  setModuleFlag,
  stageEvidence,
  verifyEvidence,
  writeStagedFile,
} from '../commands/incident';
import { hookCommand } from '../commands/hooks';
import { appRelease } from '../commands/python';
import { releasePaths } from '../commands/release';
import { cmd } from '../commands/shell';
import type { StewardConfig } from '../config/schema';
import { hookLimits } from '../contracts/fleet';
import { parsePolicyConfig, type PolicyConfig } from '../domain/policy';
import type { DeploymentRecord } from '../workflows/deployment';
import type { EvidenceRecord, IncidentState } from '../workflows/incident-api';
import type { ChangeState } from '../workflows/lifecycle-api';
import type { AuditRow } from './audit/api';
import { onHost } from './deployment/context';
import type { SshPool } from './remote/ssh';
import { reportsDirOf } from './reports';

export interface IncidentDeps {
  config: StewardConfig;
  ssh: SshPool;
  temporal: () => Promise<Client>;
}

export interface FlagRow {
  name: string;
  enabled: boolean;
  reason?: string;
}

function parseFlags(stdout: string): FlagRow[] {
  try {
    return (JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { flags?: FlagRow[] }).flags ?? [];
  } catch {
    return [];
  }
}

function beat(detail: string): void {
  try {
    Context.current().heartbeat(redact(detail));
  } catch {
    // outside an activity
  }
}

export interface ChangeProgress {
  changeId: string;
  phase: string;
  /** Reached production with a deployed (smoke-tested) release, after its approval. */
  deployed: boolean;
  /** The change ended without reaching production. */
  ended: boolean;
  releaseVersion?: string;
  emergencyApprovedBy: string[];
  approvedBy: string[];
  deployedAt?: string;
  outcome?: string;
}

export function changeProgress(s: ChangeState): ChangeProgress {
  const prod = [...s.deployments].reverse().find((d) => d.environment === 'production');
  const deployed = prod?.status === 'deployed' && ['post-deployment-review', 'full-review', 'completed'].includes(s.phase);
  const ended = !deployed && ['completed', 'rejected', 'withdrawn', 'rolled-back', 'failed', 'implementation'].includes(s.phase) && !!(s.finishedAt || s.outcome);
  return {
    changeId: s.changeId,
    phase: s.phase,
    deployed,
    ended,
    releaseVersion: s.releaseVersion ?? prod?.releaseTag,
    emergencyApprovedBy: s.signoffs.filter((x) => x.kind === 'approval' && x.role === 'emergency-approver').map((x) => x.by),
    approvedBy: s.signoffs.filter((x) => x.kind === 'approval').map((x) => x.by),
    deployedAt: deployed ? prod?.finishedAt : undefined,
    outcome: s.outcome,
  };
}

export function createIncidentActivities(deps: IncidentDeps) {
  const evidenceDirOf = (environment: string) => {
    const h = onHost(deps, environment);
    return { h, dir: h.env.evidenceDir ?? `${h.env.app.deployRoot}/evidence` };
  };
  return {
    /** The policy of the worker's config, for an incident opened by a deployment (no secrets in it). */
    async incidentPolicy(): Promise<{ policy: PolicyConfig; protectedTables: string[] }> {
      try {
        const policy = parsePolicyConfig(deps.config.policy ?? {});
        return { policy, protectedTables: policy.protectedTables };
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`the policy in the worker's config is invalid: ${(err as Error).message}`, 'BadPolicy');
      }
    },

    /** The deployment's record, by its status query (works for closed workflows) or its result. */
    async fetchDeploymentRecord(input: { workflowId: string }): Promise<DeploymentRecord | null> {
      const client = await deps.temporal();
      const handle = client.workflow.getHandle(input.workflowId);
      try {
        return (await handle.query('status')) as DeploymentRecord;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return null;
        return (await handle.result()) as DeploymentRecord;
      }
    },

    /**
     * Switches a module flag on the live release through the app contract's moduleFreeze hook: the demo's
     * feature_flag command (then the flags as the app reports them afterwards), the configured freeze/unfreeze
     * command, or, for an app that declares it absent, nothing, with `limit` saying what the playbook cannot do.
     */
    async setModuleFrozen(input: { environment: string; module: string; frozen: boolean; reason: string; actor: string }): Promise<{ flags: FlagRow[]; limit?: string }> {
      const h = onHost(deps, input.environment);
      const hook = h.env.app.hooks.moduleFreeze;
      if (hook === 'absent') {
        return { flags: [], limit: `${hookLimits(['moduleFreeze'])[0]}: ${input.frozen ? 'disable' : 'enable'} ${input.module} by hand on ${input.environment} and record it here` };
      }
      if (hook !== 'builtin') {
        // The configured command, run in the live release; its exit code is the answer (it has no flag list).
        await h.run(hookCommand(input.frozen ? hook.freeze : hook.unfreeze, { module: input.module }, appRelease(h.env.app, currentDir(h.env.app.deployRoot)).dir));
        return { flags: [{ name: input.module, enabled: !input.frozen, reason: input.reason }] };
      }
      const r = await h.run(setModuleFlag(h.env.app.deployRoot, input.module, !input.frozen, input.reason, input.actor), { allowFailure: true });
      if (r.exitCode !== 0) {
        const msg = `${r.stderr}\n${r.stdout}`.trim().split('\n').slice(-3).join(' ');
        // An unknown flag will not become known by retrying.
        if (/invalid choice|unknown flag/.test(msg)) throw ApplicationFailure.nonRetryable(`the app has no module flag ${input.module}: ${msg}`, 'UnknownModule');
        throw new Error(`feature_flag ${input.module} failed (exit ${r.exitCode}): ${msg}`);
      }
      const flags = parseFlags((await h.run(listFlags(currentDir(h.env.app.deployRoot)))).stdout);
      const row = flags.find((f) => f.name === input.module);
      if (!row || row.enabled === input.frozen) throw new Error(`after feature_flag the app reports ${input.module} as ${JSON.stringify(row)}`);
      return { flags };
    },

    /** Maintenance mode through the app contract's maintenance hook (the demo's command, on/off commands, or absent). */
    async setMaintenance(input: { environment: string; on: boolean; reason: string; actor: string }): Promise<{ maintenance: boolean; limit?: string }> {
      const h = onHost(deps, input.environment);
      const hook = h.env.app.hooks.maintenance;
      if (hook === 'absent') return { maintenance: false, limit: hookLimits(['maintenance'])[0] };
      if (hook !== 'builtin') {
        await h.run(hookCommand(input.on ? hook.on : hook.off, {}, appRelease(h.env.app, currentDir(h.env.app.deployRoot)).dir));
        return { maintenance: input.on };
      }
      const r = await h.run(setMaintenanceMode(h.env.app.deployRoot, input.on, input.reason, input.actor));
      const on = /"maintenance":\s*true/.test(r.stdout);
      if (on !== input.on) throw new Error(`maintenance ${input.on ? 'on' : 'off'} did not take: ${r.stdout.trim()}`);
      return { maintenance: on };
    },

    /**
     * Module flags that are off on a release (a frozen module): the smoke test checks the freeze holds instead.
     * Only the built-in hook can list flags; a command or absent hook has none to report.
     */
    async listDisabledModules(input: { environment: string; releaseId?: string }): Promise<string[]> {
      const h = onHost(deps, input.environment);
      if (h.env.app.hooks.moduleFreeze !== 'builtin') return [];
      const dir = input.releaseId ? releasePaths(h.env.app.deployRoot, input.releaseId).release : currentDir(h.env.app.deployRoot);
      const r = await h.run(listFlags(dir), { allowFailure: true });
      if (r.exitCode !== 0) return [];
      return parseFlags(r.stdout).filter((f) => !f.enabled && f.name !== 'maintenance').map((f) => f.name);
    },

    /**
     * The evidence archive (§13.2): the app and Gunicorn logs, the deployment record and the audit rows, as one
     * tar.gz with a sha256 file beside it in the environment's evidence dir. Never overwritten: `ln` refuses an
     * existing name. A retry that finds the archive of this incident whole (its checksum verifies) returns it.
     */
    async preserveEvidence(input: { environment: string; incidentId: string; deployment: DeploymentRecord | null; auditRows: AuditRow[]; incident: Record<string, unknown> }): Promise<EvidenceRecord> {
      const { h, dir } = evidenceDirOf(input.environment);
      const p = evidencePaths(dir, input.incidentId);
      const describe = async (reused: boolean): Promise<EvidenceRecord> => {
        const out = (await h.run(describeEvidence(p))).stdout.trim().split('\n');
        return {
          archive: p.archive,
          sha256File: p.sha256File,
          sizeBytes: Number(out[0]),
          sha256: out[1]!.split(/\s+/)[0]!,
          files: out.slice(2).map((f) => f.replace(/^\.\//, '')).filter((f) => f && f !== '.' && !f.endsWith('/')),
          reused,
        };
      };
      const archiveThere = (await h.run(existsFile(p.archive), { allowFailure: true })).exitCode === 0;
      if (archiveThere) {
        const shaThere = (await h.run(existsFile(p.sha256File), { allowFailure: true })).exitCode === 0;
        if (!shaThere) await h.run(completeSha(p)); // a publish interrupted between its two links
        if ((await h.run(verifyEvidence(p), { allowFailure: true })).exitCode !== 0) {
          throw ApplicationFailure.nonRetryable(`${p.archive} exists and does not match ${p.sha256File}: refusing to touch evidence`, 'EvidenceMismatch');
        }
        return describe(true);
      }
      await h.run(cmd(['mkdir', '-p', '--', dir]));
      await h.run(stageEvidence(p, logsDir(h.env.app.deployRoot)));
      await h.run(writeStagedFile(p, 'deployment-record.json'), { stdin: JSON.stringify(input.deployment, null, 2) + '\n' });
      await h.run(writeStagedFile(p, 'audit-events.json'), { stdin: JSON.stringify(input.auditRows, null, 2) + '\n' });
      await h.run(writeStagedFile(p, 'incident.json'), { stdin: JSON.stringify(input.incident, null, 2) + '\n' });
      await h.run(packEvidence(p));
      const pub = await h.run(publishEvidence(p), { allowFailure: true });
      if (pub.exitCode !== 0) {
        // Someone (or an earlier attempt) published first: only a whole, matching archive is accepted.
        if ((await h.run(verifyEvidence(p), { allowFailure: true })).exitCode === 0) return describe(true);
        throw ApplicationFailure.nonRetryable(`${p.archive} already exists: evidence is never overwritten (${pub.stderr.trim()})`, 'EvidenceExists');
      }
      return describe(false);
    },

    /**
     * Follows a corrective change until it is deployed to production (after its approval) or ends without it.
     * Long-running with heartbeats: a dead worker is noticed, and the poll resumes on another.
     */
    async awaitChangeDeployed(input: { changeId: string; pollMs?: number }): Promise<ChangeProgress> {
      const client = await deps.temporal();
      const handle = client.workflow.getHandle(`change-${input.changeId}`);
      const pollMs = input.pollMs ?? 2000;
      for (;;) {
        let s: ChangeState;
        try {
          s = (await handle.query('status')) as ChangeState;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw ApplicationFailure.nonRetryable(`no change ${input.changeId} (workflow change-${input.changeId})`, 'UnknownChange');
          throw err;
        }
        const p = changeProgress(s);
        beat(`${input.changeId}: ${p.phase}`);
        if (p.deployed || p.ended) return p;
        await new Promise((r) => setTimeout(r, pollMs));
        if (Context.current().cancellationSignal.aborted) throw ApplicationFailure.nonRetryable('cancelled', 'Cancelled');
      }
    },

    /** The audit report (§13.7): Markdown with every step, who did it and when, in <reportsDir>/<incidentId>.md. */
    async writeIncidentReport(input: { incidentId: string; state: IncidentState }): Promise<{ path: string; sha256: string }> {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(input.incidentId)) throw ApplicationFailure.nonRetryable(`unsafe incident id for a file name: ${input.incidentId}`, 'BadId');
      const dir = reportsDirOf(deps.config);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${input.incidentId}.md`);
      const text = renderIncidentReport(input.state);
      writeFileSync(file, text);
      return { path: file, sha256: createHash('sha256').update(text).digest('hex') };
    },
  };
}

const cell = (s: string | undefined) => (s ?? '—').replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderIncidentReport(s: IncidentState): string {
  const lines = [
    `# Incident Audit Report — ${s.incidentId}`,
    '',
    `- Incident ID: ${s.incidentId}`,
    `- Environment: ${s.environment}`,
    `- Severity: ${s.severity}`,
    `- Affects: ${s.affects.join(', ') || '—'}`,
    `- Affected module: ${s.affectedModule}`,
    `- Description: ${s.description}`,
    `- Opened by ${s.openedBy} at ${s.openedAt}${s.changeId ? ` (change ${s.changeId}${s.deploymentWorkflowId ? `, deployment ${s.deploymentWorkflowId}` : ''})` : ''}`,
    `- Closed by ${s.closure?.by ?? '—'} at ${s.closure?.at ?? '—'}: ${s.closure?.summary ?? '—'}`,
    '',
    '## Steps (playbook §13)',
    '',
    '| step | status | by | started | finished | detail |',
    '|---|---|---|---|---|---|',
  ];
  for (const st of s.steps) lines.push(`| ${st.name} | ${st.status} | ${st.by ?? '—'} | ${st.startedAt ?? '—'} | ${st.finishedAt ?? '—'} | ${cell(st.detail)} |`);
  if (s.limits?.length) lines.push('', '## What the playbook could not do for this app', '', ...s.limits.map((l) => `- ${l}`));
  lines.push('', '## Evidence', '');
  if (s.evidence) lines.push(`- Archive: ${s.evidence.archive} (${s.evidence.sizeBytes} bytes)`, `- sha256: ${s.evidence.sha256} (${s.evidence.sha256File})`, `- Files: ${s.evidence.files.join(', ')}`);
  else lines.push('- none');
  lines.push('', '## Scope', '');
  if (s.scope) lines.push(`- Recorded by ${s.scope.by} at ${s.scope.at}`, `- Tenants: ${s.scope.tenants.join(', ') || 'none'}`, `- Accounts: ${s.scope.accounts.join(', ') || 'none'}`, `- Period: ${s.scope.from} → ${s.scope.to}`, `- Notes: ${s.scope.notes ?? '—'}`);
  lines.push('', '## Restore decision', '');
  for (const v of s.restoreVotes) lines.push(`- ${v.at} ${v.by}: ${v.restore ? `restore ${v.backupFile ?? ''}` : 'no restore'} — ${v.reason}`);
  if (s.restoreDecision) lines.push(`- Decided by ${s.restoreDecision.by.join(' and ')} at ${s.restoreDecision.at}: ${s.restoreDecision.restore ? `restore ${s.restoreDecision.backupFile}` : 'no restore'}`);
  if (s.restore) lines.push(`- Restored ${s.restore.backupFile} at ${s.restore.at}; the database as it was before is kept in ${s.restore.preRestoreBackup} (sha256 ${s.restore.preRestoreSha256})`);
  lines.push('', '## Findings', '');
  if (s.findings) lines.push(`- Recorded by ${s.findings.by} at ${s.findings.at}`, `- Summary: ${s.findings.summary}`, `- Root cause: ${s.findings.rootCause}`);
  lines.push('', '## Corrective patch', '');
  for (const p of s.patches) {
    lines.push(
      `- ${p.changeId} (${p.started ? 'hotfix started by this incident' : 'linked'}) by ${p.linkedBy} at ${p.linkedAt}: ${p.deployedAt ? `deployed ${p.releaseVersion ?? ''} at ${p.deployedAt}, emergency approval by ${p.emergencyApprovedBy?.join(', ') || '—'}` : p.outcome ?? p.phase ?? 'in progress'}`,
    );
  }
  if (s.rejectedAttempts.length) {
    lines.push('', '## Rejected attempts', '');
    for (const a of s.rejectedAttempts) lines.push(`- ${a.at} ${a.message} by ${a.by ?? '?'}: ${a.code} — ${a.reason}`);
  }
  if (s.reminders.length) {
    lines.push('', '## Reminders', '');
    for (const r of s.reminders) lines.push(`- ${r.at} ${r.message}`);
  }
  lines.push('', `_Generated by Steward for ${s.incidentId}._`, '');
  return lines.join('\n');
}
