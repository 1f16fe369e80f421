// `verifyAuditChain(pool)`: reads the whole log in seq order, in batches, inside one read-only REPEATABLE READ
// transaction (a consistent snapshot while appends go on), and checks the chain (see chain.ts for what is checked
// and what only an anchor can show). SELECT on audit_event is all it needs: the writer role will do.
import type { Pool } from 'pg';
import { ChainVerifier, type Anchor, type ChainReport } from './chain';
import { fromDb, ROW_COLUMNS } from './log';

const BATCH = 1000;

export async function verifyAuditChain(pool: Pool, opts: { anchors?: Anchor[] } = {}): Promise<ChainReport> {
  const verifier = new ChainVerifier(opts.anchors);
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let after = '-9223372036854775808';
    for (;;) {
      const r = await client.query(`SELECT ${ROW_COLUMNS} FROM audit_event WHERE seq > $1::bigint ORDER BY seq LIMIT ${BATCH}`, [after]);
      for (const row of r.rows) verifier.add(fromDb(row));
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
