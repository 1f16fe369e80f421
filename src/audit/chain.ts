// Verification of the hash chain, row by row, in seq order. Pure: the rows come from verify.ts (PostgreSQL)
// or from a test's in-memory list.
//
// For each row, relative to the row before it (or to the genesis values 0 / 64 zeros for the first row):
//   - content: its hash must equal computeAuditHash(its prev_hash, its fields). Any edit of an event's fields,
//     seq, prev_seq or prev_hash without recomputing the hash shows here;
//   - link: its prev_hash must equal the previous row's hash. Recomputing the hash of an edited row breaks the
//     next row's link instead;
//   - prev_seq: must equal the previous row's seq. A larger prev_seq means the rows in between were deleted
//     (a rolled-back insert leaves a gap in seq too, but no row ever names the rolled-back seq as its prev_seq);
//   - order: seq must increase.
// What the chain alone cannot show: removal of the newest rows (the tail), or a wholesale rewrite of every row
// after some point by someone who recomputes all the hashes. Both are caught by comparing the head (seq and hash,
// printed by `steward audit verify`) with a head recorded elsewhere earlier: pass it back as an anchor.
import { computeAuditHash, GENESIS_HASH, normaliseTime } from './canonical';

export interface ChainRow {
  seq: number;
  prevSeq: number;
  eventId: string;
  subject: string;
  kind: string;
  actor: string;
  at: string | Date;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export type ProblemKind = 'content-altered' | 'broken-link' | 'rows-missing' | 'out-of-order' | 'anchor-mismatch' | 'anchor-missing';

export interface ChainProblem {
  seq: number;
  eventId: string;
  kind: ProblemKind;
  message: string;
}

export interface Anchor {
  seq: number;
  hash: string;
}

export interface ChainReport {
  ok: boolean;
  rows: number;
  head?: { seq: number; hash: string };
  /** The first problem in seq order: the first row that cannot be trusted. */
  firstBroken?: ChainProblem;
  problems: ChainProblem[];
  /** True when more problems were found than are listed. */
  problemsTruncated: boolean;
}

const MAX_PROBLEMS = 100;

/** Feeds rows one at a time (so a large table streams); `report()` at the end. */
export class ChainVerifier {
  private prev: { seq: number; hash: string } | undefined;
  private count = 0;
  private readonly problems: ChainProblem[] = [];
  private truncated = false;
  private readonly anchors: Map<number, string>;
  private readonly anchorsSeen = new Set<number>();

  constructor(anchors: Anchor[] = []) {
    this.anchors = new Map(anchors.map((a) => [a.seq, a.hash]));
  }

  add(row: ChainRow): void {
    this.count++;
    const expectedPrevSeq = this.prev?.seq ?? 0;
    const expectedPrevHash = this.prev?.hash ?? GENESIS_HASH;
    if (this.prev && row.seq <= this.prev.seq) {
      this.problem(row, 'out-of-order', `seq ${row.seq} follows seq ${this.prev.seq}; rows must be in increasing seq order`);
    }
    let recomputed: string | undefined;
    try {
      recomputed = computeAuditHash(row.prevHash, { ...row, at: normaliseTime(row.at) });
    } catch (err) {
      this.problem(row, 'content-altered', `its fields cannot be hashed: ${(err as Error).message}`);
    }
    if (recomputed !== undefined && recomputed !== row.hash) {
      this.problem(row, 'content-altered', `its content does not match its hash (stored ${row.hash.slice(0, 12)}…, recomputed ${recomputed.slice(0, 12)}…): the row was altered`);
    }
    if (row.prevSeq !== expectedPrevSeq) {
      if (row.prevSeq > expectedPrevSeq) {
        this.problem(row, 'rows-missing', `its prev_seq is ${row.prevSeq} but the row before it is ${this.prev ? `seq ${expectedPrevSeq}` : 'none (it is the first row)'}: the row with seq ${row.prevSeq} was deleted`);
      } else {
        this.problem(row, 'out-of-order', `its prev_seq is ${row.prevSeq} but the row before it is seq ${expectedPrevSeq}: a row was inserted or moved`);
      }
    }
    if (row.prevHash !== expectedPrevHash) {
      this.problem(row, 'broken-link', `its prev_hash does not match the hash of ${this.prev ? `seq ${expectedPrevSeq}` : 'the genesis (it is the first row)'}: a row before it was altered, deleted or inserted`);
    }
    const anchored = this.anchors.get(row.seq);
    if (anchored !== undefined) {
      this.anchorsSeen.add(row.seq);
      if (anchored !== row.hash) this.problem(row, 'anchor-mismatch', `its hash ${row.hash.slice(0, 12)}… differs from the anchored hash ${anchored.slice(0, 12)}…: the log was rewritten`);
    }
    this.prev = { seq: row.seq, hash: row.hash };
  }

  report(): ChainReport {
    for (const [seq] of this.anchors) {
      if (!this.anchorsSeen.has(seq)) {
        this.problems.push({ seq, eventId: '', kind: 'anchor-missing', message: `the anchored row seq ${seq} is not in the log: rows were removed` });
      }
    }
    const problems = [...this.problems].sort((a, b) => a.seq - b.seq);
    return {
      ok: problems.length === 0,
      rows: this.count,
      head: this.prev ? { ...this.prev } : undefined,
      firstBroken: problems[0],
      problems,
      problemsTruncated: this.truncated,
    };
  }

  private problem(row: ChainRow, kind: ProblemKind, message: string): void {
    if (this.problems.length >= MAX_PROBLEMS) {
      this.truncated = true;
      return;
    }
    this.problems.push({ seq: row.seq, eventId: row.eventId, kind, message });
  }
}

export function verifyRows(rows: Iterable<ChainRow>, anchors: Anchor[] = []): ChainReport {
  const v = new ChainVerifier(anchors);
  for (const r of rows) v.add(r);
  return v.report();
}

export function describeProblem(p: ChainProblem): string {
  return `seq ${p.seq}${p.eventId ? ` (event ${p.eventId})` : ''}: ${p.message}`;
}
