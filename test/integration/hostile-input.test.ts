// Hostile values against the real CLI and a real sshd: nothing but the intended command runs on the host.
// Each hostile string would create a canary file if any shell ever interpreted it; the canary must not exist.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { DeploymentRecord } from '../../src/workflows/deployment';
import { deploy, deployInput } from '../helpers/deploy';
import { Tally } from '../helpers/outcomes';
import { devConfig, withWorkerAndClient } from '../helpers/stack';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { changeWorkflowId, type ChangeLifecycleInput, type ChangeState } from '../../src/workflows/lifecycle-api';
import { parseProposal, proposalDigest } from '../../src/domain/proposal';
import { signAs } from '../helpers/signing';

const ROOT = path.resolve(__dirname, '..', '..');
const canaryDir = mkdtempSync(path.join(os.tmpdir(), 'steward-canary-'));
const canary = path.join(canaryDir, 'pwned');

const HOSTILE = [
  `$(touch ${canary})`,
  `\`touch ${canary}\``,
  `x; touch ${canary}`,
  `x && touch ${canary}`,
  `x | touch ${canary}`,
  `x\ntouch ${canary}`,
  `'; touch ${canary}; '`,
  `"; touch ${canary}; "`,
  `--upload-pack=touch ${canary}`,
  `-c core.sshCommand=touch ${canary}`,
  `-oProxyCommand=touch ${canary}`,
  '--',
  `${'a'.repeat(300)}$(touch ${canary})`,
];
/** Values a command line cannot carry (NUL) or that are very long: only in files (proposal, config). */
const FILE_ONLY = [`x\u0000$(touch ${canary})`, `${'b'.repeat(100_000)}$(touch ${canary})`];

const config = devConfig('hostile');
const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-hostile-'));
const configFile = path.join(dir, 'steward.config.yaml');
writeFileSync(configFile, stringify(config));

function steward(...args: (string | Record<string, string>)[]) {
  const extraEnv = args.find((a): a is Record<string, string> => typeof a === 'object') ?? {};
  const argv = args.filter((a): a is string => typeof a === 'string');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), ...argv], { env: { ...process.env, STEWARD_CONFIG: configFile, ...extraEnv }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const VALID = {
  title: 'Hostile input probe',
  type: 'cosmetic',
  affectedModules: ['ui'],
  description: 'probe',
  reason: 'probe',
  financialImpact: false,
  complianceImpact: false,
  dataMigrationRequired: false,
  rollbackComplexity: 'low',
  proposer: 'alice',
  gitRef: 'r02-cosmetic',
  tests: 'written',
};

describe('hostile input (real CLI, real sshd)', () => {
  it('the CLI refuses hostile refs, modules, people, ids and config paths, naming the field', () => {
    const tally = new Tally('input', 'hostile values through the real CLI');
    let n = 0;
    for (const h of [...HOSTILE, ...FILE_ONLY]) {
      for (const [field, value] of [['gitRef', h], ['affectedModules', [h]], ['proposer', h]] as const) {
        const file = path.join(dir, `p${n++}.yaml`);
        writeFileSync(file, stringify({ ...VALID, [field]: value }));
        const r = steward('propose', file, '--json');
        tally.count(r.code === 0 || !r.stderr.includes(field), `propose ${field}=${JSON.stringify(h).slice(0, 60)}`);
      }
      // Paths and people in the config: refused before any command is built from them.
      for (const [where, field] of [['app', 'deployRoot'], ['database', 'backupDir'], ['hosts', 'user']] as const) {
        if (where !== 'hosts' && /^[A-Za-z0-9._/-]+$/.test(h)) continue; // "/srv/--" is a harmless path
        const bad = structuredClone(config);
        const env = bad.environments.staging!;
        if (where === 'hosts') env.hosts[0]!.user = h;
        else if (where === 'app') env.app.deployRoot = `/srv/${h}`;
        else env.database.backupDir = `/srv/${h}`;
        const file = path.join(dir, `c${n++}.yaml`);
        writeFileSync(file, stringify(bad));
        const r = steward('list', '--json', { STEWARD_CONFIG: file });
        tally.count(r.code === 0 || !r.stderr.includes(`environments.staging.`) || !r.stderr.includes(field), `config ${field}=${JSON.stringify(h).slice(0, 60)}`);
      }
      if (FILE_ONLY.includes(h)) continue;
      tally.count(steward('approve', `CHG-${h}`, '--as', 'carol').code === 0, `approve id=${JSON.stringify(h)}`);
      tally.count(steward('approve', 'CHG-1', '--as', h).code === 0, `approve --as ${JSON.stringify(h)}`);
      tally.count(steward('status', h).code === 0, `status id=${JSON.stringify(h)}`);
    }
    const ran = existsSync(canary);
    if (ran) tally.through.push('the canary file was created');
    tally.record();
    assert.ok(tally.tried >= 90, `only ${tally.tried} cases`);
    assert.deepEqual(tally.through, [], 'hostile values got through');
    assert.equal(ran, false, 'a hostile string was run by a shell');
  });

  it('a hostile ref that bypasses the CLI reaches git only as data, and the deployment stops cleanly', async () => {
    const tally = new Tally('input', 'hostile git refs past the CLI, to git on sshd');
    await withWorkerAndClient(config, async (client) => {
      for (const h of [...HOSTILE.slice(0, 6), HOSTILE[8]!, HOSTILE[9]!]) {
        const r: DeploymentRecord = await deploy(client, config, deployInput({ gitRef: h, environment: 'staging' }));
        const stopped = (r.status === 'refused' || r.status === 'rolled-back') && /not a safe git ref|does not name a commit/i.test(r.reason ?? '');
        const switched = r.steps.some((s) => s.name === 'switch current');
        tally.count(!stopped || switched || existsSync(canary), `ref ${JSON.stringify(h)}: ${r.status} ${r.reason ?? ''}`);
      }
    });
    tally.record();
    rmSync(canaryDir, { recursive: true, force: true });
    assert.equal(tally.tried, 8);
    assert.deepEqual(tally.through, [], 'a hostile ref got through');
  });

  it('forged, mutated, replayed and misdirected signed approvals never count (Update and Signal, real worker)', async () => {
    const tally = new Tally('input', 'forged or mutated signed actions (approve, Update and Signal)');
    await withWorkerAndClient(config, async (client) => {
      const proposal = parseProposal(VALID);
      const changeId = `HOSTILE-SIG-${process.pid}-${Date.now() % 100000}`;
      const workflowId = changeWorkflowId(changeId);
      const input: ChangeLifecycleInput = { changeId, proposal, proposedAtMs: Date.now(), signedProposal: signAs('alice', 'propose', { subject: changeId, workflowId, proposalDigest: proposalDigest(proposal) }) };
      const h = await client.workflow.start('changeLifecycle', { taskQueue: config.temporal.taskQueue, workflowId, args: [input] });
      let s = (await h.query('status')) as ChangeState;
      for (let i = 0; i < 600 && s.phase !== 'approval'; i++) {
        await new Promise((r) => setTimeout(r, 250));
        s = (await h.query('status')) as ChangeState;
      }
      assert.equal(s.phase, 'approval', s.waitingFor);
      const about = { subject: changeId, workflowId, commit: s.commit, proposalDigest: s.proposalDigest, policyDigest: s.policyDigest };
      const good = signAs('carol', 'approve', about, { comment: 'ok' });
      const statement = JSON.parse(good.statement) as Record<string, unknown>;
      const resign = (over: Record<string, unknown>) => ({ statement: JSON.stringify(Object.fromEntries(Object.entries({ ...statement, ...over }).sort(([a], [b]) => (a < b ? -1 : 1)))), signature: good.signature });
      const sigLines = good.signature.split('\n');
      const forgeries: [string, unknown][] = [
        ['no payload', undefined],
        ['{by: carol}', { by: 'carol' }],
        ['statement only', { statement: good.statement }],
        ['signature only', { signature: good.signature }],
        ['empty signature', { statement: good.statement, signature: '' }],
        ['garbage signature', { statement: good.statement, signature: '-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----' }],
        ['truncated signature', { statement: good.statement, signature: [...sigLines.slice(0, 2), sigLines[sigLines.length - 2]].join('\n') }],
        ['mallory signs as carol', signAs('carol', 'approve', about, {}, { keyOf: 'mallory' })],
        ["dave's key, signer carol", signAs('dave', 'approve', about, {}, { signer: 'carol' })],
        ['for another change', signAs('carol', 'approve', { ...about, subject: 'CHG-1', workflowId: 'change-CHG-1' })],
        ['for another commit', signAs('carol', 'approve', { ...about, commit: '0'.repeat(40) })],
        ['for another proposal', signAs('carol', 'approve', { ...about, proposalDigest: '1'.repeat(64) })],
        ['stale', signAs('carol', 'approve', about, {}, { issuedAtMs: Date.now() - 2 * 3_600_000 })],
        ['as a reject', signAs('carol', 'reject', about, { reason: 'x' })],
        ['non-canonical text', { ...good, statement: ` ${good.statement}` }],
        ['huge statement', { ...good, statement: 'x'.repeat(100_000) }],
        ['not an object', 'approve'],
        ['array', [good]],
      ];
      for (const field of ['action', 'subject', 'workflowId', 'signer', 'decision', 'commit', 'proposalDigest', 'policyDigest', 'issuedAt', 'nonce', 'v']) {
        for (const value of ['', 'x', 0, null, { role: 'auditor' }, 'a'.repeat(64)]) forgeries.push([`${field} = ${JSON.stringify(value)}`, resign({ [field]: value })]);
      }
      forgeries.push(['an extra field', resign({ by: 'carol' })]);
      for (const [label, payload] of forgeries) {
        let accepted = false;
        try {
          await h.executeUpdate('approve', { args: [payload as never] });
          accepted = true;
        } catch (err) {
          if (!(err instanceof WorkflowUpdateFailedError)) throw err;
        }
        await h.signal('approve', payload as never);
        tally.count(accepted, `Update: ${label}`);
      }
      // The real one counts once; the same statement again is a replay.
      await h.executeUpdate('approve', { args: [good] });
      const after = (await h.result()) as ChangeState;
      tally.count(after.signoffs.length !== 1, 'one signed approval counted once');
      assert.deepEqual(after.signoffs.map((x) => x.by), ['carol']);
      assert.ok(after.rejectedAttemptCount >= forgeries.length, `every forged Signal is recorded (${after.rejectedAttemptCount})`);
      assert.ok(after.rejectedAttempts.length <= 20, 'only the last few are kept in the state');
    });
    tally.record();
    assert.ok(tally.tried > 80, `only ${tally.tried} cases`);
    assert.deepEqual(tally.through, [], 'a forged approval counted');
  });
});
