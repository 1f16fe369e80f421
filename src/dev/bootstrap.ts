// A bank's hosts already run the app with data before Steward's first deployment. The dev stack makes that
// so: once per host, the baseline release's virtualenv (in the same venvs/<requirements hash> dir a
// deployment uses, so it is reused), `migrate` and `seed_bank` with the demo password. Dev stack only.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildVenv } from '../commands/python';
import { toShell } from '../commands/shell';
import type { DevHost, DevLayout } from './paths';
import { run } from './processes';

export const BASELINE_TAG = 'r01-baseline';

/**
 * `seed: false` for a second host of an environment: the database is the environment's, already migrated and seeded
 * by its primary; the host gets the baseline venv only.
 */
export function bootstrapHost(layout: DevLayout, env: DevHost, python: string, log: (l: string) => void, opts: { seed?: boolean } = {}): void {
  const host = layout.host(env);
  const marker = path.join(host.sharedDir, '.bootstrapped');
  if (existsSync(marker)) return;
  if (!existsSync(path.join(layout.originRepo, 'HEAD'))) return;
  log(`bootstrapping the ${env} host: baseline venv${opts.seed !== false ? ', schema and demo data' : ''}`);
  const work = path.join(host.root, 'bootstrap');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  run('sh', ['-c', 'git --git-dir="$1" archive --format=tar "$2" | tar -x -C "$3"', 'bootstrap', layout.originRepo, BASELINE_TAG, work]);
  const reqHash = createHash('sha256').update(readFileSync(path.join(work, 'requirements.txt'))).digest('hex');
  const venv = path.join(host.deployRoot, 'venvs', reqHash);
  // The deployment's own builder (src/commands/python.ts): same path, lock and completion marker, so the first
  // deployment of the baseline finds this venv finished and reuses it.
  mkdirSync(path.dirname(venv), { recursive: true });
  run('bash', ['-c', toShell(buildVenv(python, venv, path.join(work, 'requirements.txt')))]);
  if (opts.seed !== false) seedDatabase(host.sharedDir, venv, work);
  rmSync(work, { recursive: true, force: true });
  writeFileSync(marker, `${new Date().toISOString()}\n`);
}

function seedDatabase(sharedDir: string, venv: string, work: string): void {
  const host = { sharedDir };
  const env_ = { ...process.env, BANKAPP_ENV_FILE: path.join(host.sharedDir, 'app.env') };
  const py = path.join(venv, 'bin', 'python');
  run(py, ['manage.py', 'migrate', '--noinput'], { cwd: work, env: env_ });
  run(py, ['manage.py', 'seed_bank', '--password-file', path.join(host.sharedDir, 'demo-password')], { cwd: work, env: env_ });
}
