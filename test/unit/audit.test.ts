import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { canonicalJson, CanonicalJsonError, computeAuditHash, GENESIS_HASH, normaliseTime } from '../../src/audit/canonical';
import { verifyRows, type ChainRow } from '../../src/audit/chain';
import { loadMigrations } from '../../src/audit/migrate';

function chain(n: number): ChainRow[] {
  const rows: ChainRow[] = [];
  let prevSeq = 0;
  let prevHash = GENESIS_HASH;
  // Gaps in seq (3 → 5) as a rolled-back insert leaves them: not a problem.
  const seqs = [1, 2, 3, 5, 6, 7, 8, 9, 10, 11].slice(0, n);
  for (const seq of seqs) {
    const fields = {
      seq,
      prevSeq,
      eventId: `ev-${seq}`,
      subject: `CHG-${seq % 3}`,
      kind: 'approved',
      actor: 'carol',
      at: new Date(Date.UTC(2025, 0, 1, 10, seq)).toISOString(),
      details: { n: seq, nested: { b: [1, 'two', null], a: true } },
    };
    const hash = computeAuditHash(prevHash, fields);
    rows.push({ ...fields, prevHash, hash });
    prevSeq = seq;
    prevHash = hash;
  }
  return rows;
}

describe('audit canonical JSON', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('does not depend on key insertion order', () => {
    const a = { kind: 'approved', details: { x: 1, y: { q: 'r', p: [1, 2] } }, actor: 'bob' };
    const b = { actor: 'bob', details: { y: { p: [1, 2], q: 'r' }, x: 1 }, kind: 'approved' };
    assert.equal(canonicalJson(a), canonicalJson(b));
  });

  it('writes strings, numbers and dates as JSON does, drops undefined members, refuses what JSON cannot hold', () => {
    assert.equal(canonicalJson({ s: 'é"\n\u2028', n: 1.5, e: 1e21, neg: -0, u: undefined, arr: [undefined] }), '{"arr":[null],"e":1e+21,"n":1.5,"neg":0,"s":"é\\"\\n\u2028"}');
    assert.equal(canonicalJson({ d: new Date(Date.UTC(2025, 0, 1)) }), '{"d":"2025-01-01T00:00:00.000Z"}');
    assert.throws(() => canonicalJson({ x: NaN }), CanonicalJsonError);
    assert.throws(() => canonicalJson({ x: Infinity }), CanonicalJsonError);
    assert.throws(() => canonicalJson({ x: 10n }), CanonicalJsonError);
  });

  it('normalises times to UTC with milliseconds', () => {
    assert.equal(normaliseTime('2025-03-30T02:30:00+02:00'), '2025-03-30T00:30:00.000Z');
    assert.throws(() => normaliseTime('yesterday'), CanonicalJsonError);
  });
});

describe('audit hash', () => {
  const fields = { seq: 1, prevSeq: 0, eventId: 'e1', subject: 'CHG-1', kind: 'proposed', actor: 'alice', at: '2025-01-01T00:00:00.000Z', details: { b: 2, a: 1 } };

  it('is sha256(prev_hash || canonical JSON), hex', () => {
    const body = '{"actor":"alice","at":"2025-01-01T00:00:00.000Z","details":{"a":1,"b":2},"eventId":"e1","kind":"proposed","prevSeq":0,"seq":1,"subject":"CHG-1"}';
    const expected = createHash('sha256').update(GENESIS_HASH + body).digest('hex');
    assert.equal(computeAuditHash(GENESIS_HASH, fields), expected);
    assert.match(expected, /^[0-9a-f]{64}$/);
  });

  it('is deterministic and independent of key order', () => {
    const reordered = { details: { a: 1, b: 2 }, at: fields.at, actor: 'alice', kind: 'proposed', subject: 'CHG-1', eventId: 'e1', prevSeq: 0, seq: 1 };
    assert.equal(computeAuditHash(GENESIS_HASH, fields), computeAuditHash(GENESIS_HASH, reordered));
  });

  it('changes with any field and with the previous hash', () => {
    const base = computeAuditHash(GENESIS_HASH, fields);
    for (const change of [{ seq: 2 }, { prevSeq: 1 }, { eventId: 'e2' }, { subject: 'CHG-2' }, { kind: 'approved' }, { actor: 'bob' }, { at: '2025-01-01T00:00:00.001Z' }, { details: { a: 1, b: 3 } }]) {
      assert.notEqual(computeAuditHash(GENESIS_HASH, { ...fields, ...change }), base, JSON.stringify(change));
    }
    assert.notEqual(computeAuditHash('f'.repeat(64), fields), base);
  });
});

describe('audit chain verification (in memory)', () => {
  it('accepts an intact chain, gaps in seq included, and reports its head', () => {
    const rows = chain(10);
    const r = verifyRows(rows);
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.equal(r.rows, 10);
    assert.deepEqual(r.head, { seq: 11, hash: rows[9]!.hash });
    assert.deepEqual(verifyRows([]), { ok: true, rows: 0, head: undefined, firstBroken: undefined, problems: [], problemsTruncated: false });
  });

  it('names a row whose content was altered', () => {
    const rows = chain(10);
    rows[4] = { ...rows[4]!, details: { ...rows[4]!.details, n: 999 } };
    const r = verifyRows(rows);
    assert.equal(r.ok, false);
    assert.equal(r.firstBroken?.seq, 6);
    assert.equal(r.firstBroken?.eventId, 'ev-6');
    assert.equal(r.firstBroken?.kind, 'content-altered');
  });

  it('names the next row when an altered row had its hash recomputed', () => {
    const rows = chain(10);
    const t = { ...rows[4]!, actor: 'mallory' };
    t.hash = computeAuditHash(t.prevHash, { ...t, at: normaliseTime(t.at) });
    rows[4] = t;
    const r = verifyRows(rows);
    assert.equal(r.firstBroken?.seq, 7);
    assert.equal(r.firstBroken?.kind, 'broken-link');
  });

  it('detects a deleted row, telling it from a rolled-back gap', () => {
    const rows = chain(10);
    const [deleted] = rows.splice(5, 1); // seq 7; the next row is seq 8
    const r = verifyRows(rows);
    assert.equal(r.ok, false);
    assert.equal(deleted!.seq, 7);
    assert.equal(r.firstBroken?.seq, 8);
    assert.equal(r.firstBroken?.kind, 'rows-missing');
    assert.match(r.firstBroken!.message, new RegExp(`seq ${deleted!.seq} was deleted`));
    assert.ok(r.problems.some((p) => p.kind === 'broken-link' && p.seq === 8));
  });

  it('detects a deleted first row', () => {
    const r = verifyRows(chain(5).slice(1));
    assert.equal(r.firstBroken?.seq, 2);
    assert.equal(r.firstBroken?.kind, 'rows-missing');
  });

  it('detects reordered rows: swapped positions and swapped seq values', () => {
    const rows = chain(10);
    [rows[3], rows[4]] = [rows[4]!, rows[3]!];
    const r = verifyRows(rows);
    assert.equal(r.ok, false);
    assert.equal(r.firstBroken?.seq, 5);
    assert.ok(r.problems.some((p) => p.kind === 'out-of-order'));

    const rows2 = chain(10);
    const [a, b] = [rows2[3]!, rows2[4]!];
    rows2[3] = { ...b, seq: a.seq, prevSeq: a.prevSeq, prevHash: a.prevHash };
    rows2[4] = { ...a, seq: b.seq, prevSeq: b.prevSeq, prevHash: b.prevHash };
    const r2 = verifyRows(rows2);
    assert.equal(r2.firstBroken?.seq, a.seq);
    assert.equal(r2.firstBroken?.kind, 'content-altered');
  });

  it('detects removal of the tail only against an anchor', () => {
    const rows = chain(10);
    const anchor = { seq: rows[9]!.seq, hash: rows[9]!.hash };
    assert.equal(verifyRows(rows.slice(0, 8)).ok, true, 'a truncated tail is invisible to the chain alone');
    const r = verifyRows(rows.slice(0, 8), [anchor]);
    assert.equal(r.ok, false);
    assert.equal(r.firstBroken?.kind, 'anchor-missing');
    assert.equal(verifyRows(rows, [anchor]).ok, true);
    assert.equal(verifyRows(rows, [{ seq: anchor.seq, hash: 'a'.repeat(64) }]).firstBroken?.kind, 'anchor-mismatch');
  });
});

describe('audit migrations', () => {
  it('are versioned NNN_name.sql files in order', () => {
    const ms = loadMigrations();
    assert.ok(ms.length >= 1);
    assert.deepEqual(ms.map((m) => m.version), ms.map((_, i) => i + 1));
    assert.equal(ms[0]!.file, '001_audit_event.sql');
  });
});
