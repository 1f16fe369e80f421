// Finds, installs or builds what the local stack needs: the Temporal CLI, PostgreSQL, OpenSSH's sshd.
// Everything is reused when already there, so the second run costs nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toolsDir } from './paths';
import { DevStackError, run } from './processes';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

function onPath(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' });
  const found = r.stdout.trim();
  return r.status === 0 && found ? found : undefined;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

let aptUpdated = false;
export function aptInstall(packages: string[], log: (line: string) => void): void {
  if (!isRoot()) {
    throw new DevStackError(`${packages.join(', ')} missing: install with \`sudo apt-get install -y ${packages.join(' ')}\` and run again`);
  }
  if (!onPath('apt-get')) throw new DevStackError(`${packages.join(', ')} missing and no apt-get here: install them by hand`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    log('apt-get update');
    run('apt-get', ['update'], { env });
    aptUpdated = true;
  }
  log(`apt-get install ${packages.join(' ')}`);
  run('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { env });
}

/** The temporal binary: from PATH, else the tools dir, else built once with `go install`. */
export function ensureTemporalCli(log: (line: string) => void): string {
  const fromEnv = process.env.STEWARD_TEMPORAL_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const local = path.join(toolsDir(), 'bin', 'temporal');
  if (existsSync(local)) return local;
  const found = onPath('temporal');
  if (found) return found;
  if (!onPath('go')) throw new DevStackError('the Temporal CLI is not on PATH and Go is not installed to build it; install Go 1.22+ or put `temporal` on PATH');
  mkdirSync(path.dirname(local), { recursive: true });
  log(`building the Temporal CLI (${TEMPORAL_CLI_MODULE}) into ${path.dirname(local)}; the first build takes about 3 minutes`);
  run('go', ['install', TEMPORAL_CLI_MODULE], { env: { ...process.env, GOBIN: path.dirname(local), GOFLAGS: '-mod=mod' }, stdio: ['ignore', 'inherit', 'inherit'] });
  if (!existsSync(local)) throw new DevStackError(`go install finished but ${local} is missing`);
  return local;
}

/** PostgreSQL server binaries: a directory with initdb, pg_ctl, pg_dump, pg_restore, psql. */
export function ensurePostgres(log: (line: string) => void): string {
  const find = (): string | undefined => {
    const base = '/usr/lib/postgresql';
    if (existsSync(base)) {
      const versions = readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
      if (versions[0]) return path.join(base, versions[0], 'bin');
    }
    const initdb = onPath('initdb');
    return initdb ? path.dirname(initdb) : undefined;
  };
  let dir = find();
  if (!dir || !existsSync(path.join(dir, 'pg_dump'))) {
    aptInstall(['postgresql'], log);
    dir = find();
  }
  if (!dir) throw new DevStackError('PostgreSQL server binaries not found after installing postgresql');
  return dir;
}

export function ensureSshd(log: (line: string) => void): string {
  const candidates = ['/usr/sbin/sshd', onPath('sshd')].filter(Boolean) as string[];
  let found = candidates.find((c) => existsSync(c));
  if (!found || !onPath('ssh-keygen')) {
    aptInstall(['openssh-server', 'openssh-client'], log);
    found = ['/usr/sbin/sshd'].find((c) => existsSync(c));
  }
  if (!found) throw new DevStackError('sshd not found after installing openssh-server');
  return found;
}

export function ensureGit(log: (line: string) => void): void {
  if (!onPath('git')) aptInstall(['git'], log);
}

/** PostgreSQL will not run as root: as root we run it as the `postgres` user, creating a system user if needed. */
export function postgresRunAs(log: (line: string) => void): { uid: number; gid: number; user: string } | undefined {
  if (!isRoot()) return undefined;
  const lookup = (user: string) => {
    const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    if (r.status !== 0) return undefined;
    const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
    return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()), user };
  };
  const existing = lookup('postgres') ?? lookup('steward-pg');
  if (existing) return existing;
  log('creating the system user steward-pg to run PostgreSQL (it refuses to run as root)');
  run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'steward-pg']);
  return lookup('steward-pg');
}

export function currentUser(): string {
  return os.userInfo().username;
}
