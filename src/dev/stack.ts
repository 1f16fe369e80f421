// `steward dev up | down | status`: the whole local stack, no Docker engine needed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { DEV_HOSTS, devHosts, devLayout, devPorts, ENVIRONMENTS, REPO_ROOT, type DevHost, type DevHostInfo, type DevLayout, type DevPorts } from './paths';
import { AUDIT_DATABASE, AUDIT_OWNER, AUDIT_WRITER, ensureDatabase, ensureRole, HOST_DATABASES, startPostgres } from './postgres';
import { isAlive, portOpen, readPid, run, stopByPidFile } from './processes';
import { ensureSecretFile } from './secrets';
import { startSshHost, userKeyFile } from './sshd';
import { bootstrapHost } from './bootstrap';
import { startTemporal, uiAnswers } from './temporal';
import { currentUser, ensureGit, ensurePostgres, ensureSshd, ensureTemporalCli, postgresRunAs } from './tools';

export type Log = (line: string) => void;

export interface PartStatus {
  part: string;
  pid?: number;
  running: boolean;
  ready: boolean;
  detail: string;
}

/** Installs or builds every tool the stack needs (reused when present). */
export function ensureTools(log: Log): { temporal: string; pgBin: string; sshd: string } {
  ensureGit(log);
  return { temporal: ensureTemporalCli(log), pgBin: ensurePostgres(log), sshd: ensureSshd(log) };
}

export async function up(log: Log, env: NodeJS.ProcessEnv = process.env): Promise<PartStatus[]> {
  const layout = devLayout(env);
  const ports = devPorts(env);
  for (const d of [layout.home, layout.pids, layout.logs]) mkdirSync(d, { recursive: true });
  mkdirSync(layout.secrets, { recursive: true, mode: 0o700 });
  const tools = ensureTools(log);
  await startTemporal(tools.temporal, layout, ports, log);
  await startPostgres(tools.pgBin, postgresRunAs(log), layout, ports, log);
  const auditOwnerUrl = await ensureDatabase(layout, ports, AUDIT_DATABASE, AUDIT_OWNER);
  writeFileSync(path.join(layout.secrets, 'audit-owner-url'), `${auditOwnerUrl}\n`, { mode: 0o600 });
  const writerPw = await ensureRole(layout, ports, AUDIT_WRITER);
  writeFileSync(
    path.join(layout.secrets, 'audit-writer-url'),
    `postgres://${AUDIT_WRITER}:${encodeURIComponent(writerPw)}@127.0.0.1:${ports.postgres}/${AUDIT_DATABASE}\n`,
    { mode: 0o600 },
  );
  const hosts: Record<string, DevHostSecrets> = {};
  for (const info of devHosts(ports)) {
    const name = info.env;
    const ssh = await startSshHost(tools.sshd, layout, info.id, info.sshPort, log);
    const dbUrl = await ensureDatabase(layout, ports, HOST_DATABASES[name], HOST_DATABASES[name]);
    const dbUrlFile = path.join(layout.secrets, `${name}-database-url`);
    writeFileSync(dbUrlFile, `${dbUrl}\n`, { mode: 0o600 });
    const passwordFile = path.join(layout.secrets, `${name}-demo-password`);
    const demoPassword = ensureSecretFile(passwordFile);
    writeHostAppEnv(layout, info, dbUrl, demoPassword);
    hosts[info.id] = { ...ssh, dbUrlFile, passwordFile };
  }
  buildOriginRepo(layout, log);
  // The primaries first: they migrate and seed their environment's database; a second host only gets its venv.
  for (const info of devHosts(ports)) bootstrapHost(layout, info.id, 'python3', log, { seed: info.primary });
  const keys = ensurePeopleKeys(layout);
  keys[CHECKPOINT_KEY_ID] = ensureKey(path.join(layout.secrets, 'audit-checkpoint-key'), 'steward-worker@audit-checkpoints');
  writeFileSync(layout.configFile, renderDevConfig(layout, ports, hosts, keys));
  log(`wrote ${path.relative(process.cwd(), layout.configFile) || layout.configFile}`);
  return status(env);
}

/** What the app on a host reads at start: its own database, secret key and demo password (never passed on a command line). */
function writeHostAppEnv(layout: DevLayout, info: DevHostInfo, dbUrl: string, demoPassword: string): void {
  const name = info.env;
  const host = layout.host(info.id);
  const secretKey = ensureSecretFile(path.join(layout.secrets, `${name}-django-secret-key`), () =>
    require('node:crypto').randomBytes(32).toString('base64url'),
  );
  const appPort = info.appPort;
  const lines = [
    `DATABASE_URL=${dbUrl}`,
    `DJANGO_SECRET_KEY=${secretKey}`,
    'DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost',
    `BANKAPP_LOG_DIR=${path.join(host.sharedDir, 'logs')}`,
    `BANKAPP_BIND=127.0.0.1:${appPort}`,
    `BANKAPP_ENVIRONMENT=${name}`,
  ];
  writeFileSync(path.join(host.sharedDir, 'app.env'), lines.join('\n') + '\n', { mode: 0o600 });
  writeFileSync(path.join(host.sharedDir, 'demo-password'), `${demoPassword}\n`, { mode: 0o600 });
}

function buildOriginRepo(layout: DevLayout, log: Log): void {
  const script = path.join(REPO_ROOT, 'examples', 'banking-app', 'build-release-repo.sh');
  if (existsSync(path.join(layout.originRepo, 'HEAD')) || !existsSync(script)) return;
  log(`building the demo app's release repository at ${layout.originRepo}`);
  mkdirSync(path.dirname(layout.originRepo), { recursive: true });
  run('bash', [script, layout.originRepo]);
}

export const DEMO_PEOPLE = [
  { id: 'alice', name: 'Alice Archer', roles: ['engineer'] },
  { id: 'bob', name: 'Bob Baker', roles: ['engineer', 'reviewer'] },
  { id: 'carol', name: 'Carol Chen', roles: ['approver'] },
  { id: 'dave', name: 'Dave Dube', roles: ['approver'] },
  { id: 'erin', name: 'Erin Evans', roles: ['auditor'] },
  { id: 'frank', name: 'Frank Fox', roles: ['security-reviewer'] },
  { id: 'grace', name: 'Grace Gill', roles: ['dba'] },
  { id: 'heidi', name: 'Heidi Hart', roles: ['compliance'] },
  { id: 'ivan', name: 'Ivan Idowu', roles: ['emergency-approver', 'approver'] },
];

export interface DevHostSecrets {
  hostKeyPin: string;
  userKey: string;
  dbUrlFile: string;
  passwordFile: string;
}

/** Where the local stack keeps its demo people's signing keys: <home>/people/<id>/id_ed25519 (0600). */
export function keyringDir(layout: DevLayout): string {
  return path.join(layout.home, 'people');
}

/**
 * One ed25519 key per demo person, generated once and reused: the demo and the tests sign as these people (a real
 * installation enrols each person's own public key in policy.people[].keys; private keys never leave their owner).
 */
export function ensurePeopleKeys(layout: DevLayout): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of DEMO_PEOPLE) out[p.id] = ensureKey(path.join(keyringDir(layout), p.id, 'id_ed25519'), `${p.id}@steward-demo`);
  return out;
}

const CHECKPOINT_KEY_ID = '__checkpoint';

/** An ed25519 key pair at `key` (made once); returns its public half. */
function ensureKey(key: string, comment: string): string {
  if (!existsSync(key)) {
    mkdirSync(path.dirname(key), { recursive: true, mode: 0o700 });
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', key], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ssh-keygen could not make ${key}: ${r.stderr}`);
  }
  return readFileSync(`${key}.pub`, 'utf8').trim();
}

export function renderDevConfig(
  layout: DevLayout,
  ports: DevPorts,
  hosts: Record<string, DevHostSecrets>,
  keys: Record<string, string> = {},
): string {
  const environments: Record<string, unknown> = {};
  for (const name of ENVIRONMENTS) {
    const fleet = devHosts(ports).filter((d) => d.env === name);
    const first = fleet.find((d) => d.primary)!;
    const h = layout.host(first.id);
    const info = hosts[first.id]!;
    const appPort = first.appPort;
    environments[name] = {
      // The primary first; every other host says where it differs from the app below (all are on this machine).
      hosts: fleet.map((d) => ({
        name: d.name,
        address: '127.0.0.1',
        port: d.sshPort,
        user: currentUser(),
        privateKey: { file: hosts[d.id]!.userKey },
        hostKey: hosts[d.id]!.hostKeyPin,
        roles: d.primary ? ['web', 'primary'] : ['web'],
        ...(d.primary ? {} : { deployRoot: layout.host(d.id).deployRoot, bind: `127.0.0.1:${d.appPort}`, baseUrl: `http://127.0.0.1:${d.appPort}` }),
      })),
      app: {
        repo: layout.originRepo,
        deployRoot: h.deployRoot,
        python: 'python3',
        settingsModule: 'bankapp.settings',
        bind: `127.0.0.1:${appPort}`,
        baseUrl: `http://127.0.0.1:${appPort}`,
        smokeUsers: { tenant: 'smoke', maker: 'smoke-maker', checker: 'smoke-checker', password: { file: info.passwordFile } },
        // The demo's production smoke posts in its dedicated smoke tenant (the invariant check needs a posting).
        smokeWrites: 'smoke-tenant',
        // Declared checks (app.smokeChecks) beside the built-in checklist: what any app's config can say.
        smokeChecks: [
          { name: 'database-answers', kind: 'json', path: '/healthz', field: 'db', equals: 'ok' },
          { name: 'login-form-csrf', kind: 'login', path: '/login/', username: 'smoke-maker', password: { file: info.passwordFile } },
          { name: 'static-from-manifest', kind: 'static', max: 10 },
          { name: 'no-500-on-pages', kind: 'no-server-errors', paths: ['/dashboard/', '/loans/', '/deposits/', '/journal/', '/reports/trial-balance/'] },
        ],
      },
      database: { name: HOST_DATABASES[name], url: { file: info.dbUrlFile }, backupDir: h.backupDir },
      evidenceDir: h.evidenceDir,
    };
  }
  const config = {
    temporal: { address: `127.0.0.1:${ports.temporal}`, namespace: 'default', taskQueue: 'steward', webUiUrl: `http://127.0.0.1:${ports.temporalUi}` },
    audit: {
      databaseUrl: { file: path.join(layout.secrets, 'audit-writer-url') },
      ownerUrl: { file: path.join(layout.secrets, 'audit-owner-url') },
      ...(keys[CHECKPOINT_KEY_ID]
        ? { checkpoints: { key: { file: path.join(layout.secrets, 'audit-checkpoint-key') }, publicKey: keys[CHECKPOINT_KEY_ID], dir: path.join(layout.home, 'audit-checkpoints'), everyMinutes: 15 } }
        : {}),
    },
    policy: { timeZone: 'Europe/London', people: DEMO_PEOPLE.map((p) => ({ ...p, keys: keys[p.id] ? [keys[p.id]] : [] })) },
    environments,
    reportsDir: path.join(layout.home, 'reports'),
  };
  return `# Generated by \`steward dev up\` for the local stack. Secrets are referenced by file, never written here.\n${stringify(config)}`;
}

const PARTS = ['temporal', 'postgres', ...DEV_HOSTS.map((h) => `sshd-${h}` as const)] as const;

export async function status(env: NodeJS.ProcessEnv = process.env): Promise<PartStatus[]> {
  const layout = devLayout(env);
  const ports = devPorts(env);
  const out: PartStatus[] = [];
  for (const part of PARTS) {
    const pid = readPid(path.join(layout.pids, `${part}.pid`));
    const running = isAlive(pid);
    let ready = false;
    let detail = '';
    if (part === 'temporal') {
      const ui = await uiAnswers(ports.temporalUi);
      ready = (await portOpen(ports.temporal)) && ui;
      detail = `gRPC 127.0.0.1:${ports.temporal}, Web UI http://127.0.0.1:${ports.temporalUi} (${ui ? 'HTTP 200' : 'not answering'})`;
    } else if (part === 'postgres') {
      ready = await portOpen(ports.postgres);
      detail = `127.0.0.1:${ports.postgres}, data ${layout.pgData}`;
    } else {
      const name = part.replace('sshd-', '') as DevHost;
      const port = devHosts(ports).find((d) => d.id === name)!.sshPort;
      ready = await portOpen(port);
      detail = `ssh 127.0.0.1:${port}, deploy root ${layout.host(name).deployRoot}`;
    }
    out.push({ part, pid: running ? pid : undefined, running, ready: running && ready, detail });
  }
  return out;
}

/** Stops exactly what `up` started, by pid file; also any Gunicorn the deployments started on the dev hosts. */
export async function down(log: Log, env: NodeJS.ProcessEnv = process.env): Promise<{ part: string; result: string }[]> {
  const layout = devLayout(env);
  const results: { part: string; result: string }[] = [];
  const pidFiles: [string, string][] = [
    ...DEV_HOSTS.map((e) => [`gunicorn-${e}`, path.join(layout.host(e).sharedDir, 'gunicorn.pid')] as [string, string]),
    ...DEV_HOSTS.map((e) => [`sshd-${e}`, path.join(layout.pids, `sshd-${e}.pid`)] as [string, string]),
    ['postgres', path.join(layout.pids, 'postgres.pid')],
    ['temporal', path.join(layout.pids, 'temporal.pid')],
  ];
  for (const [part, file] of pidFiles) {
    const result = await stopByPidFile(file, part);
    if (result === 'stopped') log(`stopped ${part}`);
    results.push({ part, result });
  }
  return results;
}

export { userKeyFile };
