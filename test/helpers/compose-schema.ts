// The Compose Specification's JSON schema, fetched through the Go module proxy (never committed to this repo).
//
// The schema ships in github.com/compose-spec/compose-go/v2 as schema/compose-spec.json. We pin the version that
// github.com/docker/compose/v5 v5.6.0 (the CLI scripts/build-compose.sh builds) requires, so the schema check and the
// `docker-compose config` check judge the file by the same rules.
//
// Caches: in memory per process, and a copy under <repo>/.tools/cache (git-ignored) keyed by version; on a cold cache
// `go mod download -json` fills Go's own module cache. With neither cache nor `go`, this throws a clear error.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const COMPOSE_GO_MODULE = 'github.com/compose-spec/compose-go/v2';
export const COMPOSE_GO_VERSION = 'v2.16.1';
const SCHEMA_PATH_IN_MODULE = path.join('schema', 'compose-spec.json');

const REPO_ROOT = path.resolve(__dirname, '..', '..');

let memo: { version: string; schema: Record<string, unknown> } | undefined;

function cacheFile(version: string): string {
  const tools = path.resolve(process.env.STEWARD_TOOLS_DIR ?? path.join(REPO_ROOT, '.tools'));
  return path.join(tools, 'cache', `compose-spec-${version}.json`);
}

function goAvailable(): boolean {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs `go mod download -json <module>@<version>` in a throwaway directory and returns the module's Dir. */
export function downloadComposeGoModule(version: string = COMPOSE_GO_VERSION): string {
  if (!goAvailable()) {
    throw new Error(
      `The Compose Specification schema is read from ${COMPOSE_GO_MODULE}@${version} through the Go module proxy, ` +
        `but 'go' is not on PATH. Install Go (>= 1.21) or put a cached copy at ${cacheFile(version)}.`,
    );
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-compose-schema-'));
  try {
    // A throwaway module, so no surrounding go.mod (or GOFLAGS=-mod=vendor) can interfere.
    fs.writeFileSync(path.join(tmp, 'go.mod'), 'module steward.local/compose-schema\n\ngo 1.21\n');
    let out: string;
    try {
      out = execFileSync('go', ['mod', 'download', '-json', `${COMPOSE_GO_MODULE}@${version}`], {
        cwd: tmp,
        encoding: 'utf8',
        env: { ...process.env, GOFLAGS: '-mod=mod', GOWORK: 'off' },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 180_000,
      });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(
        `go mod download ${COMPOSE_GO_MODULE}@${version} failed: ${e.stderr || e.stdout || e.message}`.trim(),
      );
    }
    const info = JSON.parse(out) as { Dir?: string; Error?: string };
    if (info.Error) throw new Error(`go mod download ${COMPOSE_GO_MODULE}@${version}: ${info.Error}`);
    if (!info.Dir) throw new Error(`go mod download ${COMPOSE_GO_MODULE}@${version} reported no Dir: ${out}`);
    return info.Dir;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The Compose Specification JSON schema (draft 2020-12 as of compose-go v2.16.1). */
export function loadComposeSchema(version: string = COMPOSE_GO_VERSION): Record<string, unknown> {
  if (memo?.version === version) return memo.schema;
  const cached = cacheFile(version);
  let text: string | undefined;
  if (fs.existsSync(cached)) {
    text = fs.readFileSync(cached, 'utf8');
  } else {
    const dir = downloadComposeGoModule(version);
    const file = path.join(dir, SCHEMA_PATH_IN_MODULE);
    if (!fs.existsSync(file)) throw new Error(`${COMPOSE_GO_MODULE}@${version} has no ${SCHEMA_PATH_IN_MODULE} (looked in ${dir})`);
    text = fs.readFileSync(file, 'utf8');
    try {
      fs.mkdirSync(path.dirname(cached), { recursive: true });
      fs.writeFileSync(`${cached}.${process.pid}.tmp`, text);
      fs.renameSync(`${cached}.${process.pid}.tmp`, cached);
    } catch {
      // The disk cache is an optimisation only.
    }
  }
  const schema = JSON.parse(text) as Record<string, unknown>;
  memo = { version, schema };
  return schema;
}
