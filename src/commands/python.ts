// The app's Python side on a host: virtualenvs keyed by the requirements' hash, manage.py commands.
import { cmd, type RemoteCommand } from './shell';

export const REQ_HASH = /^[0-9a-f]{64}$/;
export const MODULE = /^[a-z][a-z0-9_-]{0,62}$/;
export const MIGRATION_APP = /^[a-z_][a-z0-9_]{0,99}$/;
export const MIGRATION_NAME = /^(zero|[0-9]{4}_[A-Za-z0-9_]{1,100})$/;

export function venvPath(venvs: string, requirementsHash: string): string {
  if (!REQ_HASH.test(requirementsHash)) throw new Error('requirements hash must be a sha256');
  return `${venvs}/${requirementsHash}`;
}

/** The marker written once pip has finished: a venv without it is incomplete and is rebuilt. */
export const venvMarker = (venv: string) => `${venv}/.steward-complete`;

/**
 * Builds a venv at its final path (scripts' shebangs name that path, so it cannot be renamed afterwards);
 * the completion marker is written last, so an interrupted install is never taken for a finished one.
 * Under an exclusive flock on `<venv>.lock`: a retry waits for an orphaned build of a killed worker (pip keeps
 * running on the host) instead of deleting the venv under it, then finds the marker and builds nothing.
 * Fast path: a venv without pip of its own, filled by the host Python's pip (`pip --python`, pip ≥ 22.3), which
 * spares ensurepip installing pip into every venv (seconds); byte-code is compiled on first import, not by pip.
 * A host Python without a usable pip falls back to the plain `venv` + the venv's own pip.
 */
export function buildVenv(python: string, venv: string, requirementsFile: string): RemoteCommand {
  const pip = 'install --quiet --disable-pip-version-check --no-input --no-compile -r "$3"';
  return cmd([
    'flock',
    `${venv}.lock`,
    'sh',
    '-c',
    'test -f "$1/.steward-complete" && exit 0; rm -rf -- "$1" || exit 1; ' +
      `if ! { "$2" -m venv --without-pip "$1" && "$2" -m pip --python "$1/bin/python" ${pip}; }; then ` +
      `rm -rf -- "$1" && "$2" -m venv "$1" && "$1/bin/pip" ${pip} || exit 1; fi; touch -- "$1/.steward-complete"`,
    'build-venv',
    venv,
    python,
    requirementsFile,
  ]);
}

export function linkVenv(venv: string, releaseDir: string): RemoteCommand {
  return cmd(['ln', '-sfn', '--', venv, `${releaseDir}/.venv`]);
}

/** A release dir with the app contract's manage.py path and settings module (a bare path: the demo's layout). */
export interface AppRelease {
  dir: string;
  managePy: string;
  settingsModule?: string;
}
export type ReleaseRef = string | AppRelease;

export function appRelease(app: { managePy: string; settingsModule: string }, dir: string): AppRelease {
  return { dir, managePy: app.managePy, settingsModule: app.settingsModule };
}

export const releaseDirOf = (r: ReleaseRef) => (typeof r === 'string' ? r : r.dir);

/**
 * `python <managePy> …` in a release dir with the release's own venv and the configured DJANGO_SETTINGS_MODULE;
 * the app reads its secrets from its own files on the host (the demo: shared/app.env).
 */
export function manage(release: ReleaseRef, args: string[]): RemoteCommand {
  const r = typeof release === 'string' ? { dir: release, managePy: 'manage.py' } : release;
  const env = typeof release !== 'string' && release.settingsModule ? { DJANGO_SETTINGS_MODULE: release.settingsModule } : undefined;
  return cmd([`${r.dir}/.venv/bin/python`, r.managePy, ...args], { cwd: r.dir, ...(env ? { env } : {}) });
}

export const collectStatic = (releaseDir: ReleaseRef) => manage(releaseDir, ['collectstatic', '--noinput']);
export const migratePlan = (releaseDir: ReleaseRef) => manage(releaseDir, ['migrate', '--plan', '--noinput']);
export const showMigrations = (releaseDir: ReleaseRef) => manage(releaseDir, ['showmigrations', '--list']);
export const migrate = (releaseDir: ReleaseRef) => manage(releaseDir, ['migrate', '--noinput']);

/**
 * `migrate --noinput` (with its system checks, as `manage.py migrate` runs them) and then `showmigrations --list`
 * in ONE Python process: the state after is read without a second Django start. The migrate output streams; the
 * state follows the line STEWARD-APPLIED.
 */
export const MIGRATE_AND_SHOW_PY = [
  'from django.core.management import call_command',
  'call_command("migrate", interactive=False, skip_checks=False)',
  'print("\\nSTEWARD-APPLIED", flush=True)',
  'call_command("showmigrations", list=True)',
].join('\n');
export const migrateAndShow = (releaseDir: ReleaseRef) => manage(releaseDir, ['shell', '-c', MIGRATE_AND_SHOW_PY]);

/**
 * The whole migration plan in ONE Python process (one Django start instead of 2 + 2 per pending migration):
 * `showmigrations --list`, `migrate --plan`, then `sqlmigrate` forwards and `--backwards` of each pending migration,
 * each captured as `manage.py` would print it, with its error (the traceback) where it failed. One line
 * `STEWARD-PLAN <json>`; the pending list is parsed with the same pattern as parseMigratePlan, and checked
 * against it by the activity.
 */
export const PLAN_PY = [
  'import io, json, re, traceback',
  'from django.core.management import call_command',
  'def run(*args):',
  '    out, err = io.StringIO(), io.StringIO()',
  '    try:',
  '        call_command(*args, stdout=out, stderr=err, no_color=True)',
  '        return {"code": 0, "out": out.getvalue(), "err": err.getvalue()}',
  '    except BaseException:',
  '        return {"code": 1, "out": out.getvalue(), "err": err.getvalue() + traceback.format_exc()}',
  'res = {"show": run("showmigrations", "--list"), "plan": run("migrate", "--plan", "--noinput"), "sql": []}',
  'if res["show"]["code"] == 0 and res["plan"]["code"] == 0:',
  '    for line in res["plan"]["out"].split("\\n"):',
  '        m = re.match(r"^\\s*([a-z_][a-z0-9_]*)\\.([0-9]{4}_[A-Za-z0-9_]+)\\s*$", line)',
  '        if m:',
  '            fwd = run("sqlmigrate", m.group(1), m.group(2))',
  '            back = run("sqlmigrate", "--backwards", m.group(1), m.group(2)) if fwd["code"] == 0 else None',
  '            res["sql"].append({"app": m.group(1), "name": m.group(2), "forwards": fwd, "backwards": back})',
  '            if fwd["code"] != 0:',
  '                break',
  'print("STEWARD-PLAN " + json.dumps(res))',
].join('\n');
export const planInOneProcess = (releaseDir: ReleaseRef) => manage(releaseDir, ['shell', '-c', PLAN_PY]);
export const financialInvariants = (releaseDir: ReleaseRef) => manage(releaseDir, ['financial_invariants']);

export function sqlMigrate(releaseDir: ReleaseRef, app: string, name: string, backwards = false): RemoteCommand {
  if (!MIGRATION_APP.test(app) || !MIGRATION_NAME.test(name)) throw new Error(`migration ${app}.${name} is not a safe name`);
  return manage(releaseDir, ['sqlmigrate', ...(backwards ? ['--backwards'] : []), app, name]);
}

export function migrateTo(releaseDir: ReleaseRef, app: string, target: string): RemoteCommand {
  if (!MIGRATION_APP.test(app) || !MIGRATION_NAME.test(target)) throw new Error(`migration target ${app}.${target} is not a safe name`);
  return manage(releaseDir, ['migrate', '--noinput', app, target]);
}

export function featureFlag(releaseDir: ReleaseRef, module: string, on: boolean, reason: string): RemoteCommand {
  if (!MODULE.test(module)) throw new Error(`module ${JSON.stringify(module)} is not a safe name`);
  return manage(releaseDir, ['feature_flag', module, on ? 'on' : 'off', '--reason', reason]);
}

export function maintenance(releaseDir: ReleaseRef, on: boolean): RemoteCommand {
  return manage(releaseDir, ['maintenance', on ? 'on' : 'off']);
}

/**
 * Size and estimated row count of the relations named on stdin (a JSON list), through the app's own database
 * connection: `{"fin_account": {"bytes": 8192, "rows": 12}}`. Names travel on stdin, never in the command line.
 */
export const TABLE_SIZES_PY = [
  'import json, sys',
  'from django.db import connection',
  'out = {}',
  'with connection.cursor() as c:',
  '    for n in json.loads(sys.stdin.read()):',
  '        c.execute("SELECT pg_total_relation_size(to_regclass(%s)), (SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s))", [n, n])',
  '        r = c.fetchone()',
  '        if r and r[0] is not None:',
  '            out[n] = {"bytes": int(r[0]), "rows": max(0, int(r[1] or 0))}',
  'print("STEWARD-SIZES " + json.dumps(out))',
].join('\n');

export const tableSizes = (releaseDir: ReleaseRef) => manage(releaseDir, ['shell', '-c', TABLE_SIZES_PY]);
