// `steward audit checkpoint` and `steward audit export CHANGE_ID DIR`: evidence an auditor can check without trusting
// Steward. The export holds each human action's exact statement and its SSHSIG, the allowed_signers file of the
// policies they name, the change's state, deployments and report, and a README with the stock `ssh-keygen -Y verify`
// commands (and verify.sh that runs them).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { listEvents } from '../audit/log';
import { prepareAuditStore } from '../activities/audit/store';
import type { AuditCheckpointResult, AuditRow } from '../activities/audit/api';
import { loadConfig } from '../config/load';
import type { PolicyConfig } from '../domain/policy';
import { ACTION_NAMESPACE } from '../domain/sshsig';
import { parseStatement } from '../domain/statement';
import { changeWorkflowId, type ChangeState } from '../workflows/lifecycle-api';
import { connectClient } from './temporal';
import { emit, progress } from './output';
import { CliError } from './temporal';

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

/** allowed_signers lines (ssh-keygen ALLOWED SIGNERS format) for every person with keys in the given policies. */
export function allowedSigners(policies: PolicyConfig[]): string {
  const lines = new Set<string>();
  for (const p of policies) for (const person of p.people) for (const k of person.keys ?? []) lines.add(`${person.id} namespaces="${ACTION_NAMESPACE}" ${k}`);
  return [...lines].join('\n') + '\n';
}

export function registerAuditEvidence(program: Command, audit: Command): void {
  audit
    .command('checkpoint')
    .description('sign the audit chain head now with the worker key (the schedule does it every audit.checkpoints.everyMinutes)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig(program.opts().config);
      if (!config.audit?.checkpoints) throw new CliError('audit.checkpoints is not configured (key, publicKey, dir)', 2);
      const client = await connectClient(config);
      try {
        const r = (await client.workflow.execute('auditCheckpoint', { taskQueue: config.temporal.taskQueue, workflowId: `audit-checkpoint-now-${Date.now()}`, args: [] })) as AuditCheckpointResult | null;
        emit(opts, r, () => (r ? `checkpoint at seq ${r.seq} (${r.rows} rows), hash ${r.hash}, signed; kept in ${r.file} and in the workflow history` : 'the audit log is empty: nothing to sign'));
      } finally {
        await client.connection.close();
      }
    });

  audit
    .command('export')
    .description('write an evidence folder for a change: statements, .sig files, allowed_signers, deployments, report; checkable with stock ssh-keygen -Y verify')
    .argument('<id>', 'the change id')
    .argument('<dir>', 'the folder to write (created; must be empty)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, dir: string, opts: { json?: boolean }) => {
      const config = loadConfig(program.opts().config);
      if (existsSync(dir) && readdirSync(dir).length > 0) throw new CliError(`${dir} is not empty: give a new folder`, 2);
      mkdirSync(path.join(dir, 'statements'), { recursive: true });
      const { pool } = await prepareAuditStore(config, progress);
      let rows: AuditRow[];
      let policyRows: AuditRow[];
      try {
        rows = await listEvents(pool, id);
        policyRows = await listEvents(pool, 'policy');
      } finally {
        await pool.end();
      }
      if (rows.length === 0) throw new CliError(`the audit log has no events for ${id}`, 1);
      const named = new Set<string>();
      const commands: string[] = [];
      let n = 0;
      for (const r of rows) {
        const text = r.details.statement;
        const sig = r.details.signature;
        if (typeof text !== 'string' || typeof sig !== 'string') continue;
        const st = parseStatement(text);
        if (typeof st === 'string') continue;
        named.add(st.policyDigest);
        const base = `${String(++n).padStart(3, '0')}-${safe(st.action)}-${safe(st.signer)}.json`;
        writeFileSync(path.join(dir, 'statements', base), text);
        writeFileSync(path.join(dir, 'statements', `${base}.sig`), sig);
        commands.push(`ssh-keygen -Y verify -f allowed_signers -I ${st.signer} -n ${ACTION_NAMESPACE} -s statements/${base}.sig < statements/${base}`);
      }
      // The policies the statements name (the opening statement may name the proposer's copy: then all recorded).
      const policies = policyRows.filter((r) => r.kind === 'policy-loaded' && (named.has(String(r.details.digest)) || named.size === 0));
      const usable = (policies.length ? policies : policyRows.filter((r) => r.kind === 'policy-loaded')).map((r) => r.details.policy as unknown as PolicyConfig);
      writeFileSync(path.join(dir, 'allowed_signers'), allowedSigners(usable));
      writeFileSync(path.join(dir, 'policies.json'), JSON.stringify(policies.map((r) => ({ digest: r.details.digest, policy: r.details.policy })), null, 2));
      writeFileSync(path.join(dir, 'audit-events.json'), JSON.stringify(rows, null, 2));
      let state: ChangeState | undefined;
      try {
        const client = await connectClient(config);
        try {
          state = (await client.workflow.getHandle(changeWorkflowId(id)).query('status')) as ChangeState;
        } finally {
          await client.connection.close();
        }
      } catch (err) {
        progress(`the change's state could not be read from Temporal (${(err as Error).message}); the export holds the audit log only`);
      }
      if (state) {
        writeFileSync(path.join(dir, 'change.json'), JSON.stringify(state, null, 2));
        mkdirSync(path.join(dir, 'deployments'), { recursive: true });
        for (const d of state.deployments) writeFileSync(path.join(dir, 'deployments', `${safe(d.workflowId)}.json`), JSON.stringify(d, null, 2));
        if (state.reportPath && existsSync(state.reportPath)) writeFileSync(path.join(dir, 'report.md'), readFileSync(state.reportPath));
      }
      writeFileSync(path.join(dir, 'verify.sh'), `#!/bin/sh\n# Verifies every signed statement of ${id} with stock OpenSSH. Exit 0: all good.\nset -e\ncd "$(dirname "$0")"\n${commands.join('\n')}\necho "all ${commands.length} signatures verified"\n`, { mode: 0o755 });
      writeFileSync(
        path.join(dir, 'README.md'),
        [
          `# Evidence for ${id}`,
          '',
          'Each human action on this change is a canonical JSON statement in `statements/`, signed by the person\'s own SSH key',
          `(SSHSIG, namespace \`${ACTION_NAMESPACE}\`). \`allowed_signers\` lists the keys the worker's policy enrolled (\`policies.json\`, by`,
          'digest; each statement names the digest it was decided under). Check them with stock OpenSSH, without Steward:',
          '',
          '```sh',
          ...commands,
          '```',
          '',
          '(`sh verify.sh` runs the same commands.) `audit-events.json` holds the audit rows with their hash chain; `change.json`,',
          '`deployments/` and `report.md` are the change\'s state, deployment records and post-deployment report.',
          '',
        ].join('\n'),
      );
      emit(opts, { dir, statements: commands.length, rows: rows.length }, () => `wrote ${dir}: ${commands.length} signed statements, ${rows.length} audit rows; check with \`sh ${path.join(dir, 'verify.sh')}\``);
    });
}
