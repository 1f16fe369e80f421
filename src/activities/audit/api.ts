// The audit store's contract (playbook §4 "maintain auditability", §16): every event of a change, incident
// or deployment is appended to an append-only, hash-chained table. Implemented in ./store.ts.

export const AUDIT_EVENT_KINDS = [
  'proposed',
  'reviewed',
  'approved',
  'rejected',
  'rejected-attempt',
  'withdrawn',
  'phase-changed',
  'deployment-started',
  'deployed',
  'rolled-back',
  'rollback-failed',
  'destructive-migration-approved',
  'report',
  'incident-opened',
  'incident-step',
  'incident-closed',
  'policy-loaded',
  'policy-changed',
  'commit-resolved',
  'ref-moved',
  'audit-checkpoint',
  'restore-decided',
  'manual-step-completed',
  'payloads-decoded',
  // The environment lock: a closed holder's lock freed; a release its holder did not confirm, refused.
  'lock-holder-gone',
  'lock-release-refused',
  // A change cancelled during a deployment: how the deployment ended.
  'deployment-cancelled',
  // Who started a deployment: its change (confirmed by the worker), or a person's signed direct order.
  'deployment-authorised',
] as const;
export type AuditEventKind = (typeof AUDIT_EVENT_KINDS)[number];

export interface AuditEvent {
  /** Idempotency key: a retried append with the same id is a no-op that returns the first row. */
  eventId: string;
  /** The change, incident or deployment the event belongs to (e.g. CHG-42, INC-7). */
  subject: string;
  kind: AuditEventKind;
  /** The person (or `steward` for the system) who did it. */
  actor: string;
  /** ISO time of the event (workflow time, so replays agree). */
  at: string;
  /** Plain data, no secrets. */
  details: Record<string, unknown>;
}

export interface AuditRow extends AuditEvent {
  seq: number;
  prevHash: string;
  hash: string;
}

export interface AuditCheckpointResult {
  seq: number;
  hash: string;
  rows: number;
  statement: string;
  signature: string;
  file: string;
}

export interface AuditActivities {
  appendAuditEvent(event: AuditEvent): Promise<{ seq: number; hash: string }>;
  listAuditEvents(input: { subject: string }): Promise<AuditRow[]>;
  /** Signs the chain head with the worker's checkpoint key and stores it outside the database (null: empty log). */
  signAuditCheckpoint(input: Record<string, never>): Promise<AuditCheckpointResult | null>;
}
