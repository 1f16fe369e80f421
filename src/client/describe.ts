// How a change and a running deployment are shown at the terminal. No Temporal client here: `steward status`
// (src/client/rpc.ts) and the verbs that change something (lifecycle-client.ts) share it.
import { describeHosts } from '../contracts/fleet';
import type { StewardConfig } from '../config/schema';
import type { DeploymentRecord } from '../workflows/deployment';
import type { ChangeState } from '../workflows/lifecycle-api';

export const webUiUrl = (config: StewardConfig, workflowId: string) =>
  `${config.temporal.webUiUrl}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(workflowId)}`;

export function describePending(rec: DeploymentRecord): string {
  const p = rec.pendingDecision;
  const w = rec.lockWait;
  if (!p && w) return `deployment ${rec.workflowId} waits for the ${rec.environment} deployment lock (since ${w.since}), held by ${w.holder ?? '(nobody: about to be granted)'}${w.position > 1 ? `; ${w.position} in line` : ''}`;
  if (!p) return `deployment ${rec.workflowId}: ${rec.status}`;
  return `deployment ${rec.workflowId} waits for ${p.what}\n  who may: ${p.roles.join(', ')} (never ${p.notBy.join(', ')})\n  how: ${p.command}`;
}

export function describeState(s: ChangeState, url?: string): string {
  const lines = [
    `${s.changeId}  ${s.title}`,
    `  type ${s.type}, risk ${s.risk}${s.riskReasons.length ? ` (${s.riskReasons.join('; ')})` : ''}${s.hotfix ? ', HOTFIX' : ''}`,
    `  phase ${s.phase}${s.outcome ? ` (outcome: ${s.outcome})` : ''} — waiting for ${s.waitingFor}`,
    `  ref ${s.gitRef}${s.commit ? ` → commit ${s.commit}` : ' (commit not resolved yet)'}; policy ${s.policyDigest ? s.policyDigest.slice(0, 16) + '…' : '?'}`,
    `  signoffs needed: ${s.requiredSignoffs.map((x) => `${x.id}×${x.count}`).join(', ')}`,
    `  signoffs given: ${s.signoffs.map((x) => `${x.by} (${x.kind === 'review' ? `${x.mode} review` : x.role})`).join(', ') || 'none'}`,
  ];
  if (s.awaiting.length) lines.push(`  awaiting: ${s.awaiting.join(', ')} — ${s.missing.join(', ')}`);
  if (s.window && !s.window.open) lines.push(`  production window closed: ${s.window.reason}${s.window.nextOpeningAt ? `; opens ${s.window.nextOpeningAt}` : ''}`);
  for (const d of s.deployments) {
    lines.push(`  deployment ${d.workflowId}: ${d.status}${d.releaseTag ? ` ${d.releaseTag}` : ''}${d.reason ? ` — ${d.reason}` : ''}`);
    for (const h of describeHosts(d.hosts)) lines.push(`    host ${h}`);
    for (const l of d.limits ?? []) lines.push(`    cannot: ${l}`);
  }
  if (s.runningDeployment) lines.push(`  deployment ${s.runningDeployment}: running`);
  for (const m of s.refMoves ?? []) lines.push(`  REF MOVED: ${m.gitRef} ${m.from.slice(0, 12)} → ${m.to.slice(0, 12)} at ${m.at}: ${m.effect}`);
  if (s.rejectedAttempts.length) lines.push(`  rejected attempts: ${s.rejectedAttempts.map((a) => `${a.message} by ${a.by ?? '?'}: ${a.reason}`).join(' | ')}`);
  if (s.reportPath) lines.push(`  report: ${s.reportPath}`);
  if (url) lines.push(`  Web UI: ${url}`);
  return lines.join('\n');
}
