// The live Markdown shown in the Web UI for a deployment (setCurrentDetails): status, each host, the steps. Pure.
import { describeHosts } from '../contracts/fleet';
import type { DeploymentRecord } from './deployment';

export function renderDeploymentDetails(d: DeploymentRecord): string {
  const lines = [`## ${d.environment}: release ${d.releaseId}`, '', `**${d.status}**${d.reason ? ` — ${d.reason}` : ''}`, ''];
  lines.push(`${d.gitRef}${d.commit ? ` (${d.commit.slice(0, 12)})` : ''}; previous release ${d.previousReleaseId ?? 'none'}`);
  if (d.authority) {
    const a = d.authority;
    lines.push('', a.kind === 'change' ? `Started by its change ${a.changeWorkflowId} (${a.phase})${a.approvalsValidUntil ? `; approvals valid until ${a.approvalsValidUntil}` : ''}${a.emergencyApproved ? '; emergency approval' : ''}` : `Ordered directly by ${a.orderedBy} (signed ${a.issuedAt})`);
  }
  if (d.lockWait) {
    lines.push('', `**Waiting for the ${d.environment} deployment lock** since ${d.lockWait.since}: held by ${d.lockWait.holder ?? '(nobody: about to be granted)'}${d.lockWait.position > 1 ? `, ${d.lockWait.position} in line` : ''}`);
  }
  if (d.limits?.length) lines.push('', '**What the playbook cannot do for this app**', ...d.limits.map((l) => `- ${l}`));
  const hosts = describeHosts(d.hosts);
  if (hosts.length) lines.push('', '**Hosts**', ...hosts.map((h) => `- ${h}`));
  lines.push('', '**Steps**', ...d.steps.map((s) => `- [${s.outcome === 'ok' ? 'x' : ' '}] ${s.name}: ${s.outcome}${s.detail ? ` — ${s.detail.slice(0, 160)}` : ''}`));
  if (d.rollback) lines.push('', `**Rollback:** ${d.rollback.plan.summary}`, ...d.rollback.done.map((x) => `- ${x.action}: ${x.ok ? 'ok' : 'FAILED'}`));
  return lines.join('\n');
}
