// How long database work may take: sized from the database (pg_database_size) and the environment's configured
// throughput, never one fixed figure for every activity. Pure: the activity measures, the workflow passes the
// result as each call's startToCloseTimeout, and the activity uses the same figures for its SSH commands.

export interface DatabaseTiming {
  /** What pg_dump manages on this host, at worst (bytes of database per second). */
  dumpBytesPerSecond: number;
  /** What pg_restore manages, at worst. */
  restoreBytesPerSecond: number;
  /** Head-room over the estimate. */
  safetyFactor: number;
  minMinutes: number;
  maxHours: number;
  /** `migrate` cannot be sized from the database; it is bounded by this and kept alive by heartbeats. */
  migrateMinutes: number;
  /** A backup older than this is not used before a migration: a fresh one is taken. */
  backupMaxAgeMinutes: number;
  /** Above this size the restore check restores only the protected tables (a sample), not the whole database. */
  verifyFullBelowBytes: number;
}

export const DEFAULT_DATABASE_TIMING: DatabaseTiming = {
  dumpBytesPerSecond: 20 * 1024 * 1024,
  restoreBytesPerSecond: 10 * 1024 * 1024,
  safetyFactor: 3,
  minMinutes: 10,
  maxHours: 24,
  migrateMinutes: 240,
  backupMaxAgeMinutes: 60,
  verifyFullBelowBytes: 20 * 1024 ** 3,
};

export interface DatabaseTimeouts {
  sizeBytes: number;
  dumpMs: number;
  restoreMs: number;
  migrateMs: number;
  /** The backup activity: the dump, then its restore into a scratch database. */
  backupMs: number;
  /** The restore activity: a backup of the database as it is, then the restore. */
  restoreActivityMs: number;
  backupMaxAgeMs: number;
  /** The restore check restores only the protected tables. */
  sampleOnly: boolean;
}

const MINUTE = 60_000;

export function databaseTimeouts(sizeBytes: number, timing: DatabaseTiming = DEFAULT_DATABASE_TIMING): DatabaseTimeouts {
  if (!Number.isFinite(sizeBytes) || sizeBytes < 0) throw new Error(`database size ${sizeBytes} is not a size in bytes`);
  const clamp = (ms: number) => Math.round(Math.min(timing.maxHours * 60 * MINUTE, Math.max(timing.minMinutes * MINUTE, ms)));
  const dumpMs = clamp((sizeBytes / timing.dumpBytesPerSecond) * 1000 * timing.safetyFactor);
  const restoreMs = clamp((sizeBytes / timing.restoreBytesPerSecond) * 1000 * timing.safetyFactor);
  // The activity's own bookkeeping (lists, checksums, counts) on top of its commands.
  const slack = 2 * MINUTE;
  return {
    sizeBytes,
    dumpMs,
    restoreMs,
    migrateMs: timing.migrateMinutes * MINUTE,
    backupMs: dumpMs + restoreMs + slack,
    restoreActivityMs: dumpMs + restoreMs + slack,
    backupMaxAgeMs: timing.backupMaxAgeMinutes * MINUTE,
    sampleOnly: sizeBytes >= timing.verifyFullBelowBytes,
  };
}

/** Why a backup may not be used before a migration (this run's, fresh), or null. */
export function backupProblem(backup: { runId?: string; takenAt?: string }, runId: string, nowMs: number, maxAgeMs: number): string | null {
  if (backup.runId !== runId) return `the backup belongs to run ${backup.runId ?? 'unknown'}, not to this run ${runId}`;
  const taken = backup.takenAt ? Date.parse(backup.takenAt) : Number.NaN;
  if (Number.isNaN(taken)) return 'the backup has no time it was taken';
  const age = nowMs - taken;
  if (age > maxAgeMs) return `the backup is ${Math.round(age / MINUTE)} min old, more than the ${Math.round(maxAgeMs / MINUTE)} min allowed before a migration`;
  return null;
}
