// Remote process groups and host-side locks: pure builders (argv or RemoteCommand), tested by exact output.
// A command run in its own group can be killed whole from a second channel; migrate and restore run under a
// `flock` per database, so a retried or duplicated long migration waits instead of running twice at once.
import { assertSafeValue, cmd, type RemoteCommand } from './shell';

const TOKEN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,80}$/;
const DB_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** Exit code of `flock` when another holder kept the lock past the wait (not a code any of our commands use). */
export const LOCK_HELD_EXIT = 75;
export const SIGNALS = ['TERM', 'KILL'] as const;
export type KillSignal = (typeof SIGNALS)[number];

/** Where the group id of one command is kept on the host while it runs. */
export function processGroupFile(token: string): string {
  return `/tmp/steward-pgid-${assertSafeValue('process token', token, TOKEN, 'letters, digits, "_" or "-"')}`;
}

export function inProcessGroup(command: RemoteCommand, pidFile: string): RemoteCommand {
  return { kind: 'processGroup', pidFile, command };
}

/** Reads the group id a running command wrote (the kill reads it over a second channel). */
export function readProcessGroup(pidFile: string): RemoteCommand {
  return cmd(['cat', '--', pidFile]);
}

/** The pid file of a killed group (the shell that would remove it went with the channel). */
export function removeProcessGroupFile(pidFile: string): RemoteCommand {
  return cmd(['rm', '-f', '--', pidFile]);
}

/** The whole group: `kill -s SIG -- -PGID`; the pgid is parsed and checked before it gets here. */
export function killProcessGroup(pgid: number, signal: KillSignal): RemoteCommand {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new Error(`process group id ${pgid} is not a group that may be killed`);
  if (!SIGNALS.includes(signal)) throw new Error(`signal ${String(signal)} is not allowed`);
  return cmd(['kill', '-s', signal, '--', `-${pgid}`]);
}

/** Parses what readProcessGroup printed: a pid, or null when the file held none. */
export function parseProcessGroup(text: string): number | null {
  const t = text.trim();
  if (!/^[0-9]{1,10}$/.test(t)) return null;
  const n = Number(t);
  return n > 1 ? n : null;
}

/** The host-side lock file of one database (in its backup dir, which every database host has). */
export function databaseLockFile(backupDir: string, database: string): string {
  return `${backupDir}/.steward-${assertSafeValue('database name', database, DB_NAME, 'a PostgreSQL database name')}.lock`;
}

/** The command under the database's lock; waits up to `waitSeconds` for another holder, then exits LOCK_HELD_EXIT. */
export function underDatabaseLock(command: RemoteCommand, lockFile: string, waitSeconds: number): RemoteCommand {
  return { kind: 'hostLock', lockFile, waitSeconds: Math.max(0, Math.round(waitSeconds)), conflictExitCode: LOCK_HELD_EXIT, command };
}
