import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backupProblem, databaseTimeouts, DEFAULT_DATABASE_TIMING } from '../../../src/domain/timeouts';

const MIN = 60_000;
const GiB = 1024 ** 3;

describe('database timeouts sized from the database', () => {
  it('a small database gets the floor; a large one grows with its size; the ceiling holds', () => {
    const small = databaseTimeouts(50 * 1024 * 1024);
    assert.equal(small.dumpMs, 10 * MIN);
    assert.equal(small.restoreMs, 10 * MIN);
    assert.equal(small.backupMs, 22 * MIN);
    assert.equal(small.migrateMs, 240 * MIN);
    assert.equal(small.sampleOnly, false);
    // 200 GiB at 20 MiB/s ×3 = 30,720 s = 512 min: over the old fixed 30 minutes, as a big ledger needs.
    const big = databaseTimeouts(200 * GiB);
    assert.equal(big.dumpMs, 512 * MIN);
    assert.equal(big.restoreMs, 1024 * MIN);
    assert.equal(big.sampleOnly, true, 'above 20 GiB the restore check restores the protected tables only');
    assert.equal(databaseTimeouts(10_000 * GiB).restoreMs, 24 * 60 * MIN, 'capped at maxHours');
  });

  it('follows the configured timing', () => {
    const t = databaseTimeouts(1_000_000, { ...DEFAULT_DATABASE_TIMING, dumpBytesPerSecond: 10_000, safetyFactor: 2, minMinutes: 0.1, verifyFullBelowBytes: 500_000 });
    assert.equal(t.dumpMs, 200_000);
    assert.equal(t.sampleOnly, true);
    assert.throws(() => databaseTimeouts(-1), /not a size/);
    assert.throws(() => databaseTimeouts(Number.NaN), /not a size/);
  });

  it('a backup is used before a migration only when it is this run\'s and fresh', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    const fresh = { runId: 'run-2', takenAt: '2026-12-01T11:55:00Z' };
    assert.equal(backupProblem(fresh, 'run-2', now, 60 * MIN), null);
    assert.match(backupProblem(fresh, 'run-1', now, 60 * MIN)!, /belongs to run run-2, not to this run run-1/);
    assert.match(backupProblem({ takenAt: fresh.takenAt }, 'run-2', now, 60 * MIN)!, /run unknown/);
    assert.match(backupProblem({ runId: 'run-2', takenAt: '2026-11-28T12:00:00Z' }, 'run-2', now, 60 * MIN)!, /4320 min old, more than the 60 min/);
    assert.match(backupProblem({ runId: 'run-2' }, 'run-2', now, 60 * MIN)!, /no time/);
  });
});
