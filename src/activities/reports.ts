// The post-deployment report (playbook §12): Markdown from the change's state and its deployment records,
// written to <reportsDir>/<changeId>.md. Rendering lives here (not in the workflow) so it may change freely.
import { describeHosts } from '../contracts/fleet';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ActivityDeps } from './index';
import type { ChangeState } from '../workflows/lifecycle-api';
import type { DeploymentRecord } from '../workflows/deployment';

export function reportsDirOf(config: ActivityDeps['config']): string {
  return config.reportsDir ?? path.resolve('reports');
}

const ms = (n: number | undefined) => (n === undefined ? '—' : n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`);
const cell = (s: string | undefined) => (s ?? '—').replace(/\|/g, '\\|').replace(/\n/g, ' ');

function deploymentSection(d: DeploymentRecord): string[] {
  const dur = d.finishedAt ? Date.parse(d.finishedAt) - Date.parse(d.startedAt) : undefined;
  const out = [
    `### ${d.environment}: ${d.workflowId}`,
    '',
    `- Status: **${d.status}**${d.reason ? ` — ${d.reason}` : ''}`,
    `- Started ${d.startedAt}, finished ${d.finishedAt ?? '—'} (${ms(dur)})`,
    `- Release ${d.releaseId} (${d.gitRef}${d.commit ? `, commit ${d.commit.slice(0, 12)}` : ''}); previous release ${d.previousReleaseId ?? 'none'}`,
  ];
  if (d.releaseTag) out.push(`- Release tag: ${d.releaseTag}`);
  if (d.backup) out.push(`- Backup: ${d.backup.file} (${d.backup.sizeBytes} bytes, verified)`);
  if (d.migrations) out.push(`- Migrations: ${d.migrations.planned.map((m) => `${m.app}.${m.name}`).join(', ') || 'none'} (${d.migrations.classification.level})`);
  const retries = d.steps.filter((s) => s.outcome === 'failed').length;
  out.push(`- Failed steps: ${retries}; rollback: ${d.rollback ? `${d.rollback.plan.summary} (${d.rollback.done.map((x) => `${x.action}: ${x.ok ? 'ok' : 'FAILED'}`).join('; ')})` : 'none'}`);
  if (d.smoke) out.push(`- Smoke tests: ${d.smoke.ok ? 'green' : 'RED'} in ${ms(d.smoke.durationMs)}: ${d.smoke.checks.map((c) => `${c.name} ${c.skipped ? 'not run (it writes; read-only here)' : c.ok ? 'ok' : 'FAILED'}${c.writes && !c.skipped ? ' (wrote, smoke tenant)' : ''} (${ms(c.ms)})`).join(', ')}`);
  if (d.limits?.length) out.push('- What the playbook could not do for this app:', ...d.limits.map((l) => `  - ${l}`));
  const hosts = describeHosts(d.hosts);
  if (hosts.length) out.push(`- Hosts (in the rolling order):`, ...hosts.map((h) => `  - ${h}`));
  if (d.invariants) out.push(`- Financial invariants: ${d.invariants.differences.length ? d.invariants.differences.map((x) => `${x.tenant}.${x.metric}`).join(', ') : 'unchanged'}`);
  out.push('', '| step | outcome | duration | detail |', '|---|---|---|---|');
  for (const s of d.steps) out.push(`| ${cell(s.name)} | ${s.outcome} | ${ms(s.durationMs)} | ${cell(s.detail)} |`);
  return out;
}

export function renderChangeReport(s: ChangeState, generatedAt = new Date().toISOString()): string {
  const prod = [...s.deployments].reverse().find((d) => d.environment === 'production');
  const r = s.postDeploymentReview;
  const lines = [
    `# Post-Deployment Report — ${s.changeId}`,
    '',
    `- Change ID: ${s.changeId}`,
    `- Title: ${s.title}`,
    `- Type / risk: ${s.type} / ${s.risk}${s.riskReasons.length ? ` (${s.riskReasons.join('; ')})` : ''}`,
    `- Deployment date: ${prod?.finishedAt ?? prod?.startedAt ?? '—'}`,
    `- Deployed by: steward (proposer ${s.proposer}, implementer ${s.implementer})`,
    `- Release: ${prod?.releaseTag ?? s.releaseVersion ?? '—'} (${s.gitRef})`,
    `- Outcome: ${s.phase}`,
    `- Sign-offs: ${s.signoffs.map((x) => `${x.by} (${x.kind === 'review' ? `${x.mode} review` : x.role}, ${new Date(x.atMs).toISOString()})`).join('; ') || 'none'}`,
    '',
    '## Post-deployment review (§12)',
    '',
  ];
  if (r) {
    lines.push(
      `- Reviewed by: ${r.by} at ${r.at}`,
      `- Issues encountered: ${r.issuesEncountered}`,
      `- Unexpected behavior: ${r.unexpectedBehavior}`,
      `- Performance impact: ${r.performanceImpact}`,
      `- Security impact: ${r.securityImpact}`,
      `- Follow-up required: ${r.followUpRequired ? 'yes' : 'no'}`,
    );
  } else {
    lines.push(s.postDeploymentReportRequired ? '- Not submitted.' : `- Not required for a ${s.risk}-risk change (§12: high and critical); facts below.`);
  }
  lines.push('', '## Deployments', '');
  for (const d of s.deployments) lines.push(...deploymentSection(d), '');
  lines.push('## Lifecycle', '', '| at | from | to | by | why |', '|---|---|---|---|---|');
  for (const h of s.history) lines.push(`| ${h.at} | ${h.from} | ${h.to} | ${h.by} | ${cell(h.reason)} |`);
  if (s.rejectedAttempts.length) {
    lines.push('', '## Rejected attempts', '');
    for (const a of s.rejectedAttempts) lines.push(`- ${a.at} ${a.message} by ${a.by ?? '?'}: ${a.code} — ${a.reason}`);
  }
  lines.push('', `_Generated by Steward at ${generatedAt}._`, '');
  return lines.join('\n');
}

export function createReportActivities(deps: Pick<ActivityDeps, 'config'>) {
  return {
    async writeChangeReport(input: { changeId: string; state: ChangeState }): Promise<{ path: string; sha256: string }> {
      if (!/^[A-Za-z0-9._-]+$/.test(input.changeId)) throw new Error(`unsafe change id for a file name: ${input.changeId}`);
      const dir = reportsDirOf(deps.config);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${input.changeId}.md`);
      const text = renderChangeReport(input.state);
      writeFileSync(file, text);
      return { path: file, sha256: createHash('sha256').update(text).digest('hex') };
    },
  };
}
