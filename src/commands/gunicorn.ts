// Gunicorn on a host: started from the `current` symlink so a HUP reload serves the newly switched release.
import { cmd, type RemoteCommand } from './shell';

export interface GunicornSpec {
  deployRoot: string;
  bind: string;
  wsgi: string;
  workers: number;
  /** The venv the master runs from, remembered in its environment. */
  venv: string;
  settingsModule?: string;
}

export const pidFile = (deployRoot: string) => `${deployRoot}/shared/gunicorn.pid`;
/** Steward's Gunicorn config (a constant file): the app's own gunicorn.conf.py, plus the handover hook below. */
export const handoverConfig = (deployRoot: string) => `${deployRoot}/shared/steward-gunicorn.conf.py`;

/**
 * Why a file of our own: on USR2 Gunicorn re-execs `sys.executable`, the OLD venv's interpreter, so a new master
 * would keep the old dependencies. The pre_exec hook points the re-exec at the venv the switched `current` links
 * to (and records it in STEWARD_VENV). Since `-c` replaces Gunicorn's default `./gunicorn.conf.py`, the app's
 * own file is loaded first, and its own pre_exec still runs.
 */
export const HANDOVER_CONFIG_TEXT = `# Written by Steward; do not edit (rewritten at every start). See src/commands/gunicorn.ts.
import os as _steward_os

_steward_app_conf = _steward_os.path.join(_steward_os.getcwd(), "gunicorn.conf.py")
if _steward_os.path.isfile(_steward_app_conf):
    with open(_steward_app_conf) as _steward_f:
        exec(compile(_steward_f.read(), _steward_app_conf, "exec"))
_steward_app_pre_exec = globals().get("pre_exec")


def pre_exec(server):
    if _steward_app_pre_exec is not None:
        _steward_app_pre_exec(server)
    link = _steward_os.path.join(server.START_CTX["cwd"], ".venv")
    venv = _steward_os.readlink(link) if _steward_os.path.islink(link) else _steward_os.path.realpath(link)
    python = _steward_os.path.join(venv, "bin", "python")
    server.START_CTX[0] = python
    server.START_CTX["args"] = [python, _steward_os.path.join(venv, "bin", "gunicorn")] + server.START_CTX["args"][2:]
    server.cfg.env_orig["STEWARD_VENV"] = venv
`;

/** Writes the handover config (temp file, then rename: a master starting meanwhile never reads half a file). */
export function writeHandoverConfig(deployRoot: string): RemoteCommand {
  return cmd(['sh', '-c', 'umask 022 && printf "%s" "$1" > "$2.tmp" && mv -f -- "$2.tmp" "$2"', 'write-gunicorn-config', HANDOVER_CONFIG_TEXT, handoverConfig(deployRoot)]);
}

export function startGunicorn(s: GunicornSpec): RemoteCommand {
  const current = `${s.deployRoot}/current`;
  return cmd(
    [
      `${current}/.venv/bin/gunicorn`,
      s.wsgi,
      '--config',
      handoverConfig(s.deployRoot),
      '--chdir',
      current,
      '--bind',
      s.bind,
      '--workers',
      String(s.workers),
      '--pid',
      pidFile(s.deployRoot),
      '--daemon',
      '--graceful-timeout',
      '20',
      '--access-logfile',
      `${s.deployRoot}/shared/logs/gunicorn-access.log`,
      '--error-logfile',
      `${s.deployRoot}/shared/logs/gunicorn-error.log`,
    ],
    { cwd: current, env: { PWD: current, STEWARD_VENV: s.venv, ...(s.settingsModule ? { DJANGO_SETTINGS_MODULE: s.settingsModule } : {}) } },
  );
}

/** Prints the master's pid when it is running, nothing otherwise. */
export function runningMaster(deployRoot: string): RemoteCommand {
  return cmd(['sh', '-c', 'p=$(cat -- "$1" 2>/dev/null) && kill -0 "$p" 2>/dev/null && echo "$p" || true', 'gunicorn-pid', pidFile(deployRoot)]);
}

export function signalMaster(pid: number, signal: 'HUP' | 'TERM' | 'QUIT' | 'USR2'): RemoteCommand {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`pid ${pid} is not a process to signal`);
  return cmd(['kill', `-${signal}`, String(pid)]);
}

/** Which venv the running master was started with (to know whether a HUP is enough). */
export function masterVenv(pid: number): RemoteCommand {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`pid ${pid} is not a process`);
  return cmd(['sh', '-c', 'tr "\\0" "\\n" < /proc/"$1"/environ | sed -n "s/^STEWARD_VENV=//p"; true', 'master-venv', String(pid)]);
}

const assertPid = (pid: number) => {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`pid ${pid} is not a process`);
};

/** Exit 0 when the master was started with Steward's handover config (masters started before it was not). */
export function masterHasHandoverHook(pid: number, deployRoot: string): RemoteCommand {
  assertPid(pid);
  return cmd(['sh', '-c', 'tr "\\0" "\\n" < /proc/"$1"/cmdline | grep -qxF -- "$2"', 'master-has-hook', String(pid), handoverConfig(deployRoot)]);
}

/**
 * The first half of the handover: USR2 makes the old master fork and exec a new one that inherits the listening
 * socket (one accept queue: no connection is refused or reset). Prints the new master's pid once it runs at least
 * `workers` workers and is still alive a second later; exits non-zero if it dies first (its boot failed: the old
 * master still serves, and gets its pid file back).
 */
export function reexecMaster(oldPid: number, deployRoot: string, workers: number, timeoutS = 60): RemoteCommand {
  assertPid(oldPid);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers ${workers} is not a count`);
  const script = [
    'old=$1; pidf=$2; want=$3; tries=$(($4 * 10))',
    'kids() { grep -ls "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null | wc -l; }',
    'kill -USR2 "$old" || exit 1',
    'new=""; i=0',
    'while [ $i -lt $tries ]; do',
    '  i=$((i + 1))',
    '  if [ -z "$new" ]; then',
    '    for f in "$pidf.2" "$pidf"; do p=$(cat -- "$f" 2>/dev/null); if [ -n "$p" ] && [ "$p" != "$old" ] && kill -0 "$p" 2>/dev/null; then new=$p; fi; done',
    '  elif ! kill -0 "$new" 2>/dev/null; then',
    '    echo "$old" > "$pidf"; echo "the new Gunicorn master $new exited before it served (see shared/logs/gunicorn-error.log)" >&2; exit 3',
    '  elif [ "$(kids "$new")" -ge "$want" ]; then',
    '    sleep 1; if kill -0 "$new" 2>/dev/null && [ "$(kids "$new")" -ge "$want" ]; then echo "$new"; exit 0; fi',
    '  fi',
    '  sleep 0.1',
    'done',
    '[ -n "$new" ] && kill -TERM "$new" 2>/dev/null; echo "$old" > "$pidf"',
    'echo "no new Gunicorn master with $want workers within $4 s after USR2 (see shared/logs/gunicorn-error.log)" >&2; exit 4',
  ].join('\n');
  return cmd(['sh', '-c', script, 'gunicorn-reexec', String(oldPid), pidFile(deployRoot), String(workers), String(timeoutS)]);
}

/**
 * The second half: the old master gets TERM, which in Gunicorn is the GRACEFUL stop (its workers finish the
 * requests they hold; QUIT would be the quick one and drop them). Its copy of the socket closes, the new master's
 * stays open. Waits for it to exit (graceful timeout 20 s, then KILL); the pid file then names the new master.
 */
export function retireMaster(oldPid: number, newPid: number, deployRoot: string): RemoteCommand {
  assertPid(oldPid);
  assertPid(newPid);
  const script = [
    'kill -TERM "$1" 2>/dev/null || true',
    'i=0; while [ $i -lt 300 ] && kill -0 "$1" 2>/dev/null; do i=$((i + 1)); sleep 0.1; done',
    'kill -0 "$1" 2>/dev/null && kill -KILL "$1"',
    'echo "$2" > "$3"',
  ].join('\n');
  return cmd(['sh', '-c', script, 'gunicorn-retire', String(oldPid), String(newPid), pidFile(deployRoot)]);
}

/** A new master that served, or never did: stopped gracefully, and the pid file given back to the old one. */
export function abandonMaster(newPid: number, oldPid: number, deployRoot: string): RemoteCommand {
  assertPid(newPid);
  assertPid(oldPid);
  return cmd(['sh', '-c', 'kill -TERM "$1" 2>/dev/null; echo "$2" > "$3"', 'gunicorn-abandon', String(newPid), String(oldPid), pidFile(deployRoot)]);
}

/** The running master's pid and, on the next line, the venv it was started with (nothing when none runs). */
export function runningMasterAndVenv(deployRoot: string): RemoteCommand {
  return cmd([
    'sh',
    '-c',
    'p=$(cat -- "$1" 2>/dev/null) && kill -0 "$p" 2>/dev/null || exit 0; echo "$p"; tr "\\0" "\\n" < /proc/"$p"/environ | sed -n "s/^STEWARD_VENV=//p"; true',
    'gunicorn-master',
    pidFile(deployRoot),
  ]);
}

/** Waits (up to 30 s) for a stopped master to exit, then kills it: a master that will not stop keeps the port. */
export function waitForExit(pid: number): RemoteCommand {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`pid ${pid} is not a process`);
  return cmd(['sh', '-c', 'for i in $(seq 1 300); do kill -0 "$1" 2>/dev/null || exit 0; sleep 0.1; done; kill -KILL "$1"; sleep 0.5', 'wait-exit', String(pid)]);
}
