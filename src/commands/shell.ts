// The one place where values become remote shell text. Builders return argv arrays (Kamal's habit);
// only the executor joins them, through quoteArg, so no builder ever writes shell syntax by hand.

export class UnsafeArgumentError extends Error {
  override name = 'UnsafeArgumentError';
}

/** A command to run on a host: argv, never a shell string. */
export type Argv = readonly string[];

/** Shell-level composition the executor understands; anything else stays argv. */
export type RemoteCommand =
  | { kind: 'argv'; argv: Argv; cwd?: string; env?: Readonly<Record<string, string>> }
  | { kind: 'and'; commands: readonly RemoteCommand[] }
  | { kind: 'pipe'; commands: readonly RemoteCommand[] }
  | { kind: 'redirect'; command: RemoteCommand; stdoutTo: string; append?: boolean }
  /** A secret the executor writes to stdin; the remote shell exports it to the command's environment. */
  | { kind: 'secretStdin'; envName: string; command: RemoteCommand }
  /**
   * The command in a process group (and session) of its own, its group id written to `pidFile` first, so a second
   * channel can kill the whole group on a timeout or a cancellation (an SSH channel closing kills nothing).
   */
  | { kind: 'processGroup'; pidFile: string; command: RemoteCommand }
  /** The command under an exclusive `flock` on `lockFile`: one at a time per lock file on the host. */
  | { kind: 'hostLock'; lockFile: string; waitSeconds: number; conflictExitCode: number; command: RemoteCommand };

export function cmd(argv: Argv, opts: { cwd?: string; env?: Record<string, string> } = {}): RemoteCommand {
  if (argv.length === 0) throw new UnsafeArgumentError('an empty command cannot run');
  return { kind: 'argv', argv, ...opts };
}

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** Single-quotes one argument for a POSIX shell. NUL cannot be passed to a process at all, so it is refused. */
export function quoteArg(value: string): string {
  if (typeof value !== 'string') throw new UnsafeArgumentError(`argument must be a string, got ${typeof value}`);
  if (value.includes('\0')) throw new UnsafeArgumentError('argument contains a NUL byte');
  if (value.length > 262144) throw new UnsafeArgumentError('argument is longer than 262144 characters');
  if (value !== '' && /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function toShell(command: RemoteCommand): string {
  switch (command.kind) {
    case 'argv': {
      const envPart = Object.entries(command.env ?? {}).map(([k, v]) => {
        if (!ENV_NAME.test(k)) throw new UnsafeArgumentError(`environment variable name ${JSON.stringify(k)} is not allowed`);
        return `${k}=${quoteArg(v)}`;
      });
      const line = [...envPart, ...command.argv.map(quoteArg)].join(' ');
      return command.cwd ? `cd ${quoteArg(command.cwd)} && ${line}` : line;
    }
    case 'and':
      return command.commands.map((c) => `( ${toShell(c)} )`).join(' && ');
    case 'pipe':
      return `set -o pipefail; ` + command.commands.map((c) => `( ${toShell(c)} )`).join(' | ');
    case 'secretStdin':
      if (!ENV_NAME.test(command.envName)) throw new UnsafeArgumentError(`environment variable name ${JSON.stringify(command.envName)} is not allowed`);
      return `IFS= read -r ${command.envName} && export ${command.envName} && ( ${toShell(command.command)} )`;
    case 'redirect':
      return `( ${toShell(command.command)} ) ${command.append ? '>>' : '>'} ${quoteArg(command.stdoutTo)}`;
    case 'processGroup': {
      // setsid --wait: the child leads a new session and group (pgid = its pid, written first), and the exit status
      // is the command's; the pid file goes when it ends.
      const pid = quoteArg(command.pidFile);
      return `setsid --wait bash -c 'echo $$ > "$0" && exec bash -c "$1"' ${pid} ${quoteArg(toShell(command.command))}; s=$?; rm -f -- ${pid}; exit $s`;
    }
    case 'hostLock': {
      if (!Number.isInteger(command.waitSeconds) || command.waitSeconds < 0) throw new UnsafeArgumentError('waitSeconds must be a whole number of seconds');
      if (!Number.isInteger(command.conflictExitCode) || command.conflictExitCode < 1 || command.conflictExitCode > 125) throw new UnsafeArgumentError('conflictExitCode must be 1-125');
      return `flock --exclusive --wait ${command.waitSeconds} --conflict-exit-code ${command.conflictExitCode} ${quoteArg(command.lockFile)} bash -c ${quoteArg(toShell(command.command))}`;
    }
  }
}

/** Values from people (refs, module names, paths) are checked before they get near a builder. */
export function assertSafeValue(field: string, value: string, pattern: RegExp, hint: string): string {
  if (!pattern.test(value) || value.startsWith('-')) {
    throw new UnsafeArgumentError(`${field} ${JSON.stringify(value.slice(0, 80))} is not allowed: ${hint}`);
  }
  return value;
}
