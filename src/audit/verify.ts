// `verifyAuditChain(pool)`: reads the whole log in seq order, in batches, inside one read-only REPEATABLE READ
// transaction (a consistent snapshot while appends go on), and checks the chain (see chain.ts for what is checked
// and what only an anchor can show). SELECT on audit_event is all it needs: the writer role will do.
import type { Pool } from 'pg';
import { ChainVerifier, type Anchor, type ChainReport, type ChainRow } from './chain';
import { fromDb, ROW_COLUMNS } from './log';
import { SignatureVerifier, type SignatureReport } from './signatures';

const BATCH = 1000;

export async function verifyAuditChain(pool: Pool, opts: { anchors?: Anchor[]; onRow?: (row: ChainRow) => void } = {}): Promise<ChainReport> {
  const verifier = new ChainVerifier(opts.anchors);
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let after = '-9223372036854775808';
    for (;;) {
      const r = await client.query(`SELECT ${ROW_COLUMNS} FROM audit_event WHERE seq > $1::bigint ORDER BY seq LIMIT ${BATCH}`, [after]);
      for (const row of r.rows) {
        const chainRow = fromDb(row);
        verifier.add(chainRow);
        opts.onRow?.(chainRow);
      }
      if (r.rows.length < BATCH) break;
      after = String(r.rows[r.rows.length - 1].seq);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  return verifier.report();
}

/**
 * The chain (with checkpoints as anchors) and every signed action's signature, in one streaming read of the log:
 * each batch's rows are checked and dropped (no row is kept for the signatures; see SignatureVerifier).
 */
export async function verifyAuditLog(pool: Pool, opts: { anchors?: Anchor[] } = {}): Promise<{ chain: ChainReport; signatures: SignatureReport }> {
  const signatures = new SignatureVerifier();
  const chain = await verifyAuditChain(pool, { anchors: opts.anchors, onRow: (r) => signatures.add(r) });
  return { chain, signatures: signatures.report() };
}
