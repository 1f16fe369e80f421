/**
 * Named errors and the Refusal result type used across the policy core.
 * Pure: no Node built-ins, safe inside the Temporal workflow sandbox.
 */

/** One validation problem, always naming the field path it concerns. */
export interface FieldIssue {
  field: string;
  message: string;
}

function summarize(kind: string, issues: readonly FieldIssue[]): string {
  const lines = issues.map((i) => `  - ${i.field}: ${i.message}`);
  return `${kind} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/** A change proposal (playbook §3) failed validation. */
export class ProposalError extends Error {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[]) {
    super(summarize('Invalid change proposal', issues));
    this.name = 'ProposalError';
    this.issues = issues;
  }
}

/** The `policy:` section of steward.config.yaml failed validation (or tried to weaken a control). */
export class PolicyConfigError extends Error {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[]) {
    super(summarize('Invalid policy configuration', issues));
    this.name = 'PolicyConfigError';
    this.issues = issues;
  }
}

/** A rule of the playbook would be broken; `code` is machine-readable (e.g. `self-approval`). */
export class PolicyViolation extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'PolicyViolation';
    this.code = code;
  }
}

/** A refused request: a machine code and a human reason that says what to do. */
export interface Refusal<C extends string = string> {
  ok: false;
  code: C;
  reason: string;
}

/** Either accepted, or a Refusal. */
export type Verdict<C extends string = string> = { ok: true } | Refusal<C>;

export function refuse<C extends string>(code: C, reason: string): Refusal<C> {
  return { ok: false, code, reason };
}

/** Throws PolicyViolation when the verdict is a refusal. */
export function assertOk<C extends string>(v: Verdict<C>): void {
  if (!v.ok) throw new PolicyViolation(v.code, v.reason);
}
