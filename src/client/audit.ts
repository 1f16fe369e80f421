// `steward audit verify`: migrates the audit store if needed, then recomputes its hash chain and says whether it
// is intact. Exit 0: intact. Exit 1: the first broken row (seq, event id, what is wrong). Exit 2: configuration.
import type { Command } from 'commander';
import { describeProblem, type Anchor } from '../audit/chain';
import { AuditNotConfiguredError } from '../audit/connection';
import { AuditMigrationError } from '../audit/migrate';
import { verifyAuditLog } from '../audit/verify';
import { readCheckpoints, verifyCheckpoint } from '../audit/checkpoint';
import { registerAuditEvidence } from './audit-evidence';
import { prepareAuditStore } from '../activities/audit/store';
import { loadConfig } from '../config/load';
import { SecretResolutionError } from '../config/secrets';
import { emit, progress } from './output';
import { CliError } from './temporal';

function parseAnchor(value: string, previous: Anchor[] = []): Anchor[] {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(value);
  if (!m) throw new CliError(`--anchor ${value} is not SEQ:HASH (the head printed by an earlier \`steward audit verify\`)`, 2);
  return [...previous, { seq: Number(m[1]), hash: m[2]! }];
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description("the append-only, hash-chained audit store");
  audit
    .command('verify')
    .description('recompute the audit hash chain and report the first broken row, if any')
    .option('--anchor <seq:hash>', 'a head recorded earlier (repeatable): its row must still be there, unchanged', parseAnchor)
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean; anchor?: Anchor[] }) => {
      const config = loadConfig(program.opts().config);
      let prepared;
      try {
        prepared = await prepareAuditStore(config, progress);
      } catch (err) {
        if (err instanceof AuditNotConfiguredError || err instanceof SecretResolutionError || err instanceof AuditMigrationError) {
          throw new CliError(err.message, 2);
        }
        const code = (err as { code?: string }).code;
        throw new CliError(
          `cannot open the audit store: ${(err as Error).message}${code ? ` (PostgreSQL ${code})` : ''}. ` +
            'Start the local stack with `steward dev up`, or check the audit section of the config and that PostgreSQL is reachable.',
          2,
        );
      }
      const { pool, migration } = prepared;
      if (migration.applied.length) progress(`applied audit store migrations: ${migration.applied.join(', ')}`);
      // Checkpoints signed by the worker's key, kept outside the database: each is an anchor the rows must match.
      const cpConfig = config.audit?.checkpoints;
      const checkpointProblems: string[] = [];
      const anchors: Anchor[] = [...(opts.anchor ?? [])];
      let checkpoints = 0;
      if (cpConfig) {
        for (const cp of readCheckpoints(cpConfig.dir)) {
          const v = verifyCheckpoint(cp, cpConfig.publicKey);
          if (!v.ok) checkpointProblems.push(v.reason);
          else {
            checkpoints++;
            anchors.push({ seq: v.statement.seq, hash: v.statement.hash });
          }
        }
      }
      let verified;
      try {
        verified = await verifyAuditLog(pool, { anchors });
      } finally {
        await pool.end();
      }
      const { chain, signatures } = verified;
      const report = { ...chain, ok: chain.ok && signatures.problems.length === 0 && checkpointProblems.length === 0 };
      emit(opts, { ...report, chainOk: chain.ok, checkpoints, checkpointProblems, signatures, migrationsApplied: migration.applied }, () =>
        [
          chain.ok
            ? `${chain.rows} rows, chain intact${chain.head ? ` (head seq ${chain.head.seq} hash ${chain.head.hash})` : ''}`
            : [`${chain.rows} rows, chain BROKEN:`, ...chain.problems.map((p) => `  ${describeProblem(p)}`), ...(chain.problemsTruncated ? ['  (more problems not listed)'] : [])].join('\n'),
          `${checkpoints} signed checkpoint(s) matched${cpConfig ? '' : ' (audit.checkpoints is not configured)'}${checkpointProblems.length ? `; BAD: ${checkpointProblems.join('; ')}` : ''}`,
          `${signatures.checked} signed action(s) verified${signatures.problems.length ? `; BAD: ${signatures.problems.map((p) => `seq ${p.seq} (${p.eventId}): ${p.reason}`).join('; ')}` : ''}`,
        ].join('\n'),
      );
      if (signatures.problems.length || checkpointProblems.length) {
        throw new CliError(`the audit log holds ${signatures.problems.length} bad signature(s) and ${checkpointProblems.length} bad checkpoint(s): treat this as a security incident`, 1);
      }
      if (!report.ok) {
        throw new CliError(
          `the audit chain is broken at ${describeProblem(chain.firstBroken!)}. ` +
            'Do not modify the table: treat this as a security incident, preserve the database and its logs, and compare with backups and recorded heads.',
          1,
        );
      }
    });
  registerAuditEvidence(program, audit);
}
