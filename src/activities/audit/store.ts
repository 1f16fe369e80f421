// The audit activities (contract: ./api.ts) over PostgreSQL. The first call migrates the store (with the owner
// URL, when configured) and opens a pool of the writer role; both URLs are secret references resolved here only.
import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import { z } from 'zod';
import { CanonicalJsonError } from '../../audit/canonical';
import { auditRefs, AuditNotConfiguredError, poolFor, roleOfUrl } from '../../audit/connection';
import { AuditConflictError, appendEvent, listEvents } from '../../audit/log';
import { AuditMigrationError, migrateAuditStore, type MigrateResult } from '../../audit/migrate';
import type { StewardConfig } from '../../config/schema';
import { redactDeep } from '../../config/redact';
import { SecretResolutionError } from '../../config/secrets';
import { AUDIT_EVENT_KINDS, type AuditActivities, type AuditEvent } from './api';
import { readChainHead, signCheckpoint, storeCheckpoint } from '../../audit/checkpoint';

const eventSchema = z.strictObject({
  eventId: z.string().min(1).max(200),
  subject: z.string().min(1).max(200),
  kind: z.enum(AUDIT_EVENT_KINDS),
  actor: z.string().min(1).max(200),
  at: z.string().refine((s) => !Number.isNaN(new Date(s).getTime()), 'an ISO 8601 time'),
  details: z.record(z.string(), z.unknown()),
});

/** Errors that no retry can fix become non-retryable failures that say what to change. */
function toFailure(err: unknown): unknown {
  if (err instanceof AuditNotConfiguredError) return ApplicationFailure.nonRetryable(err.message, 'AuditNotConfigured');
  if (err instanceof SecretResolutionError) return ApplicationFailure.nonRetryable(`audit store: ${err.message}`, 'AuditSecretUnavailable');
  if (err instanceof AuditMigrationError) return ApplicationFailure.nonRetryable(`audit store: ${err.message}`, 'AuditMigrationFailed');
  if (err instanceof AuditConflictError) return ApplicationFailure.nonRetryable(err.message, 'AuditConflict');
  if (err instanceof CanonicalJsonError) return ApplicationFailure.nonRetryable(`audit event: ${err.message}`, 'BadAuditEvent');
  const code = (err as { code?: string }).code;
  // 42501 insufficient_privilege, 28P01 bad password, 3D000 no such database, 42P01 no such table: configuration.
  if (code && ['42501', '28P01', '28000', '3D000', '42P01'].includes(code)) {
    return ApplicationFailure.nonRetryable(`audit store: ${(err as Error).message} (PostgreSQL ${code}); check the audit section of steward.config.yaml and the roles' grants`, 'AuditStoreMisconfigured');
  }
  return err;
}

export interface AuditStore {
  pool(): Promise<Pool>;
  close(): Promise<void>;
}

/** Migrates once (with the owner's URL, or the writer's when no owner is configured) and opens the writer's pool. */
export async function prepareAuditStore(config: StewardConfig, log: (line: string) => void = () => undefined): Promise<{ pool: Pool; migration: MigrateResult }> {
  const refs = auditRefs(config);
  const owner = poolFor(refs.ownerUrl ?? refs.databaseUrl, { max: 1 });
  let migration: MigrateResult;
  try {
    migration = await migrateAuditStore(owner, { writerRole: roleOfUrl(refs.databaseUrl) });
  } finally {
    await owner.end();
  }
  for (const w of migration.warnings) log(`audit store: ${w}`);
  return { pool: poolFor(refs.databaseUrl), migration };
}

export function lazyAuditStore(config: StewardConfig): AuditStore {
  let ready: Promise<Pool> | undefined;
  return {
    pool() {
      ready ??= prepareAuditStore(config, (l) => console.warn(l)).then(
        (r) => r.pool,
        (err) => {
          ready = undefined; // the next attempt (an activity retry) tries again
          throw err;
        },
      );
      return ready;
    },
    async close() {
      const p = ready;
      ready = undefined;
      if (p) await (await p.catch(() => undefined))?.end();
    },
  };
}

export function createAuditActivities(deps: { config: StewardConfig }): AuditActivities {
  const store = lazyAuditStore(deps.config);
  // Migrate as the worker starts, so a broken audit store shows at once; a failure here is only logged: the
  // first activity tries again (and fails with the reason, retryable or not).
  if (deps.config.audit) {
    store.pool().catch((err: unknown) => console.warn(`audit store not ready at start: ${(err as Error).message}`));
  }
  return {
    async appendAuditEvent(event: AuditEvent): Promise<{ seq: number; hash: string }> {
      const parsed = eventSchema.safeParse(event);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ');
        throw ApplicationFailure.nonRetryable(`audit event ${String(event?.eventId)} is not valid: ${issues}`, 'BadAuditEvent');
      }
      try {
        // Details may quote a host's error text: masked before the append-only table keeps it for ever.
        const r = await appendEvent(await store.pool(), { ...(parsed.data as AuditEvent), details: redactDeep(parsed.data.details) });
        return { seq: r.seq, hash: r.hash };
      } catch (err) {
        throw toFailure(err);
      }
    },
    async signAuditCheckpoint() {
      const cfg = deps.config.audit?.checkpoints;
      if (!cfg) throw ApplicationFailure.nonRetryable('audit.checkpoints is not configured: give key, publicKey and dir', 'CheckpointsNotConfigured');
      try {
        const head = await readChainHead(await store.pool());
        if (!head) return null;
        const signed = signCheckpoint(cfg.key, { v: 1, kind: 'audit-checkpoint', seq: head.seq, hash: head.hash, rows: head.rows, at: new Date().toISOString() });
        const file = storeCheckpoint(cfg.dir, signed);
        return { ...head, ...signed, file };
      } catch (err) {
        throw toFailure(err);
      }
    },
    async listAuditEvents(input: { subject: string }) {
      try {
        return await listEvents(await store.pool(), input.subject);
      } catch (err) {
        throw toFailure(err);
      }
    },
  };
}
