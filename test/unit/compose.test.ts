// docker-compose.yml, Dockerfile and deploy/compose/steward.config.yaml, checked without a Docker engine:
//   1. the compose file against the Compose Specification's JSON schema (from the Go module proxy, see the helper);
//   2. the real Compose CLI's `config --quiet` (when scripts/build-compose.sh has built it), with and without the
//      required variables;
//   3. consistency between the compose services and the Steward config, and no literal secrets.
// Every checker returns a list of problems; the negative tests feed it broken copies to prove it can fail.
//
// Run: node --import tsx --test test/unit/compose.test.ts
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import YAML from 'yaml';
import { loadComposeSchema, COMPOSE_GO_MODULE, COMPOSE_GO_VERSION } from '../helpers/compose-schema';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
import { SEARCH_ATTRIBUTES } from '../../src/dev/temporal';
const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');
const CONFIG_FILE = path.join(REPO_ROOT, 'deploy', 'compose', 'steward.config.yaml');
const DOCKERFILE = path.join(REPO_ROOT, 'Dockerfile');

type Obj = Record<string, unknown>;

// The compose stack registers exactly the attributes the dev stack does (DESIGN.md).
const EXPECTED_SEARCH_ATTRIBUTES: Record<string, string> = SEARCH_ATTRIBUTES;

// ---------------------------------------------------------------------------------------------------------------
// Small helpers over the parsed (not interpolated) compose document.

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function services(doc: Obj): Record<string, Obj> {
  const s = doc.services;
  return isObj(s) ? (s as Record<string, Obj>) : {};
}

/** `environment:` in either map or list form, as a map of strings. */
function envOf(svc: Obj | undefined): Record<string, string> {
  const env = svc?.environment;
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const item of env) {
      const s = String(item);
      const i = s.indexOf('=');
      if (i < 0) out[s] = '';
      else out[s.slice(0, i)] = s.slice(i + 1);
    }
  } else if (isObj(env)) {
    for (const [k, v] of Object.entries(env)) out[k] = v === null || v === undefined ? '' : String(v);
  }
  return out;
}

interface PortMapping {
  hostPort?: number;
  containerPort: number;
}

/** `ports:` in short ("[ip:]host:container[/proto]") or long ({published, target}) form. */
function portsOf(svc: Obj | undefined): PortMapping[] {
  const ports = svc?.ports;
  if (!Array.isArray(ports)) return [];
  return ports.map((p): PortMapping => {
    if (isObj(p)) {
      const published = p.published === undefined ? undefined : Number(p.published);
      return { hostPort: published, containerPort: Number(p.target) };
    }
    const parts = (String(p).split('/')[0] ?? '').split(':');
    const containerPort = Number(parts[parts.length - 1]);
    const hostPort = parts.length >= 2 ? Number(parts[parts.length - 2]) : undefined;
    return { hostPort, containerPort };
  });
}

interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

function mountsOf(svc: Obj | undefined): Mount[] {
  const vols = svc?.volumes;
  if (!Array.isArray(vols)) return [];
  return vols.map((v): Mount => {
    if (isObj(v)) return { source: String(v.source ?? ''), target: String(v.target ?? ''), readOnly: v.read_only === true };
    // Short form: source:target[:mode]. A ${VAR:?msg} source may itself hold colons, so split from the right.
    const s = String(v);
    const m = /^(.*):([^:]+?)(?::(ro|rw|[a-z,]+))?$/.exec(s);
    if (!m) return { source: '', target: s, readOnly: false };
    const mode = m[3] ?? '';
    return { source: m[1] ?? '', target: m[2] ?? '', readOnly: mode.split(',').includes('ro') };
  });
}

function dependsOn(svc: Obj | undefined): Record<string, string> {
  const d = svc?.depends_on;
  const out: Record<string, string> = {};
  if (Array.isArray(d)) for (const name of d) out[String(name)] = 'service_started';
  else if (isObj(d)) for (const [k, v] of Object.entries(d)) out[k] = isObj(v) ? String(v.condition ?? 'service_started') : 'service_started';
  return out;
}

function imageRepo(svc: Obj | undefined): string {
  const image = typeof svc?.image === 'string' ? svc.image : '';
  return (image.split('@')[0] ?? '').replace(/:[^/:]+$/, '');
}

/** The Steward worker: the service built from this repo's Dockerfile. */
function findWorker(doc: Obj): [string, Obj] | undefined {
  return Object.entries(services(doc)).find(([, s]) => s.build !== undefined);
}

function findByImage(doc: Obj, repos: string[]): [string, Obj] | undefined {
  return Object.entries(services(doc)).find(([, s]) => repos.includes(imageRepo(s)));
}

/** Every {env: NAME} and {file: PATH} secret reference in the config, with where it was found. */
function secretRefs(config: unknown, at = ''): { env: { name: string; at: string }[]; file: { path: string; at: string }[] } {
  const out = { env: [] as { name: string; at: string }[], file: [] as { path: string; at: string }[] };
  const walk = (v: unknown, p: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${p}[${i}]`));
    else if (isObj(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === 'env' && typeof v.env === 'string') out.env.push({ name: v.env, at: p });
      else if (keys.length === 1 && keys[0] === 'file' && typeof v.file === 'string') out.file.push({ path: v.file, at: p });
      else for (const [k, x] of Object.entries(v)) walk(x, p ? `${p}.${k}` : k);
    }
  };
  walk(config, at);
  return out;
}

function hostPort(address: string): { host: string; port: number } | undefined {
  const m = /^([A-Za-z0-9._-]+):(\d+)$/.exec(address);
  return m?.[1] && m[2] ? { host: m[1], port: Number(m[2]) } : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Checkers. Each returns the problems it found; [] means the documents pass.

let ajvValidate: ReturnType<Ajv2020['compile']> | undefined;

export function schemaProblems(doc: unknown): string[] {
  if (!ajvValidate) {
    const schema = loadComposeSchema();
    assert.equal(
      schema.$schema,
      'https://json-schema.org/draft/2020-12/schema',
      `${COMPOSE_GO_MODULE}@${COMPOSE_GO_VERSION} declares ${String(schema.$schema)}; use the matching ajv class`,
    );
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajvValidate = ajv.compile(schema);
  }
  if (ajvValidate(doc)) return [];
  return (ajvValidate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** The worker, the Temporal server, the Web UI and the setup job agree with the Steward config. */
export function consistencyProblems(doc: Obj, config: Obj): string[] {
  const problems: string[] = [];
  const svcs = services(doc);
  const temporalCfg = isObj(config.temporal) ? config.temporal : {};
  const cfgAddress = String(temporalCfg.address ?? '');
  const cfgNamespace = String(temporalCfg.namespace ?? '');

  const worker = findWorker(doc);
  if (!worker) return ['no service is built from the Dockerfile (the Steward worker)'];
  const [workerName, workerSvc] = worker;
  const wenv = envOf(workerSvc);

  // Temporal address: worker env == config == <temporal service>:<port it listens on>.
  const temporal = findByImage(doc, ['temporalio/auto-setup', 'temporalio/server']);
  const addr = hostPort(cfgAddress);
  if (!addr) problems.push(`config temporal.address ${JSON.stringify(cfgAddress)} is not host:port`);
  if (wenv.TEMPORAL_ADDRESS !== cfgAddress) {
    problems.push(`${workerName}: TEMPORAL_ADDRESS=${JSON.stringify(wenv.TEMPORAL_ADDRESS)} but config temporal.address is ${JSON.stringify(cfgAddress)}`);
  }
  if (wenv.TEMPORAL_NAMESPACE !== undefined && wenv.TEMPORAL_NAMESPACE !== cfgNamespace) {
    problems.push(`${workerName}: TEMPORAL_NAMESPACE=${wenv.TEMPORAL_NAMESPACE} but config temporal.namespace is ${cfgNamespace}`);
  }
  if (temporalCfg.taskQueue !== 'steward') problems.push(`config temporal.taskQueue must be "steward" (got ${String(temporalCfg.taskQueue)})`);
  if (!temporal) {
    problems.push('no Temporal server service (temporalio/auto-setup or temporalio/server)');
  } else if (addr) {
    const [tName, tSvc] = temporal;
    if (addr.host !== tName) problems.push(`config temporal.address host ${addr.host} is not the Temporal service name ${tName}`);
    const listens = Number(envOf(tSvc).FRONTEND_GRPC_PORT ?? 7233);
    if (addr.port !== listens) problems.push(`config temporal.address port ${addr.port} but the Temporal frontend listens on ${listens}`);
    // Every other service that talks to Temporal uses the same address.
    for (const [name, svc] of Object.entries(svcs)) {
      const a = envOf(svc).TEMPORAL_ADDRESS;
      if (a !== undefined && a !== cfgAddress) problems.push(`${name}: TEMPORAL_ADDRESS=${a} differs from config temporal.address ${cfgAddress}`);
    }
    const dep = dependsOn(workerSvc)[tName];
    if (dep !== 'service_healthy') problems.push(`${workerName} must depend on ${tName} with condition service_healthy (got ${String(dep)})`);
  }

  // Web UI: host port == webUiUrl's port, container port 8080, and it points at the server.
  const ui = findByImage(doc, ['temporalio/ui']);
  let uiUrl: URL | undefined;
  try {
    uiUrl = new URL(String(temporalCfg.webUiUrl ?? ''));
  } catch {
    problems.push(`config temporal.webUiUrl ${JSON.stringify(temporalCfg.webUiUrl)} is not a URL`);
  }
  if (!ui) problems.push('no Temporal Web UI service (temporalio/ui)');
  else if (uiUrl) {
    const [uiName, uiSvc] = ui;
    const want = Number(uiUrl.port || (uiUrl.protocol === 'https:' ? 443 : 80));
    const published = portsOf(uiSvc).filter((p) => p.containerPort === 8080);
    if (!published.some((p) => p.hostPort === want)) {
      problems.push(`${uiName}: no host port ${want} -> 8080 (config temporal.webUiUrl is ${uiUrl.href}; ports ${JSON.stringify(uiSvc.ports)})`);
    }
    if (envOf(uiSvc).TEMPORAL_ADDRESS === undefined) problems.push(`${uiName}: TEMPORAL_ADDRESS is not set`);
  }

  // Secret references: every {env: NAME} is provided to the worker; every {file: PATH} lies in a read-only mount
  // whose host side is given by a variable (keys are never baked in nor committed).
  const refs = secretRefs(config);
  for (const { name, at } of refs.env) {
    if ((wenv[name] ?? '').trim() === '') problems.push(`${workerName}: environment lacks ${name} (referenced by config ${at})`);
  }
  const mounts = mountsOf(workerSvc);
  for (const { path: p, at } of refs.file) {
    const m = mounts.find((mt) => p === mt.target || p.startsWith(mt.target.replace(/\/?$/, '/')));
    if (!m) problems.push(`${workerName}: no volume mounts ${p} (referenced by config ${at})`);
    else {
      if (!m.readOnly) problems.push(`${workerName}: the mount holding ${p} (${m.target}) must be read-only`);
      if (!/^\$\{[A-Z0-9_]+:\?/.test(m.source)) problems.push(`${workerName}: the host dir for ${m.target} must come from a required variable (\${NAME:?...}), got ${m.source}`);
    }
  }

  // The config file itself: mounted read-only where STEWARD_CONFIG says.
  const cfgTarget = wenv.STEWARD_CONFIG;
  if (cfgTarget !== '/etc/steward/steward.config.yaml') problems.push(`${workerName}: STEWARD_CONFIG=${String(cfgTarget)}, expected /etc/steward/steward.config.yaml`);
  const cfgMount = mounts.find((m) => m.target === cfgTarget);
  if (!cfgMount) problems.push(`${workerName}: nothing is mounted at STEWARD_CONFIG (${String(cfgTarget)})`);
  else {
    if (!cfgMount.readOnly) problems.push(`${workerName}: the config mount must be read-only`);
    if (!cfgMount.source.includes('deploy/compose/steward.config.yaml')) problems.push(`${workerName}: the config mount's source is ${cfgMount.source}, not deploy/compose/steward.config.yaml`);
  }

  return problems;
}

/** The one-shot job registers exactly Steward's seven search attributes, and the worker waits for it. */
export function searchAttributeProblems(doc: Obj): string[] {
  const problems: string[] = [];
  const jobs = Object.entries(services(doc)).filter(([, s]) => {
    const text = JSON.stringify([s.command ?? '', s.entrypoint ?? '']);
    return text.includes('search-attribute create');
  });
  if (jobs.length !== 1) return [`expected exactly one service running 'temporal operator search-attribute create', found ${jobs.length}`];
  const [jobName, job] = jobs[0]!;
  const script = (Array.isArray(job.command) ? job.command : [job.command]).map(String).join('\n');
  if (!/temporal operator search-attribute create\b[^\n]*--name "\$\$1"[^\n]*--type "\$\$2"/.test(script)) {
    problems.push(`${jobName}: the register function does not call 'temporal operator search-attribute create --name "$$1" --type "$$2"'`);
  }
  const registered: Record<string, string> = {};
  for (const m of script.matchAll(/^\s*register\s+(\S+)\s+(\S+)\s*$/gm)) {
    const [, attr = '', type = ''] = m;
    if (attr in registered) problems.push(`${jobName}: ${attr} registered twice`);
    registered[attr] = type;
  }
  try {
    assert.deepStrictEqual(registered, EXPECTED_SEARCH_ATTRIBUTES);
  } catch {
    problems.push(`${jobName}: registers ${JSON.stringify(registered)}, expected ${JSON.stringify(EXPECTED_SEARCH_ATTRIBUTES)}`);
  }
  if (job.restart !== undefined && job.restart !== 'no') problems.push(`${jobName}: a one-shot job must not restart (restart: ${String(job.restart)})`);
  const worker = findWorker(doc);
  if (worker && dependsOn(worker[1])[jobName] !== 'service_completed_successfully') {
    problems.push(`${worker[0]} must depend on ${jobName} with condition service_completed_successfully`);
  }
  const temporal = findByImage(doc, ['temporalio/auto-setup', 'temporalio/server']);
  if (temporal && dependsOn(job)[temporal[0]] !== 'service_healthy') problems.push(`${jobName} must wait for ${temporal[0]} to be healthy`);
  return problems;
}

/** depends_on conditions are satisfiable, images are pinned, and PostgreSQL is a healthy prerequisite. */
export function wiringProblems(doc: Obj): string[] {
  const problems: string[] = [];
  const svcs = services(doc);
  for (const [name, svc] of Object.entries(svcs)) {
    for (const [dep, cond] of Object.entries(dependsOn(svc))) {
      const target = svcs[dep];
      if (!target) problems.push(`${name} depends on unknown service ${dep}`);
      else if (cond === 'service_healthy' && !isObj(target.healthcheck)) problems.push(`${name} waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
    }
    if (typeof svc.image === 'string' && svc.build === undefined) {
      const tag = /:([^/:@]+)(@|$)/.exec(svc.image)?.[1];
      if (!tag || tag === 'latest') problems.push(`${name}: image ${svc.image} is not pinned to a version tag`);
    }
  }
  const pg = findByImage(doc, ['postgres']);
  if (!pg) problems.push('no PostgreSQL service');
  else {
    if (!isObj(pg[1].healthcheck)) problems.push(`${pg[0]} has no healthcheck`);
    const temporal = findByImage(doc, ['temporalio/auto-setup', 'temporalio/server']);
    if (temporal) {
      const tenv = envOf(temporal[1]);
      if (tenv.DB !== 'postgres12') problems.push(`${temporal[0]}: DB=${String(tenv.DB)}, expected postgres12`);
      if (tenv.POSTGRES_SEEDS !== pg[0]) problems.push(`${temporal[0]}: POSTGRES_SEEDS=${String(tenv.POSTGRES_SEEDS)}, expected ${pg[0]}`);
      if (dependsOn(temporal[1])[pg[0]] !== 'service_healthy') problems.push(`${temporal[0]} must wait for ${pg[0]} to be healthy`);
      if (!isObj(temporal[1].healthcheck)) problems.push(`${temporal[0]} has no healthcheck`);
    }
  }
  return problems;
}

const SECRET_NAME = /(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)$/i;
const REQUIRED_INTERPOLATION = /^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}$/;

/** No literal secret in the compose file: secret-named variables and URL passwords are required interpolations. */
export function secretProblems(doc: Obj, rawText: string): string[] {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(services(doc))) {
    for (const [k, v] of Object.entries(envOf(svc))) {
      if (SECRET_NAME.test(k) && !REQUIRED_INTERPOLATION.test(v)) {
        problems.push(`${name}: ${k} must be a required interpolation like \${${k}:?message}, not a literal or default`);
      }
      const url = /^[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:(.*)@[^@]*$/i.exec(v);
      if (url && !REQUIRED_INTERPOLATION.test(url[1] ?? '')) problems.push(`${name}: ${k} has a literal password in its URL`);
    }
    if (svc.secrets !== undefined || svc.env_file !== undefined) {
      // Allowed, but then they must not point inside the repo; keep it simple: flag for review.
      problems.push(`${name}: secrets/env_file are not expected in this stack; review where their values come from`);
    }
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(rawText)) problems.push('the compose file contains a private key');
  if (/\b(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+) AAAA/.test(rawText)) problems.push('the compose file contains SSH key material');
  // A literal in list-form environment entries, e.g. "- POSTGRES_PASSWORD=hunter2".
  for (const m of rawText.matchAll(/(?<!\$\{)\b([A-Z0-9_]*(?:PASSWORD|PWD))\s*[=:]\s*(\S+)/g)) {
    // Allowed: an interpolation or shell expansion ($...), and the "..." placeholder of the usage comment.
    const value = m[2] ?? '';
    if (!value.startsWith('$') && value !== '...') problems.push(`literal value for ${m[1]} in the compose file`);
  }
  return problems;
}

/** The worker image: node 20 slim, production deps only, non-root, runs the worker, copies no secrets. */
export function dockerfileProblems(text: string): string[] {
  const problems: string[] = [];
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const froms = lines.filter((l) => /^FROM\s/i.test(l));
  if (!froms.length || !/^FROM\s+node:20[.\d]*-(bookworm-)?slim(\s|$)/i.test(froms.at(-1) ?? '')) problems.push(`final stage must be node:20 slim (got ${froms.at(-1)})`);
  if (!lines.some((l) => /^RUN\s.*\bnpm ci\b.*--omit=dev/.test(l))) problems.push('no `npm ci --omit=dev`');
  const users = lines.filter((l) => /^USER\s/i.test(l));
  const lastUser = users.at(-1)?.split(/\s+/)[1];
  if (!lastUser || lastUser === 'root' || lastUser === '0' || lastUser.startsWith('0:')) problems.push('the image must end as a non-root USER');
  const copies = lines.filter((l) => /^(COPY|ADD)\s/i.test(l)).join('\n');
  for (const need of ['package.json', 'package-lock.json', 'src/', 'bin/']) if (!copies.includes(need)) problems.push(`does not COPY ${need}`);
  if (/(\.ssh|_ed25519|id_rsa|\.pem|\.key\b|steward\.config\.yaml|\.env\b|^(COPY|ADD)\s+\.\s)/m.test(copies)) problems.push('copies a secret, a config file or the whole context');
  const cmd = lines.filter((l) => /^(CMD|ENTRYPOINT)\s/i.test(l)).join(' ');
  if (!/"node",\s*"bin\/steward\.js",\s*"worker"/.test(cmd)) problems.push(`does not start \`node bin/steward.js worker\` (got ${cmd})`);
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------

function load(): { text: string; doc: Obj; config: Obj } {
  const text = fs.readFileSync(COMPOSE_FILE, 'utf8');
  const doc = YAML.parse(text) as Obj;
  const config = YAML.parse(fs.readFileSync(CONFIG_FILE, 'utf8')) as Obj;
  return { text, doc, config };
}

const clone = <T>(v: T): T => structuredClone(v);

describe('docker-compose.yml against the Compose Specification schema', () => {
  test('the real file is valid', () => {
    const { doc } = load();
    assert.deepEqual(schemaProblems(doc), []);
  });

  test('a broken copy is rejected (misspelt key, bad depends_on condition, ports not a list)', () => {
    const { doc } = load();
    const bad = clone(doc);
    (services(bad).temporal as Obj).helthcheck = { test: ['CMD', 'true'] };
    ((services(bad)['steward-worker'] as Obj).depends_on as Obj)['temporal-search-attributes'] = { condition: 'service_finished' };
    (services(bad)['temporal-ui'] as Obj).ports = '8233:8080';
    const problems = schemaProblems(bad);
    assert.ok(problems.some((p) => p.includes('helthcheck')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('/services/steward-worker/depends_on/temporal-search-attributes/condition')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('/services/temporal-ui/ports must be array')), problems.join('\n'));
  });
});

describe('docker-compose.yml agrees with deploy/compose/steward.config.yaml', () => {
  test('the real files are consistent', () => {
    const { doc, config, text } = load();
    assert.deepEqual(consistencyProblems(doc, config), []);
    assert.deepEqual(searchAttributeProblems(doc), []);
    assert.deepEqual(wiringProblems(doc), []);
    assert.deepEqual(secretProblems(doc, text), []);
  });

  test('negative: the Web UI published on the wrong host port', () => {
    const { doc, config } = load();
    const bad = clone(doc);
    (services(bad)['temporal-ui'] as Obj).ports = ['8080:8080'];
    const problems = consistencyProblems(bad, config);
    assert.ok(problems.some((p) => p.includes('no host port 8233 -> 8080')), problems.join('\n'));
  });

  test('negative: the config names a UI URL that the compose file does not publish', () => {
    const { doc, config } = load();
    const badCfg = clone(config);
    (badCfg.temporal as Obj).webUiUrl = 'http://localhost:9999';
    const problems = consistencyProblems(doc, badCfg);
    assert.ok(problems.some((p) => p.includes('no host port 9999')), problems.join('\n'));
  });

  test('negative: the worker lacks an environment variable the config references', () => {
    const { doc, config } = load();
    const bad = clone(doc);
    const env = (services(bad)['steward-worker'] as Obj).environment as Obj;
    delete env.PRODUCTION_DATABASE_URL;
    const problems = consistencyProblems(bad, config);
    assert.deepEqual(problems, [
      'steward-worker: environment lacks PRODUCTION_DATABASE_URL (referenced by config environments.production.database.url)',
    ]);
  });

  test('negative: a new {env: NAME} reference in the config that compose does not provide', () => {
    const { doc, config } = load();
    const badCfg = clone(config) as Obj;
    ((badCfg.environments as Obj).staging as Obj).smokeToken = { env: 'STAGING_SMOKE_TOKEN' };
    const problems = consistencyProblems(doc, badCfg);
    assert.ok(problems.some((p) => p.includes('lacks STAGING_SMOKE_TOKEN')), problems.join('\n'));
  });

  test('negative: TEMPORAL_ADDRESS with the wrong port, and a config address naming no service', () => {
    const { doc, config } = load();
    const bad = clone(doc);
    ((services(bad)['steward-worker'] as Obj).environment as Obj).TEMPORAL_ADDRESS = 'temporal:7234';
    let problems = consistencyProblems(bad, config);
    assert.ok(problems.some((p) => p.includes('TEMPORAL_ADDRESS="temporal:7234"')), problems.join('\n'));

    const badCfg = clone(config);
    (badCfg.temporal as Obj).address = 'temporal-frontend:7233';
    problems = consistencyProblems(doc, badCfg);
    assert.ok(problems.some((p) => p.includes('host temporal-frontend is not the Temporal service name temporal')), problems.join('\n'));
  });

  test('negative: SSH keys mounted read-write, or from a fixed host path', () => {
    const { doc, config } = load();
    const bad = clone(doc);
    const vols = (services(bad)['steward-worker'] as Obj).volumes as Obj[];
    const keys = vols.find((v) => v.target === '/run/secrets/ssh') as Obj;
    keys.read_only = false;
    keys.source = './keys';
    const problems = consistencyProblems(bad, config);
    assert.ok(problems.some((p) => p.includes('must be read-only')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('must come from a required variable')), problems.join('\n'));
  });

  test('negative: a missing, extra or mistyped search attribute', () => {
    const { doc } = load();
    for (const mutate of [
      (s: string) => s.replace(/^\s*register ReleaseVersion Keyword\n/m, ''),
      (s: string) => s.replace('register AwaitingApprovalFrom KeywordList', 'register AwaitingApprovalFrom Keyword'),
      (s: string) => s.replace('register ChangeId Keyword', 'register ChangeId Keyword\nregister Owner Keyword'),
    ]) {
      const bad = clone(doc);
      const job = services(bad)['temporal-search-attributes'] as Obj;
      const cmd = job.command as string[];
      const mutated = mutate(cmd[0] ?? '');
      assert.notEqual(mutated, cmd[0], 'the mutation must change the script');
      job.command = [mutated];
      const problems = searchAttributeProblems(bad);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0] ?? '', /registers .* expected/);
    }
  });

  test('negative: the worker no longer waits for the search attribute job / a healthcheck is removed', () => {
    const { doc } = load();
    const bad = clone(doc);
    const deps = (services(bad)['steward-worker'] as Obj).depends_on as Obj;
    deps['temporal-search-attributes'] = { condition: 'service_started' };
    assert.ok(searchAttributeProblems(bad).some((p) => p.includes('service_completed_successfully')));

    const bad2 = clone(doc);
    delete (services(bad2).temporal as Obj).healthcheck;
    const problems = wiringProblems(bad2);
    assert.ok(problems.some((p) => p.includes('but temporal has no healthcheck')), problems.join('\n'));
  });

  test('negative: unpinned image tags', () => {
    const { doc } = load();
    const bad = clone(doc);
    (services(bad)['temporal-ui'] as Obj).image = 'temporalio/ui:latest';
    (services(bad).postgresql as Obj).image = 'postgres';
    const problems = wiringProblems(bad);
    assert.equal(problems.filter((p) => p.includes('is not pinned')).length, 2, problems.join('\n'));
  });

  test('negative: literal secrets', () => {
    const { doc, text } = load();
    const bad = clone(doc);
    ((services(bad).postgresql as Obj).environment as Obj).POSTGRES_PASSWORD = 'hunter2';
    ((services(bad)['steward-worker'] as Obj).environment as Obj).STEWARD_AUDIT_DATABASE_URL =
      'postgres://steward_audit:hunter2@postgresql:5432/steward_audit';
    let problems = secretProblems(bad, text);
    assert.ok(problems.some((p) => p.includes('POSTGRES_PASSWORD must be a required interpolation')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('STEWARD_AUDIT_DATABASE_URL has a literal password')), problems.join('\n'));

    // A default is as bad as a literal: ${X:-changeme} silently ships "changeme".
    const bad2 = clone(doc);
    ((services(bad2).temporal as Obj).environment as Obj).POSTGRES_PWD = '${TEMPORAL_DB_PASSWORD:-changeme}';
    problems = secretProblems(bad2, text);
    assert.ok(problems.some((p) => p.includes('POSTGRES_PWD must be a required interpolation')), problems.join('\n'));

    // Raw text: list-form literals and key material.
    problems = secretProblems(doc, `${text}\n# - POSTGRES_PASSWORD=hunter2\n# -----BEGIN OPENSSH PRIVATE KEY-----\n`);
    assert.ok(problems.includes('literal value for POSTGRES_PASSWORD in the compose file'), problems.join('\n'));
    assert.ok(problems.includes('the compose file contains a private key'), problems.join('\n'));
  });
});

describe('the compose stack is a secured cluster', () => {
  const doc = YAML.parse(fs.readFileSync(COMPOSE_FILE, 'utf8')) as Obj;
  const config = YAML.parse(fs.readFileSync(CONFIG_FILE, 'utf8')) as Obj;
  const svcs = services(doc);
  test('the Web UI has its write actions off and decodes through the codec server', () => {
    const ui = envOf(svcs['temporal-ui']);
    assert.equal(ui.TEMPORAL_DISABLE_WRITE_ACTIONS, 'true');
    const codec = svcs['steward-codec-server'];
    assert.ok(codec, 'a codec server service');
    const published = portsOf(codec).map((p) => p.hostPort);
    assert.match(ui.TEMPORAL_CODEC_ENDPOINT ?? '', new RegExp(`^http://localhost:(${published.join('|')})/`));
    const cs = (config.temporal as Obj).codecServer as Obj;
    assert.equal(cs.uiOrigin, ui.TEMPORAL_CORS_ORIGINS, 'the codec server allows exactly the UI origin');
  });
  test('the worker reaches Temporal over mutual TLS and seals payloads', () => {
    const t = config.temporal as Obj;
    const tls = t.tls as Obj;
    for (const f of ['serverCa', 'clientCert', 'clientKey']) assert.ok(tls[f], `temporal.tls.${f}`);
    assert.equal(envOf(svcs.temporal).TEMPORAL_TLS_REQUIRE_CLIENT_AUTH, 'true');
    assert.ok(t.payloadCodec, 'temporal.payloadCodec');
  });
});

describe('Dockerfile', () => {
  test('the real Dockerfile follows the worker contract', () => {
    assert.deepEqual(dockerfileProblems(fs.readFileSync(DOCKERFILE, 'utf8')), []);
  });

  test('negative: root user, dev dependencies, a baked-in key', () => {
    const text = fs.readFileSync(DOCKERFILE, 'utf8');
    const bad = text
      .replace(/^USER node$/m, 'USER root')
      .replace('npm ci --omit=dev', 'npm ci')
      .replace('COPY src/ ./src/', 'COPY src/ ./src/\nCOPY deploy/keys/staging_ed25519 /run/secrets/ssh/');
    assert.notEqual(bad, text);
    const problems = dockerfileProblems(bad);
    assert.equal(problems.length, 3, problems.join('\n'));
  });

  test('.dockerignore keeps the repo-local config, tools and state out of the build context', () => {
    const ignore = fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', '.git', '.tools', '.steward', 'steward.config.yaml', '.env']) {
      assert.ok(ignore.includes(entry), `.dockerignore lacks ${entry}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The real Compose CLI (built by scripts/build-compose.sh, or on PATH).

function findComposeCli(): string[] | undefined {
  const tools = path.resolve(process.env.STEWARD_TOOLS_DIR ?? path.join(REPO_ROOT, '.tools'));
  const candidates: string[][] = [[path.join(tools, 'bin', 'docker-compose')], ['docker-compose'], ['docker', 'compose']];
  for (const c of candidates) {
    const r = spawnSync(c[0]!, [...c.slice(1), 'config', '--help'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.includes('--quiet')) return c;
  }
  return undefined;
}

/** ${NAME:?...} variables of the compose file. */
function requiredVariables(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):\?/g)].map((m) => m[1] ?? ''))].sort();
}

describe('docker-compose config (the real Compose CLI)', () => {
  const cli = findComposeCli();
  const skip = cli
    ? false
    : 'no Compose CLI: run scripts/build-compose.sh (builds .tools/bin/docker-compose) or install docker-compose';
  if (!cli && process.env.STEWARD_REQUIRE_COMPOSE_CLI === '1') {
    test('a Compose CLI is required (STEWARD_REQUIRE_COMPOSE_CLI=1)', () => assert.fail(String(skip)));
    return;
  }

  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-compose-keys-'));
  const tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-compose-tls-'));
  const dummies = (): Record<string, string> => ({
    TEMPORAL_DB_PASSWORD: 'dummy-temporal-password',
    STEWARD_AUDIT_DB_PASSWORD: 'dummy-audit-password',
    STAGING_DATABASE_URL: 'postgres://app:dummy@127.0.0.1:5432/banking',
    PRODUCTION_DATABASE_URL: 'postgres://app:dummy@127.0.0.1:5432/banking',
    STEWARD_SSH_KEY_DIR: keyDir,
    STEWARD_TLS_DIR: tlsDir,
    STEWARD_CODEC_KEY_1: 'ZHVtbXktY29kZWMta2V5LTMyLWJ5dGVzLWxvbmctLS0=',
    STEWARD_CODEC_TOKEN: 'dummy-codec-token',
  });
  const run = (vars: Record<string, string>, extra: string[]) => {
    // A clean environment: only what the CLI needs plus the variables under test (no leakage from the caller).
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.tmpdir(), ...vars };
    return spawnSync(cli![0]!, [...cli!.slice(1), '-f', COMPOSE_FILE, '--project-directory', REPO_ROOT, 'config', ...extra], {
      encoding: 'utf8',
      env,
      cwd: REPO_ROOT,
      timeout: 60_000,
    });
  };

  test('the required variables are exactly the documented secrets and key dir', { skip }, () => {
    assert.deepEqual(requiredVariables(fs.readFileSync(COMPOSE_FILE, 'utf8')), Object.keys(dummies()).sort());
  });

  test('config --quiet passes with the required variables set', { skip }, () => {
    const r = run(dummies(), ['--quiet']);
    assert.equal(r.status, 0, `exit ${r.status}\n${r.stderr}`);
  });

  test('config --quiet fails without each required variable, naming it', { skip }, () => {
    for (const name of Object.keys(dummies())) {
      const vars = dummies();
      delete vars[name];
      const r = run(vars, ['--quiet']);
      assert.notEqual(r.status, 0, `config passed without ${name}`);
      assert.match(r.stderr, new RegExp(`set ${name}\\b`), `stderr without ${name}: ${r.stderr}`);
    }
  });

  test('the resolved model still satisfies the consistency checks', { skip }, () => {
    const r = run(dummies(), ['--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const resolved = JSON.parse(r.stdout) as Obj;
    const config = YAML.parse(fs.readFileSync(CONFIG_FILE, 'utf8')) as Obj;
    // The resolved model has absolute sources and no interpolation left; only the non-secret checks apply.
    const problems = consistencyProblems(resolved, config).filter((p) => !p.includes('must come from a required variable'));
    assert.deepEqual(problems, []);
    const wenv = envOf(services(resolved)['steward-worker']);
    assert.equal(wenv.STEWARD_AUDIT_DATABASE_URL, 'postgres://steward_audit:dummy-audit-password@postgresql:5432/steward_audit');
  });

  test('negative: the CLI rejects a broken copy (proves the check can fail)', { skip }, () => {
    const broken = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'steward-compose-bad-')), 'docker-compose.yml');
    const text = fs.readFileSync(COMPOSE_FILE, 'utf8').replace('condition: service_completed_successfully', 'condition: service_finished');
    fs.writeFileSync(broken, text);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.tmpdir(), ...dummies() };
    const r = spawnSync(cli![0]!, [...cli!.slice(1), '-f', broken, '--project-directory', REPO_ROOT, 'config', '--quiet'], { encoding: 'utf8', env });
    assert.notEqual(r.status, 0, 'an invalid depends_on condition was accepted');
    assert.match(r.stderr, /condition|service_finished/);
  });
});
