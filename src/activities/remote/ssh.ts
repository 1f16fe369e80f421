// The one small executor: runs RemoteCommands on a host over SSH with a pinned host key.
// Connections are pooled per host; commands are shell text produced by src/commands/shell.ts only.
import { Client, type ConnectConfig } from 'ssh2';
import type { HostConfig } from '../../config/schema';
import { redact } from '../../config/redact';
import { resolveSecret } from '../../config/secrets';
import { randomUUID } from 'node:crypto';
import { quoteArg, toShell, type RemoteCommand } from '../../commands/shell';
import { inProcessGroup, killProcessGroup, parseProcessGroup, processGroupFile, readProcessGroup, removeProcessGroupFile } from '../../commands/process';

export class HostKeyMismatchError extends Error {
  override name = 'HostKeyMismatchError';
}
export class RemoteCommandError extends Error {
  override name = 'RemoteCommandError';
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}
export class SshConnectionError extends Error {
  override name = 'SshConnectionError';
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface ExecOptions {
  /** Called with each chunk of output, e.g. to heartbeat. */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** Kept output is truncated to this many characters per stream (the head and the tail). */
  keepChars?: number;
  /** Keep all output (e.g. SQL that must be judged whole); more than MAX_WHOLE_CHARS fails the command instead of cutting it. */
  whole?: boolean;
  timeoutMs?: number;
  /** Non-zero exits are returned, not thrown. */
  allowFailure?: boolean;
  stdin?: string;
  /** Cancels the command (the activity's cancellation): its whole process group on the host is killed. */
  signal?: AbortSignal;
  /** Run in a process group of its own, killed on timeout or cancellation; default: when timeoutMs or signal is set. */
  group?: boolean;
}

/** How long a killed group has between TERM and KILL. */
const KILL_GRACE_MS = 3_000;

const DEFAULT_KEEP = 64 * 1024;
export const MAX_WHOLE_CHARS = 64 * 1024 * 1024;

function keep(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const half = Math.floor(limit / 2);
  return `${text.slice(0, half)}\n…[${text.length - limit} characters cut]…\n${text.slice(-half)}`;
}

export function pinnedKeyMatches(pinned: string, presented: Buffer): boolean {
  const [, base64] = pinned.split(' ');
  if (!base64) return false;
  const expected = Buffer.from(base64, 'base64');
  return expected.length === presented.length && expected.equals(presented);
}

interface PooledConnection {
  client: Client;
  ready: Promise<Client>;
}

export class SshPool {
  #connections = new Map<string, PooledConnection>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  #key(host: HostConfig): string {
    return `${host.user}@${host.address}:${host.port}/${host.hostKey}`;
  }

  connect(host: HostConfig): Promise<Client> {
    const key = this.#key(host);
    const existing = this.#connections.get(key);
    if (existing) return existing.ready;
    const client = new Client();
    const privateKey = resolveSecret(host.privateKey, this.env);
    // Forget this connection only while it is still the pooled one: a closing old connection must not drop the
    // new one that replaced it (several activities of one worker share the pool).
    const forget = () => {
      if (this.#connections.get(key)?.client === client) this.#connections.delete(key);
    };
    const ready = new Promise<Client>((resolve, reject) => {
      let presentedMismatch = false;
      const config: ConnectConfig = {
        host: host.address,
        port: host.port,
        username: host.user,
        privateKey: privateKey.reveal(),
        readyTimeout: 15_000,
        keepaliveInterval: 10_000,
        hostVerifier: (presented: Buffer) => {
          const ok = pinnedKeyMatches(host.hostKey, presented);
          if (!ok) presentedMismatch = true;
          return ok;
        },
      };
      client
        .once('ready', () => resolve(client))
        .once('error', (err: Error) => {
          forget();
          if (presentedMismatch) {
            reject(
              new HostKeyMismatchError(
                `host ${host.name} (${host.address}:${host.port}) presented a host key that does not match the pinned key; ` +
                  'refusing to connect. If the host was rebuilt, verify its new key out of band and update hostKey in the config',
              ),
            );
          } else {
            reject(new SshConnectionError(`cannot connect to host ${host.name} (${host.address}:${host.port}): ${err.message}`));
          }
        })
        .on('close', forget)
        .connect(config);
    });
    this.#connections.set(key, { client, ready });
    return ready;
  }

  /**
   * Kills a command's whole process group over a second channel: TERM, then KILL after a grace. Best effort (the
   * connection may be the thing that failed); what it did is returned for the error message.
   */
  async killGroup(host: HostConfig, pidFile: string): Promise<string> {
    try {
      const read = await this.exec(host, readProcessGroup(pidFile), { allowFailure: true, group: false });
      const pgid = parseProcessGroup(read.stdout);
      if (pgid === null) return 'no process group left to kill';
      await this.exec(host, killProcessGroup(pgid, 'TERM'), { allowFailure: true, group: false });
      await new Promise((r) => setTimeout(r, KILL_GRACE_MS));
      const left = await this.exec(host, killProcessGroup(pgid, 'KILL'), { allowFailure: true, group: false });
      await this.exec(host, removeProcessGroupFile(pidFile), { allowFailure: true, group: false });
      return `process group ${pgid} killed (TERM${left.exitCode === 0 ? ', then KILL' : ''})`;
    } catch (err) {
      return `could not kill the process group: ${(err as Error).message}`;
    }
  }

  async exec(host: HostConfig, command: RemoteCommand, opts: ExecOptions = {}): Promise<ExecResult> {
    const grouped = opts.group ?? (opts.timeoutMs !== undefined || opts.signal !== undefined);
    const pidFile = grouped ? processGroupFile(randomUUID()) : undefined;
    if (opts.signal?.aborted) throw new RemoteCommandError(`command on ${host.name} cancelled before it started`, null, '', '');
    const shell = toShell(pidFile ? inProcessGroup(command, pidFile) : command);
    const started = Date.now();
    const client = await this.connect(host);
    const limit = opts.whole ? Number.POSITIVE_INFINITY : (opts.keepChars ?? DEFAULT_KEEP);
    return new Promise<ExecResult>((resolve, reject) => {
      // bash for pipefail; -e is the command's business.
      client.exec(`bash -c ${quoteArg(shell)}`, (err, stream) => {
        if (err) {
          if (this.#connections.get(this.#key(host))?.client === client) this.#connections.delete(this.#key(host));
          client.end();
          reject(new SshConnectionError(`cannot start a command on host ${host.name}: ${err.message}`));
          return;
        }
        let stdout = '';
        let stderr = '';
        let overflowed = false;
        let timer: NodeJS.Timeout | undefined;
        let stopped = false;
        // Timeout or cancellation: the channel closes and the command's whole group on the host is killed (closing
        // the channel alone leaves it running: a migration would go on, and a retry would run it a second time).
        const stop = (why: string) => {
          if (stopped) return;
          stopped = true;
          if (timer) clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          stream.close();
          const killed = pidFile ? this.killGroup(host, pidFile) : Promise.resolve('');
          void killed.then((k) => reject(new RemoteCommandError(`command on ${host.name} ${why}${k ? `; ${k}` : ''}`, null, redact(keep(stdout, limit)), redact(keep(stderr, limit)))));
        };
        const onAbort = () => stop('was cancelled');
        if (opts.timeoutMs) timer = setTimeout(() => stop(`timed out after ${opts.timeoutMs} ms`), opts.timeoutMs);
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        stream.on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8');
          if (overflowed) return;
          stdout += text;
          if (opts.whole && stdout.length > MAX_WHOLE_CHARS) {
            overflowed = true;
            stdout = '';
            stream.close();
            reject(new RemoteCommandError(`command on ${host.name} printed more than ${MAX_WHOLE_CHARS} characters, which must be kept whole`, null, '', ''));
            return;
          }
          if (stdout.length > limit * 4) stdout = keep(stdout, limit * 2);
          opts.onOutput?.('stdout', redact(text));
        });
        stream.stderr.on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8');
          stderr += text;
          if (stderr.length > limit * 4) stderr = keep(stderr, limit * 2);
          opts.onOutput?.('stderr', redact(text));
        });
        stream.on('close', (code: number | null, signal?: string) => {
          if (timer) clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          if (stopped) return;
          // stderr is diagnostics and leaves the host as it is: redacted here; stdout is data the activity parses, redacted
          // where it leaves (the error below, the activity's result by the worker's redaction interceptor).
          const result = { exitCode: code ?? -1, stdout: keep(stdout, limit), stderr: redact(keep(stderr, limit)), durationMs: Date.now() - started };
          if (code === 0 || opts.allowFailure) resolve(result);
          else {
            const why = code === null || code === undefined ? `was cut off${signal ? ` by ${signal}` : ''}` : `exited with ${code}`;
            const tail = (result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n');
            reject(new RemoteCommandError(redact(`command on ${host.name} ${why}${tail ? `: ${tail}` : ''}`), code ?? null, redact(result.stdout), result.stderr));
          }
        });
        if (opts.stdin !== undefined) stream.end(opts.stdin);
        else stream.end();
      });
    });
  }

  close(): void {
    for (const { client } of this.#connections.values()) client.end();
    this.#connections.clear();
  }
}

