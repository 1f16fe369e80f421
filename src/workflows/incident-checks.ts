// Message checks of incidentResponse: the payload's shape first (a Signal from the Web UI may carry anything),
// then the policy's verdict (who may, in which step). Pure; used by both the Update validators and the Signals.
import { ProposalError } from '../domain/errors';
import { hotfixEligibility } from '../domain/hotfix';
import { findPerson, hasRole, type PolicyConfig } from '../domain/policy';
import { parseProposal } from '../domain/proposal';
import {
  INCIDENT_DECIDER_ROLES,
  INCIDENT_ID_RE,
  type CloseInput,
  type FindingsInput,
  type IncidentState,
  type LinkPatchInput,
  type ProposePatchInput,
  type RestoreVote,
  type ScopeInput,
} from './incident-api';

export interface Problem {
  code: string;
  reason: string;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (x: unknown, min = 1) => typeof x === 'string' && x.trim().length >= min;
const invalid = (reason: string): Problem => ({ code: 'invalid', reason });
const strList = (x: unknown) => Array.isArray(x) && x.every((v) => typeof v === 'string' && v.trim().length > 0 && v.length <= 200);
/** Backups live in the environment's backup dir as <id>.dump: an absolute path, no "..", no shell syntax. */
export const BACKUP_FILE_RE = /^\/[A-Za-z0-9._\/-]+\.dump$/;

function common(state: IncidentState, policy: PolicyConfig | undefined, x: unknown, shape: string): Problem | null {
  if (!policy) return { code: 'not-ready', reason: 'the incident is still opening (policy not loaded yet); try again in a moment' };
  if (state.step === 'closed') return { code: 'closed', reason: `incident ${state.incidentId} is closed` };
  if (!isObj(x)) return invalid(`the payload must be an object ${shape}`);
  if (!str(x.by)) return invalid('by must be a person id (a non-empty string)');
  if (!findPerson(policy, x.by as string)) return { code: 'not-a-person', reason: `${String(x.by)} is not a person in policy.people` };
  return null;
}

function decider(policy: PolicyConfig, by: string, what: string): Problem | null {
  if (INCIDENT_DECIDER_ROLES.some((r) => hasRole(policy, by, r))) return null;
  return { code: 'wrong-role', reason: `${by} holds none of the roles ${INCIDENT_DECIDER_ROLES.join(', ')} needed to ${what}` };
}

export function scopeProblem(state: IncidentState, policy: PolicyConfig | undefined, s: ScopeInput): Problem | null {
  const c = common(state, policy, s, '{by, tenants[], accounts[], from, to, notes?}');
  if (c) return c;
  if (!strList(s.tenants) || !strList(s.accounts)) return invalid('tenants and accounts must be lists of names (empty lists allowed)');
  if (s.tenants.length + s.accounts.length === 0 && !str(s.notes)) return invalid('name the affected tenants or accounts, or say in notes why none are affected');
  const from = typeof s.from === 'string' ? Date.parse(s.from) : NaN;
  const to = typeof s.to === 'string' ? Date.parse(s.to) : NaN;
  if (Number.isNaN(from) || Number.isNaN(to)) return invalid('from and to must be ISO instants, e.g. 2026-11-25T10:00:00Z');
  if (from > to) return invalid('from must not be after to');
  if (s.notes !== undefined && s.notes !== null && typeof s.notes !== 'string') return invalid('notes must be text');
  return null;
}

export function restoreProblem(state: IncidentState, policy: PolicyConfig | undefined, v: RestoreVote, defaultBackup: string | undefined): Problem | null {
  const c = common(state, policy, v, '{by, restore, backupFile?, reason}');
  if (c) return c;
  if (!state.scope) return { code: 'wrong-step', reason: 'record the scope first (recordScope): a restore is decided on a known scope (§13.3 before §13.4)' };
  if (state.restoreDecision) return { code: 'already-decided', reason: `the restore was already decided (${state.restoreDecision.restore ? 'restore' : 'no restore'}) by ${state.restoreDecision.by.join(' and ')}` };
  const d = decider(policy!, v.by, 'decide a restore');
  if (d) return d;
  if (typeof v.restore !== 'boolean') return invalid('restore must be true or false');
  if (!str(v.reason)) return invalid('reason must say why');
  if (v.backupFile !== undefined && v.backupFile !== null && (typeof v.backupFile !== 'string' || !BACKUP_FILE_RE.test(v.backupFile) || v.backupFile.split('/').includes('..'))) {
    return invalid('backupFile must be the absolute path of a .dump in the backup dir');
  }
  if (v.restore && !v.backupFile && !defaultBackup) return invalid('no pre-deployment backup is known for this incident: name the backup with backupFile');
  if (state.restoreVotes.some((x) => x.by === v.by)) return { code: 'duplicate', reason: `${v.by} has already voted; a second, distinct person must agree` };
  return null;
}

export function findingsProblem(state: IncidentState, policy: PolicyConfig | undefined, f: FindingsInput): Problem | null {
  const c = common(state, policy, f, '{by, summary, rootCause}');
  if (c) return c;
  if (!state.restoreDecision) return { code: 'wrong-step', reason: 'decide the restore first (decideRestore by two approvers; §13.4 before §13.5)' };
  if (state.findings) return { code: 'already-recorded', reason: `findings were recorded by ${state.findings.by} at ${state.findings.at}` };
  if (!str(f.summary, 10)) return invalid('summary must describe what happened (at least 10 characters)');
  if (!str(f.rootCause, 10)) return invalid('rootCause must name the cause (at least 10 characters)');
  return null;
}

function patchSlot(state: IncidentState): Problem | null {
  const active = state.patches.find((p) => p.outcome === undefined);
  if (active) return { code: 'patch-in-progress', reason: `corrective patch ${active.changeId} is in progress (${active.phase ?? 'starting'}); wait for it to end` };
  if (state.patches.some((p) => p.deployedAt)) return { code: 'already-patched', reason: 'a corrective patch is already deployed' };
  return null;
}

export function linkProblem(state: IncidentState, policy: PolicyConfig | undefined, l: LinkPatchInput): Problem | null {
  const c = common(state, policy, l, '{by, changeId}');
  if (c) return c;
  if (typeof l.changeId !== 'string' || !INCIDENT_ID_RE.test(l.changeId)) return invalid('changeId must be a change id (letters, digits, ".", "_", "-")');
  return patchSlot(state);
}

export function proposePatchProblem(state: IncidentState, policy: PolicyConfig | undefined, p: ProposePatchInput): Problem | null {
  const c = common(state, policy, p, '{by, proposal, changeId?}');
  if (c) return c;
  if (p.changeId !== undefined && (typeof p.changeId !== 'string' || !INCIDENT_ID_RE.test(p.changeId))) return invalid('changeId must be letters, digits, ".", "_" or "-"');
  try {
    parseProposal(p.proposal);
  } catch (err) {
    if (err instanceof ProposalError) return invalid(`the proposal is invalid: ${err.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`);
    return invalid(`the proposal is invalid: ${(err as Error).message}`);
  }
  const elig = hotfixEligibility({ hotfixReason: p.proposal.hotfixReason, targetEnvironments: p.proposal.targetEnvironments });
  if (!elig.eligible) return { code: 'not-eligible', reason: `not eligible for the hotfix path: ${elig.reasons.join('; ')}` };
  return patchSlot(state);
}

export function closeProblem(state: IncidentState, policy: PolicyConfig | undefined, x: CloseInput): Problem | null {
  const c = common(state, policy, x, '{by, summary}');
  if (c) return c;
  if (state.closure) return { code: 'already-closed', reason: `closed by ${state.closure.by}` };
  if (!state.findings) return { code: 'wrong-step', reason: 'record the findings first (recordFindings, §13.5)' };
  if (!state.patches.some((p) => p.deployedAt)) {
    return { code: 'wrong-step', reason: 'the corrective patch is not deployed and approved yet: the module stays frozen until it is (§13.6)' };
  }
  const d = decider(policy!, x.by, 'close an incident');
  if (d) return d;
  if (!str(x.summary, 5)) return invalid('summary must say how the incident ended');
  return null;
}

/** Two distinct deciders agreeing (same restore choice and the same backup) make the decision. */
export function restoreAgreement(votes: { by: string; restore: boolean; backupFile?: string }[]): { restore: boolean; backupFile?: string; by: string[] } | null {
  for (let i = 0; i < votes.length; i++) {
    for (let j = i + 1; j < votes.length; j++) {
      const a = votes[i]!;
      const b = votes[j]!;
      if (a.by !== b.by && a.restore === b.restore && (!a.restore || a.backupFile === b.backupFile)) {
        return { restore: a.restore, ...(a.restore ? { backupFile: a.backupFile } : {}), by: [a.by, b.by] };
      }
    }
  }
  return null;
}
