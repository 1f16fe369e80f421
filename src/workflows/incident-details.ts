// The live Markdown checklist of an incident shown in the Web UI (setCurrentDetails). Pure.
import { STEP_TITLES, type IncidentState } from './incident-api';

const MARK: Record<string, string> = { done: 'x', skipped: 'x', failed: '!', running: ' ', waiting: ' ', pending: ' ' };

export function renderIncidentDetails(s: IncidentState): string {
  const lines = [
    `## Incident ${s.incidentId} (${s.severity}) on ${s.environment}`,
    '',
    `${s.description}`,
    '',
    `**Affects:** ${s.affects.join(', ') || 'not classified yet'} — module **${s.affectedModule}** ${s.frozen ? 'FROZEN' : 'not frozen'}${s.maintenance ? ', maintenance mode ON' : ''}`,
    `**Opened** by ${s.openedBy} at ${s.openedAt}${s.changeId ? ` after change ${s.changeId}` : ''}${s.deploymentWorkflowId ? ` (${s.deploymentWorkflowId})` : ''}`,
    '',
    `**Now:** ${s.step} — waiting for ${s.waitingFor}`,
    '',
  ];
  for (const st of s.steps) {
    const now = st.status === 'running' || st.status === 'waiting';
    const title = now ? `**${STEP_TITLES[st.name]}** (${st.status})` : STEP_TITLES[st.name];
    const who = st.by ? ` — ${st.by}` : '';
    const when = st.finishedAt ? ` at ${st.finishedAt}` : '';
    lines.push(`- [${MARK[st.status] ?? ' '}] ${title}${st.status === 'failed' ? ' FAILED' : st.status === 'skipped' ? ' (not needed)' : ''}${who}${when}${st.detail ? `: ${st.detail}` : ''}`);
  }
  if (s.evidence) lines.push('', `**Evidence:** ${s.evidence.archive} sha256 ${s.evidence.sha256}`);
  if (s.restoreVotes.length && !s.restoreDecision) lines.push('', `**Restore votes:** ${s.restoreVotes.map((v) => `${v.by}: ${v.restore ? `restore ${v.backupFile ?? ''}` : 'no restore'}`).join('; ')} — a second, distinct approver must agree`);
  for (const p of s.patches) lines.push(`- patch ${p.changeId}: ${p.deployedAt ? `deployed ${p.releaseVersion ?? ''}` : p.outcome ?? p.phase ?? 'starting'}`);
  if (s.rejectedAttempts.length) lines.push('', `**Rejected attempts:** ${s.rejectedAttempts.length} (last: ${s.rejectedAttempts[s.rejectedAttempts.length - 1]!.reason})`);
  if (s.reminders.length) lines.push('', `**Last reminder:** ${s.reminders[s.reminders.length - 1]!.message}`);
  if (s.reportPath) lines.push('', `**Audit report:** ${s.reportPath}`);
  return lines.join('\n');
}
