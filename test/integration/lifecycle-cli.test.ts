// The product as users meet it: the real `steward` CLI against a real worker process, Temporal dev server,
// sshd hosts and the demo app. A Low change goes all the way; refusals say why; a malformed signal sent as
// the Web UI would is recorded and changes nothing.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { ensureTemporalCli } from '../../src/dev/tools';
import { devLayout } from '../../src/dev/paths';
import { Tally } from '../helpers/outcomes';
import { publicKey, testKey } from '../helpers/signing';
import { devConfig } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const config = devConfig('cli');
const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-cli-'));
const configFile = path.join(dir, 'steward.config.yaml');
writeFileSync(configFile, stringify(config));
const env = { ...process.env, STEWARD_CONFIG: configFile };
/** Every action out of turn below, for the reliability table: "through" is one that was accepted. */
const outOfTurn = new Tally('input', 'human actions out of turn, through the CLI and the Web UI path');
/** Runs a steward command that must be refused, and counts it. */
function refused(label: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = steward(...args);
  outOfTurn.count(r.code === 0, label);
  return r;
}

function steward(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function status(id: string): { phase: string; rejectedAttempts: unknown[]; signoffs: unknown[]; waitingFor: string; missing: string[]; risk?: string } {
  const r = steward('status', id, '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function waitForPhase(id: string, phase: string, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const s = status(id);
    last = `${s.phase} (${s.waitingFor})`;
    if (s.phase === phase) return;
    if (['rolled-back', 'failed', 'rejected', 'withdrawn'].includes(s.phase) && s.phase !== phase) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`change ${id} is ${last}, expected ${phase}`);
}

describe('the steward CLI end to end (real stack)', () => {
  let worker: ChildProcess;
  const id = `CLI-${process.pid}-${Date.now() % 100000}`;
  before(() => {
    worker = spawn(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), 'worker'], { env, stdio: 'ignore' });
  });
  after(() => {
    worker.kill('SIGTERM');
    outOfTurn.record();
  });

  // The change is for a branch made for this test at r02-cosmetic; it is moved to r03 after staging (below).
  const branch = `cli-test/${process.pid}`;
  const origin = devLayout().originRepo;
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['--git-dir', origin, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  after(() => spawnSync('git', ['--git-dir', origin, 'update-ref', '-d', `refs/heads/${branch}`]));

  it('proposes a Low change and reports its risk and signoffs', () => {
    git('update-ref', `refs/heads/${branch}`, git('rev-parse', 'r02-cosmetic^{commit}'));
    const file = path.join(dir, 'branch-change.yaml');
    writeFileSync(file, readFileSync(path.join(ROOT, 'examples', 'proposals', 'demo-cosmetic.yaml'), 'utf8').replace(/^gitRef: .*$/m, `gitRef: ${branch}`));
    const r = steward('propose', file, '--id', id, '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.changeId, id);
    assert.equal(out.risk, 'low');
    assert.match(out.url, /\/workflows\/change-/);
  });

  it('refuses a bad proposal naming the field', () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'title: ""\ntype: colour\n');
    const r = steward('propose', bad);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /title/);
    assert.match(r.stderr, /type/);
  });

  it('refuses self-approval and the wrong role with the reason, and records a malformed signal without applying it', async () => {
    await waitForPhase(id, 'approval');
    // `steward list --awaiting-me`: the key (here the demo keyring's, chosen by --as) names the person, and the
    // change waits for one of their roles (visibility follows the workflow's upsert within moments).
    type Mine = { awaitingMe: { person: string; names: string[] }; changes: { changeId: string; awaiting: string[] }[] };
    const mine = (who: string): Mine => {
      const r = steward('list', '--awaiting-me', '--as', who, '--limit', '100000', '--json');
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Mine;
    };
    let dave = mine('dave');
    for (let i = 0; i < 20 && !dave.changes.some((c) => c.changeId === id); i++) {
      await new Promise((r) => setTimeout(r, 500));
      dave = mine('dave');
    }
    assert.equal(dave.awaitingMe.person, 'dave');
    assert.ok(dave.awaitingMe.names.includes('approver'));
    assert.ok(dave.changes.some((c) => c.changeId === id && c.awaiting.includes('approver')), 'the change waits for dave, an approver');
    assert.ok(!mine('erin').changes.some((c) => c.changeId === id), 'an auditor is not asked');
    // The makers come back from visibility (they leave a change out of its own proposer's --awaiting-me).
    const listed = JSON.parse(steward('list', '--limit', '100000', '--json').stdout) as { changes: { changeId: string; makers: string[] }[] };
    assert.deepEqual(listed.changes.find((c) => c.changeId === id)?.makers, ['alice'], 'ChangeMakers names the proposer');
    const self = refused('self-approval', 'approve', id, '--as', 'alice');
    assert.notEqual(self.code, 0);
    assert.match(self.stderr, /alice/);
    assert.match(self.stderr, /own|propos|self/i);
    const wrong = refused('approval by a non-approver', 'approve', id, '--as', 'bob');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /role|approver/i);
    const unknown = refused('approval by an unknown person', 'approve', id, '--as', 'mallory');
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /mallory/);
    const before = status(id);
    const temporal = ensureTemporalCli(() => undefined);
    const sig = spawnSync(temporal, ['workflow', 'signal', '--address', config.temporal.address, '--workflow-id', `change-${id}`, '--name', 'approve', '--input', '{"by": 42}'], { encoding: 'utf8' });
    assert.equal(sig.status, 0, sig.stderr);
    await new Promise((r) => setTimeout(r, 1500));
    const after = status(id);
    outOfTurn.count(after.signoffs.length !== before.signoffs.length || after.rejectedAttempts.length !== before.rejectedAttempts.length + 1, 'malformed approve signal');
    assert.equal(after.phase, 'approval');
    assert.deepEqual(after.signoffs, before.signoffs, 'nothing was applied');
    assert.equal(after.rejectedAttempts.length, before.rejectedAttempts.length + 1, 'the attempt is recorded');
  });

  it('refuses approvals not signed by the person: another key, a forged config, a raw Update or Signal, a replay', async () => {
    const before = status(id);
    // mallory holds a key of her own and claims to be carol
    const mallory = testKey('mallory');
    const claim = refused('approval with a key that is not carol\'s', 'approve', id, '--as', 'carol', '--key', mallory);
    assert.notEqual(claim.code, 0);
    assert.match(claim.stderr, /not enrolled/);
    // dave's own key, claiming to be carol
    const daveKey = path.join(process.env.STEWARD_KEYRING ?? path.join(devLayout().home, 'people'), 'dave', 'id_ed25519');
    const asCarol = refused('approval with dave\'s key as carol', 'approve', id, '--as', 'carol', '--key', daveKey);
    assert.notEqual(asCarol.code, 0);
    assert.match(asCarol.stderr, /dave's key/);
    // a forged config file enrols mallory with every role: the CLI signs, the worker's policy refuses her
    const forged = structuredClone(config) as typeof config & { policy: { people: { id: string; name: string; roles: string[]; keys: string[] }[] } };
    forged.policy.people.push({ id: 'mallory', name: 'Mallory', roles: ['approver', 'auditor', 'dba', 'emergency-approver'], keys: [publicKey(mallory)] });
    const forgedFile = path.join(dir, 'forged.yaml');
    writeFileSync(forgedFile, stringify(forged));
    const viaForged = refused('approval by a person added in a forged config', '--config', forgedFile, 'approve', id, '--key', mallory);
    assert.notEqual(viaForged.code, 0);
    assert.match(viaForged.stderr, /belongs to nobody in the worker's policy/);
    // the raw Update and Signal a caller could send with the temporal CLI: unsigned
    const temporal = ensureTemporalCli(() => undefined);
    const upd = spawnSync(temporal, ['workflow', 'update', 'execute', '--address', config.temporal.address, '--workflow-id', `change-${id}`, '--name', 'approve', '--input', '{"by": "carol"}'], { encoding: 'utf8' });
    outOfTurn.count(upd.status === 0, 'raw approve Update {by: carol}');
    assert.notEqual(upd.status, 0, 'the unsigned Update is refused');
    assert.match(`${upd.stdout}${upd.stderr}`, /not signed/);
    const sig = spawnSync(temporal, ['workflow', 'signal', '--address', config.temporal.address, '--workflow-id', `change-${id}`, '--name', 'approve', '--input', '{"by": "carol"}'], { encoding: 'utf8' });
    assert.equal(sig.status, 0, sig.stderr);
    await new Promise((r) => setTimeout(r, 1500));
    const after = status(id) as ReturnType<typeof status> & { rejectedAttemptCount: number };
    outOfTurn.count(after.signoffs.length !== before.signoffs.length, 'raw approve Signal {by: carol}');
    assert.deepEqual(after.signoffs, before.signoffs, 'nothing was applied');
    assert.equal(after.phase, 'approval');
  });

  it('refuses a change started directly with a weakened policy in its input', async () => {
    const temporal = ensureTemporalCli(() => undefined);
    const weakId = `${id}-WEAK`;
    const input = JSON.stringify({ changeId: weakId, proposal: { title: 'x' }, proposedAtMs: Date.now(), policy: { people: [{ id: 'mallory', roles: ['approver'] }], quorum: {} }, protectedTables: [] });
    const r = spawnSync(temporal, ['workflow', 'execute', '--address', config.temporal.address, '--task-queue', config.temporal.taskQueue, '--type', 'changeLifecycle', '--workflow-id', `change-${weakId}`, '--input', input], { encoding: 'utf8', timeout: 60_000 });
    outOfTurn.count(r.status === 0, 'temporal workflow start with a weakened policy');
    assert.notEqual(r.status, 0, 'the workflow fails at once');
    assert.match(`${r.stdout}${r.stderr}`, /worker's own config/);
  });

  it('goes all the way once a real approver approves, deploying the commit that was reviewed even after the branch moved', async () => {
    const pinned = (status(id) as ReturnType<typeof status> & { commit: string }).commit;
    assert.equal(pinned, git('rev-parse', 'r02-cosmetic^{commit}'), 'the change is pinned to the commit of the ref at review');
    // Someone pushes r03 (a migration nobody reviewed) to the branch after staging passed.
    git('update-ref', `refs/heads/${branch}`, git('rev-parse', 'r03-additive-migration^{commit}'));
    const ok = steward('approve', id, '--as', 'carol', '--comment', 'label only');
    assert.equal(ok.code, 0, ok.stderr);
    await waitForPhase(id, 'completed');
    const done = status(id) as ReturnType<typeof status> & { refMoves: { to: string }[]; deployments: { environment: string; commit: string }[] };
    assert.equal(done.refMoves.length, 1, 'the change says the ref moved');
    assert.deepEqual(done.deployments.map((d) => d.commit), [pinned, pinned], 'staging and production got the reviewed commit');
    const served = (await (await fetch(new URL('/healthz', config.environments.production!.app.baseUrl))).json()) as { release: string };
    outOfTurn.count(served.release !== 'r02-cosmetic', 'a commit pushed to the branch after approval reaching production');
    assert.equal(served.release, 'r02-cosmetic', 'production serves the reviewed code, not the moved branch');
    const late = refused('approval of a completed change', 'approve', id, '--as', 'dave');
    assert.notEqual(late.code, 0, 'a finished change takes no more decisions');
    const list = steward('list', '--json');
    assert.equal(list.code, 0, list.stderr);
    assert.ok(list.stdout.includes(id));
    const verify = steward('audit', 'verify', '--json');
    assert.equal(verify.code, 0, verify.stderr);
    const v = JSON.parse(verify.stdout) as { signatures: { checked: number; problems: unknown[] } };
    assert.ok(v.signatures.checked >= 2, 'the proposal and the approval signatures are re-verified');
    // The evidence folder verifies with stock OpenSSH, without Steward; a changed statement does not.
    const out = path.join(dir, 'evidence');
    const exp = steward('audit', 'export', id, out, '--json');
    assert.equal(exp.code, 0, exp.stderr);
    assert.ok(JSON.parse(exp.stdout).statements >= 2);
    const good = spawnSync('sh', [path.join(out, 'verify.sh')], { encoding: 'utf8' });
    assert.equal(good.status, 0, `${good.stdout}${good.stderr}`);
    assert.match(`${good.stdout}${good.stderr}`, /Good "steward-action@steward.bank" signature for carol/);
    const approval = readdirSync(path.join(out, 'statements')).find((f) => /-approve-carol\.json$/.test(f))!;
    writeFileSync(path.join(out, 'statements', approval), readFileSync(path.join(out, 'statements', approval), 'utf8').replace('"label only"', '"approved everything"'));
    const bad = spawnSync('sh', [path.join(out, 'verify.sh')], { encoding: 'utf8' });
    outOfTurn.count(bad.status === 0, 'an exported approval edited after export');
    assert.notEqual(bad.status, 0, 'ssh-keygen refuses the edited statement');
  });

  it('a Critical financial change cannot pass review without the auditor, nor be approved during review', async () => {
    const critical = `${id}-FIN`;
    const p = steward('propose', path.join(ROOT, 'examples', 'proposals', 'critical-financial.yaml'), '--id', critical, '--json');
    assert.equal(p.code, 0, p.stderr);
    assert.equal(JSON.parse(p.stdout).risk, 'critical');
    await waitForPhase(critical, 'review');
    const early = refused('approval during review', 'approve', critical, '--as', 'carol');
    assert.notEqual(early.code, 0, 'no approval before the reviews are done');
    const checks = 'tenant-safe,permission-safe,audit-logging-intact,no-silent-balance-change,tests-written-or-proposed';
    const partial = refused('review with an incomplete checklist', 'review', critical, '--as', 'bob', '--mode', 'standard', '--check', 'tenant-safe');
    assert.notEqual(partial.code, 0, 'an incomplete checklist is refused');
    assert.match(partial.stderr, /permission-safe|checklist/);
    const selfReview = refused('review by the proposer', 'review', critical, '--as', 'alice', '--mode', 'standard', '--check', checks);
    assert.notEqual(selfReview.code, 0, 'the proposer cannot review their own change');
    const notAuditor = refused('auditor-mode review by a non-auditor', 'review', critical, '--as', 'bob', '--mode', 'auditor', '--check', checks);
    assert.notEqual(notAuditor.code, 0, 'auditor mode needs an auditor');
    const standard = refused('standard review in place of the auditor', 'review', critical, '--as', 'bob', '--mode', 'standard', '--check', checks);
    assert.notEqual(standard.code, 0, 'a standard review does not stand in for the auditor-mode review');
    assert.match(standard.stderr, /auditor/);
    const s = status(critical);
    assert.equal(s.phase, 'review', 'still in review: the auditor-mode review is missing');
    assert.ok(s.missing.some((m) => /auditor/.test(m)), JSON.stringify(s.missing));
    const w = steward('withdraw', critical, '--as', 'alice', '--reason', 'test over');
    assert.equal(w.code, 0, w.stderr);
    await waitForPhase(critical, 'withdrawn');
    const afterWithdraw = refused('review of a withdrawn change', 'review', critical, '--as', 'erin', '--mode', 'auditor', '--check', checks);
    assert.notEqual(afterWithdraw.code, 0, 'a withdrawn change takes no more decisions');
    // Change ids are unique for ever: the closed change's id cannot be proposed again.
    const again = steward('propose', path.join(ROOT, 'examples', 'proposals', 'critical-financial.yaml'), '--id', critical, '--json');
    assert.notEqual(again.code, 0, 'a closed change id was proposed again');
    assert.match(again.stderr, /already exists \(open or closed: a change id is never reused\)/);
    assert.deepEqual(outOfTurn.through, [], 'actions out of turn were accepted');
  });
});
