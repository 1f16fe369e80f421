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

export function startGunicorn(s: GunicornSpec): RemoteCommand {
  const current = `${s.deployRoot}/current`;
  return cmd(
    [
      `${current}/.venv/bin/gunicorn`,
      s.wsgi,
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

export function signalMaster(pid: number, signal: 'HUP' | 'TERM' | 'QUIT'): RemoteCommand {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`pid ${pid} is not a process to signal`);
  return cmd(['kill', `-${signal}`, String(pid)]);
}

/** Which venv the running master was started with (to know whether a HUP is enough). */
export function masterVenv(pid: number): RemoteCommand {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`pid ${pid} is not a process`);
  return cmd(['sh', '-c', 'tr "\\0" "\\n" < /proc/"$1"/environ | sed -n "s/^STEWARD_VENV=//p"; true', 'master-venv', String(pid)]);
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
