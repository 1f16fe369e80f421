// Signing human actions (DESIGN "Trust model"): the CLI builds the canonical statement and signs it with the
// person's own key through `ssh-keygen -Y sign` (a key file, or a .pub file whose private half is in ssh-agent or
// on a hardware key). Steward never reads a private key: ssh-keygen does the signing.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { PolicyConfig } from '../domain/policy';
import { ACTION_NAMESPACE, normalisePublicKey, SshSigError } from '../domain/sshsig';
import { ownerOfKey, statementText, type SignedAction, type SignedActionName, type Statement } from '../domain/statement';
import { CliError } from './temporal';
import { stewardHome } from '../dev/paths';

export interface SigningOptions {
  /** --key FILE */
  key?: string;
  /** --as USER: a hint that must match the key's owner. */
  as?: string;
}

/** Adds --key and --as to a human verb. */
export function signingOptions(cmd: Command, asHelp = 'who you are (optional: the key says it; must match)'): Command {
  return cmd
    .option('--key <file>', 'your SSH key to sign with (a private key file, or a .pub whose key is in ssh-agent); default $STEWARD_SIGNING_KEY or ~/.ssh/id_ed25519')
    .option('--as <user>', asHelp);
}

/** The key file to sign with: --key, $STEWARD_SIGNING_KEY, the demo keyring for --as, then the usual ~/.ssh keys. */
export function signingKeyFile(opts: SigningOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (opts.key) return path.resolve(opts.key);
  if (env.STEWARD_SIGNING_KEY) return path.resolve(env.STEWARD_SIGNING_KEY);
  // The local stack's demo people each have a key under <STEWARD_HOME>/people/<id>/ (made by `steward dev up`), or
  // $STEWARD_KEYRING/<id>/. Holding the key file is what makes you that person; a real installation has no keyring.
  if (opts.as && /^[a-z][a-z0-9._-]{1,63}$/.test(opts.as)) {
    const k = path.join(env.STEWARD_KEYRING ?? path.join(stewardHome(env), 'people'), opts.as, 'id_ed25519');
    if (existsSync(k)) return k;
  }
  const home = os.homedir();
  for (const name of ['id_ed25519', 'id_ecdsa', 'id_ed25519_sk', 'id_ecdsa_sk']) {
    const k = path.join(home, '.ssh', name);
    if (existsSync(k) || existsSync(`${k}.pub`)) return k;
  }
  throw new CliError(`no signing key${opts.as ? ` for --as ${opts.as}` : ''}: pass --key FILE (or set STEWARD_SIGNING_KEY); every human action is signed with your own SSH key`, 2);
}

/** The public key of a key file ("<type> <base64>"). */
export function publicKeyOf(keyFile: string): string {
  const pub = keyFile.endsWith('.pub') ? keyFile : `${keyFile}.pub`;
  let text: string;
  if (existsSync(pub)) text = readFileSync(pub, 'utf8');
  else {
    const r = spawnSync('ssh-keygen', ['-y', '-f', keyFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new CliError(`cannot read the public key of ${keyFile}: ${r.stderr.trim() || 'ssh-keygen -y failed'}`, 2);
    text = r.stdout;
  }
  try {
    return normalisePublicKey(text);
  } catch (err) {
    throw new CliError(`${pub}: ${err instanceof SshSigError ? err.message : (err as Error).message}`, 2);
  }
}

/** Who the key says you are, in the given policy; refuses an --as that does not match. */
export function signerOf(keyFile: string, policy: Pick<PolicyConfig, 'people'>, as?: string): string {
  const key = publicKeyOf(keyFile);
  const owner = ownerOfKey(policy, key);
  if (!owner) throw new CliError(`the key ${keyFile} is not enrolled for anyone in the policy (policy.people[].keys)${as ? `, so it cannot sign as ${as}` : ''}; ask the worker's operator to enrol ${key.split(' ')[0]} ${key.split(' ')[1]!.slice(0, 16)}…`, 2);
  if (as && as !== owner) throw new CliError(`--as ${as} does not match the key: ${keyFile} is ${owner}'s key`, 2);
  return owner;
}

/** Signs `text` with ssh-keygen in Steward's namespace; returns the armored signature. */
export function sshSign(keyFile: string, text: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-sign-'));
  try {
    const file = path.join(dir, 'statement.json');
    writeFileSync(file, text, { mode: 0o600 });
    const r = spawnSync('ssh-keygen', ['-q', '-Y', 'sign', '-f', keyFile, '-n', ACTION_NAMESPACE, file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0 || !existsSync(`${file}.sig`)) {
      throw new CliError(`ssh-keygen could not sign with ${keyFile}: ${(r.stderr || '').trim() || `exit ${r.status}`} (a passphrase-protected key needs ssh-agent: ssh-add, then --key FILE.pub)`, 2);
    }
    return readFileSync(`${file}.sig`, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface StatementSubject {
  action: SignedActionName;
  subject: string;
  workflowId: string;
  decision: Record<string, unknown>;
  commit: string | null;
  proposalDigest: string | null;
  policyDigest: string;
}

/** Builds, signs and returns the payload of a human action. */
export function signAction(keyFile: string, signer: string, s: StatementSubject, nowMs = Date.now()): SignedAction {
  const statement: Statement = {
    v: 1,
    action: s.action,
    subject: s.subject,
    workflowId: s.workflowId,
    signer,
    decision: JSON.parse(JSON.stringify(s.decision)) as Record<string, unknown>,
    commit: s.commit,
    proposalDigest: s.proposalDigest,
    policyDigest: s.policyDigest,
    issuedAt: new Date(nowMs).toISOString(),
    nonce: randomBytes(16).toString('hex'),
  };
  const text = statementText(statement);
  return { statement: text, signature: sshSign(keyFile, text) };
}

/**
 * What a person signs to order a deployment outside a change (DeploymentInput.directOrder): this deployment's
 * workflow, the environment and the gitRef, under the worker's policy. The deployment checks the signer's role
 * (policy.decisionRoles.orderDeployment), freshness and single use.
 */
export function directOrderSubject(o: { changeId: string; workflowId: string; environment: string; gitRef: string; policyDigest: string }): StatementSubject {
  return {
    action: 'orderDeployment',
    subject: o.changeId,
    workflowId: o.workflowId,
    decision: { environment: o.environment, gitRef: o.gitRef },
    commit: null,
    proposalDigest: null,
    policyDigest: o.policyDigest,
  };
}
