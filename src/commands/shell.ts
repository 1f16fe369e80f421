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
  /** The first that succeeds (e.g. "already done, or do it"). */
  | { kind: 'or'; commands: readonly RemoteCommand[] }
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
    case 'or':
      return command.commands.map((c) => `( ${toShell(c)} )`).join(' || ');
    case 'pipe':
      return `set -o pipefail; ` + command.commands.map((c) => `( ${toShell(c)} )`).join(' | ');
    case 'secretStdin':
      if (!ENV_NAME.test(command.envName)) throw new UnsafeArgumentError(`environment variable name ${JSON.stringify(command.envName)} is not allowed`);
      return `IFS= read -r ${command.envName} && export ${command.envName} && ( ${toShell(command.command)} )`;
    case 'redirect':
      return `( ${toShell(command.command)} ) ${command.append ? '>>' : '>'} ${quoteArg(command.stdoutTo)}`;
    case 'processGroup':
      return inProcessGroupScript(toShell(command.command), command.pidFile);
    case 'hostLock': {
      if (!Number.isInteger(command.waitSeconds) || command.waitSeconds < 0) throw new UnsafeArgumentError('waitSeconds must be a whole number of seconds');
      if (!Number.isInteger(command.conflictExitCode) || command.conflictExitCode < 1 || command.conflictExitCode > 125) throw new UnsafeArgumentError('conflictExitCode must be 1-125');
      return `flock --exclusive --wait ${command.waitSeconds} --conflict-exit-code ${command.conflictExitCode} ${quoteArg(command.lockFile)} bash -c ${quoteArg(toShell(command.command))}`;
    }
  }
}

/**
 * Shell text run in a process group (and session) of its own, its group id written to `pidFile` first. setsid
 * --wait: the child leads a new session and group (pgid = its pid, written first), and the exit status is the
 * script's; the pid file goes when it ends. Used for one command and for a whole batch alike.
 */
export function inProcessGroupScript(script: string, pidFile: string): string {
  const pid = quoteArg(pidFile);
  return `setsid --wait bash -c 'echo $$ > "$0" && exec bash -c "$1"' ${pid} ${quoteArg(script)}; s=$?; rm -f -- ${pid}; exit $s`;
}

/** Values from people (refs, module names, paths) are checked before they get near a builder. */
export function assertSafeValue(field: string, value: string, pattern: RegExp, hint: string): string {
  if (!pattern.test(value) || value.startsWith('-')) {
    throw new UnsafeArgumentError(`${field} ${JSON.stringify(value.slice(0, 80))} is not allowed: ${hint}`);
  }
  return value;
}

// ---- the exec request and batches -------------------------------------------------------------------------
// sshd runs the exec request through the SSH user's login shell; the request replaces that shell at once with
// bash started with no startup files (--noprofile --norc) and without BASH_ENV/ENV (which a non-interactive bash or
// sh would source), so no rc file runs under the command. A wrapper (e.g. ['setsid'], ['flock', lockFile]) is
// prepended as argv, so a step can run in its own process group or under a host lock.

/** The exec request line for one shell script: `exec env -u BASH_ENV -u ENV [wrap…] bash --noprofile --norc -c <script>`. */
export function remoteShell(script: string, wrap: Argv = []): string {
  return ['exec', 'env', '-u', 'BASH_ENV', '-u', 'ENV', ...wrap, 'bash', '--noprofile', '--norc', '-c', script].map(quoteArg).join(' ');
}

/** One command of a batch: its exit code and output come back separately; a failure stops the batch unless allowed. */
export interface BatchStep {
  command: RemoteCommand;
  /** A non-zero exit is returned and the batch goes on. */
  allowFailure?: boolean;
  /** This step reads the exec's stdin (e.g. a secret); every other step reads /dev/null, so none can swallow it. */
  stdin?: boolean;
}

export const BATCH_NONCE = /^[0-9a-f]{32}$/;

/**
 * The script that runs a step's commands in one exec: after each command, a marker line `\n<nonce> <i> <exit>\n`
 * on stdout and on stderr. The nonce is random per exec, so no command's output can forge a marker.
 */
export function batchScript(steps: readonly BatchStep[], nonce: string): string {
  if (!BATCH_NONCE.test(nonce)) throw new UnsafeArgumentError('a batch nonce must be 32 hex digits');
  if (steps.length === 0) throw new UnsafeArgumentError('an empty batch cannot run');
  return steps
    .map((s, i) => {
      const mark = `printf '\\n%s %d %d\\n' ${nonce} ${i} "$rc"`;
      const stop = s.allowFailure ? '' : ` [ "$rc" -eq 0 ] || exit "$rc";`;
      return `( ${toShell(s.command)} )${s.stdin ? '' : ' </dev/null'}; rc=$?; ${mark}; ${mark} >&2;${stop}`;
    })
    .join('\n');
}

/** Splits one stream of a batch into each step's text (steps that did not run are absent). */
export function splitBatchOutput(text: string, nonce: string): { outputs: string[]; exitCodes: number[]; rest: string } {
  const outputs: string[] = [];
  const exitCodes: number[] = [];
  let rest = text;
  for (let i = 0; ; i++) {
    const m = new RegExp(`\\n${nonce} ${i} (\\d+)\\n`).exec(rest);
    if (!m) break;
    outputs.push(rest.slice(0, m.index));
    exitCodes.push(Number(m[1]));
    rest = rest.slice(m.index + m[0].length);
  }
  return { outputs, exitCodes, rest };
}
