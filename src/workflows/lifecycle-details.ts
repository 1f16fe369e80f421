// The live Markdown checklist shown in the Web UI (setCurrentDetails). Pure.
import { describeHosts } from '../contracts/fleet';
import type { Phase } from '../domain/lifecycle';
import type { ChangeState } from './lifecycle-api';

const NORMAL: Phase[] = ['proposal', 'planning', 'implementation', 'review', 'staging-test', 'approval', 'deployment', 'post-deployment-review', 'completed'];
const HOTFIX: Phase[] = ['proposal', 'review', 'staging-test', 'approval', 'deployment', 'post-deployment-review', 'full-review', 'completed'];

export function renderDetails(s: ChangeState): string {
  const path = s.hotfix ? HOTFIX : NORMAL;
  const visited = new Set<Phase>(['proposal', ...s.history.map((h) => h.to)]);
  const lines = [`## ${s.changeId}: ${s.title}`, '', `**${s.type}**, risk **${s.risk}**${s.riskReasons.length ? ` — ${s.riskReasons.join('; ')}` : ''}`, ''];
  lines.push(`**Phase:** ${s.phase} — waiting for ${s.waitingFor}`, '');
  lines.push(`**Commit:** ${s.commit ? `\`${s.commit}\` (${s.gitRef})` : `${s.gitRef} (resolved when review starts)`} · **Policy:** \`${(s.policyDigest ?? '?').slice(0, 16)}\``, '');
  for (const m of s.refMoves ?? []) lines.push(`**Ref moved:** ${m.gitRef} ${m.from.slice(0, 12)} → ${m.to.slice(0, 12)} (${m.at}): ${m.effect}`, '');
  for (const p of path) {
    const mark = p === s.phase ? '▶' : visited.has(p) ? 'x' : ' ';
    lines.push(`- [${mark === '▶' ? ' ' : mark}] ${mark === '▶' ? `**${p}** (now)` : p}`);
  }
  if (!path.includes(s.phase)) lines.push(`- [x] **${s.phase}**`);
  lines.push('', '**Gates**');
  for (const slot of s.requiredSignoffs) {
    const got = s.signoffs.filter((x) => x.kind === slot.kind && x.role === slot.role && (slot.kind === 'approval' || x.mode === slot.mode)).map((x) => x.by);
    lines.push(`- [${got.length >= slot.count ? 'x' : ' '}] ${slot.id} ×${slot.count} (${slot.why})${got.length ? ` — ${got.join(', ')}` : ''}`);
  }
  if (s.awaiting.length) lines.push('', `**Awaiting:** ${s.awaiting.join(', ')} (${s.missing.join(', ')})`);
  if (s.window) lines.push('', `**Production window:** ${s.window.open ? 'open' : `closed — ${s.window.reason}${s.window.nextOpeningAt ? `; opens ${s.window.nextOpeningAt}` : ''}`}`);
  for (const d of s.deployments) {
    lines.push(`- deployment ${d.workflowId}: **${d.status}**${d.releaseTag ? ` (${d.releaseTag})` : ''}`);
    for (const h of describeHosts(d.hosts)) lines.push(`  - host ${h}`);
  }
  if (s.runningDeployment) lines.push(`- deployment ${s.runningDeployment}: running`);
  if (s.rejectedAttempts.length) lines.push('', `**Rejected attempts:** ${s.rejectedAttempts.length} (last: ${s.rejectedAttempts[s.rejectedAttempts.length - 1]!.reason})`);
  if (s.reportPath) lines.push('', `**Report:** ${s.reportPath}`);
  return lines.join('\n');
}
