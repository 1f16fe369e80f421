// The audit checkpoint schedule's id (the worker creates it; see src/workflows/audit-checkpoint.ts).
export const AUDIT_CHECKPOINT_SCHEDULE_ID = 'steward-audit-checkpoint';
