// Where the audit store is: the two secret references of the `audit` config section, resolved here (activities
// and the CLI only), never logged. The writer URL is the application's (INSERT and SELECT only); the owner URL
// is for migrations. Without an owner URL the writer's role runs the migrations itself and owns the table, which
// works but lets that role disable the trigger: configure a separate owner in production.
import { Pool, type PoolConfig } from 'pg';
import type { StewardConfig } from '../config/schema';
import { resolveSecret, type SecretRef } from '../config/secrets';

export class AuditNotConfiguredError extends Error {
  override name = 'AuditNotConfiguredError';
  constructor() {
    super(
      'the audit store is not configured: steward.config.yaml has no `audit.databaseUrl` ' +
        '(a secret reference such as `{ file: /path/to/audit-writer-url }`); add it, and `audit.ownerUrl` for migrations',
    );
  }
}

export interface AuditRefs {
  databaseUrl: SecretRef;
  ownerUrl?: SecretRef;
}

export function auditRefs(config: StewardConfig): AuditRefs {
  const audit = config.audit;
  if (!audit?.databaseUrl) throw new AuditNotConfiguredError();
  return { databaseUrl: audit.databaseUrl, ownerUrl: audit.ownerUrl };
}

/** A pool for a secret URL. The URL stays inside pg's config; errors from pg name the host, not the password. */
export function poolFor(ref: SecretRef, extra: PoolConfig = {}): Pool {
  const secret = resolveSecret(ref);
  const pool = new Pool({ connectionString: secret.reveal(), max: 5, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000, allowExitOnIdle: true, ...extra });
  // An idle client that loses its connection must not crash the worker; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/** The role name in a PostgreSQL URL (for the writer's GRANTs), or undefined when the URL names none. */
export function roleOfUrl(ref: SecretRef): string | undefined {
  const raw = resolveSecret(ref).reveal();
  try {
    const u = new URL(raw);
    return u.username ? decodeURIComponent(u.username) : undefined;
  } catch {
    return undefined;
  }
}
