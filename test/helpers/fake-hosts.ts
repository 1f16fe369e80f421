// Fake host activities for workflow tests of the real `deployment` (no SSH, no database): each records what it was
// asked to do in `calls`, in order, so a test asserts which host steps ran (and that none did). The lock and the
// authority tests share them; the lock test holds steps at a gate (`through`) to act while they run.

/** A migration the fake plan returns. */
export interface FakePlannedMigration {
  app: string;
  name: string;
  sql: string;
  irreversible: boolean;
}

export interface FakeHostOptions {
  /** Where every call is recorded, in order. */
  calls: string[];
  /** The release serving before the deployment (until a switch is recorded). */
  live?: string;
  /** The migrations the plan returns (none by default). */
  planned?: FakePlannedMigration[];
  /** Record the reads too (the fleet, the current release, the backup): a test that no host step at all ran. */
  recordReads?: boolean;
  /** Awaited inside prepareRelease, runMigrations and restartApp: a test holds a step there. */
  through?: (step: string) => Promise<void>;
}

export function fakeHostActivities(o: FakeHostOptions) {
  const { calls } = o;
  const rec = (what: string) => calls.push(what);
  const read = (what: string) => o.recordReads && rec(what);
  const through = o.through ?? (async () => undefined);
  const planned = o.planned ?? [];
  return {
    async describeFleet() {
      read('describeFleet');
      return { hosts: [{ name: 'web-1', web: true, primary: true }], batchSize: 1, absentHooks: [], limits: [] };
    },
    async readCurrentRelease() {
      read('readCurrentRelease');
      const switched = [...calls].reverse().find((c) => c.startsWith('switchRelease:') && !c.endsWith(':done'));
      return { releaseId: switched ? switched.slice('switchRelease:'.length) : (o.live ?? 'live-release') };
    },
    async prepareRelease(i: { gitRef: string }) {
      rec('prepareRelease');
      await through('prepareRelease');
      return { commit: i.gitRef, requirementsHash: 'h', reused: false };
    },
    async prepareVirtualenv() {
      return { installed: false, venv: 'venv-h' };
    },
    async planMigrations() {
      return { planned, stateBefore: { banking: '0002_audit_log_append_only' } };
    },
    async collectStatic() {
      return {};
    },
    async measureDatabase() {
      return { sizeBytes: 10, dumpMs: 60_000, restoreMs: 60_000, migrateMs: 600_000, backupMs: 120_000, restoreActivityMs: 180_000, backupMaxAgeMs: 3_600_000, sampleOnly: false };
    },
    async backupDatabase(i: { backupId: string; runId?: string }) {
      read('backupDatabase');
      return { file: `/backups/${i.backupId}-${i.runId}.dump`, sizeBytes: 10, sha256: 'a'.repeat(64), verifiedEntries: 3, durationMs: 1, reused: false, runId: i.runId, takenAt: new Date().toISOString() };
    },
    async readInvariants() {
      return { demo: { balance: 100 } };
    },
    async runMigrations() {
      rec('runMigrations');
      await through('runMigrations');
      if (o.through) rec('runMigrations:done');
      return { applied: planned.map((m) => `${m.app}.${m.name}`) };
    },
    async reverseMigrations() {
      rec('reverseMigrations');
      return { reversed: planned.map((m) => `${m.app}.${m.name}`) };
    },
    async switchRelease(i: { releaseId: string }) {
      rec(`switchRelease:${i.releaseId}`);
      return {};
    },
    async restartApp(i: { releaseId: string }) {
      rec(`restartApp:${i.releaseId}`);
      await through('restartApp');
      if (o.through) rec(`restartApp:${i.releaseId}:done`);
      return { mode: 'graceful' };
    },
    async listDisabledModules() {
      return [];
    },
    async smokeTest() {
      rec('smokeTest');
      return { ok: true, checks: [{ name: 'healthz', ok: true, ms: 1, detail: '' }], durationMs: 1 };
    },
    async listReleaseTags() {
      return [];
    },
    async tagRelease(i: { tag: string }) {
      rec(`tagRelease:${i.tag}`);
      return { tag: i.tag };
    },
    async pruneReleases() {
      return {};
    },
    async removeRelease() {
      rec('removeRelease');
      return {};
    },
    async setFeatureFlag() {
      rec('setFeatureFlag');
      return {};
    },
  };
}
