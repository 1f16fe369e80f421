// The audit checkpoint schedule's id (the worker creates it; see src/workflows/audit-checkpoint.ts).
export const AUDIT_CHECKPOINT_SCHEDULE_ID = 'steward-audit-checkpoint';

/** Failure type of a human action refused because the audit store could not record it (fail-closed). */
export const AUDIT_UNAVAILABLE = 'AuditUnavailable';

/** What the caller (and the CLI) is told when an action was not applied because it could not be recorded. */
export function auditRefusal(what: string, error: string): string {
  return `the audit store could not record ${what}, so it was NOT applied (nothing changed); send it again once the audit store is back (${error.slice(0, 300)})`;
}
