// The one small executor: runs RemoteCommands on a host over SSH with a pinned host key.
// Connections are pooled per host; commands are shell text produced by src/commands/shell.ts only.
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, type ConnectConfig } from 'ssh2';
import type { HostConfig } from '../../config/schema';
import { redact } from '../../config/redact';
import { resolveSecret } from '../../config/secrets';
import { batchScript, inProcessGroupScript, remoteShell, splitBatchOutput, toShell, type Argv, type BatchStep, type RemoteCommand } from '../../commands/shell';
import { killProcessGroup, parseProcessGroup, processGroupFile, readProcessGroup, removeProcessGroupFile } from '../../commands/process';

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
    /** In a batch: the place (0-based) of the command that failed, and the results of every command that ran. */
    readonly step?: number,
    readonly steps?: readonly StepResult[],
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
  /** Argv the remote shell runs under (e.g. setsid, flock): prepended to the exec request, never shell text. */
  wrap?: Argv;
}

export type BatchOptions = Omit<ExecOptions, 'allowFailure'>;

export interface StepResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface BatchResult {
  steps: StepResult[];
  durationMs: number;
}

interface RawResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
}

function failure(host: HostConfig, code: number | null | undefined, signal: string | undefined, stdout: string, stderr: string, where = '', step?: number, steps?: StepResult[]): RemoteCommandError {
  const why = code === null || code === undefined ? `was cut off${signal ? ` by ${signal}` : ''}` : `exited with ${code}`;
  const tail = (stderr || stdout).trim().split('\n').slice(-5).join('\n');
  return new RemoteCommandError(redact(`command on ${host.name}${where} ${why}${tail ? `: ${tail}` : ''}`), code ?? null, redact(stdout), stderr, step, steps);
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

  /** Whether a command gets a process group of its own (and the pid file it writes its group id to). */
  #groupFile(opts: ExecOptions): string | undefined {
    const grouped = opts.group ?? (opts.timeoutMs !== undefined || opts.signal !== undefined);
    return grouped ? processGroupFile(randomUUID()) : undefined;
  }

  /** One command in one exec (one channel on the pooled connection). */
  async exec(host: HostConfig, command: RemoteCommand, opts: ExecOptions = {}): Promise<ExecResult> {
    const limit = opts.whole ? Number.POSITIVE_INFINITY : (opts.keepChars ?? DEFAULT_KEEP);
    const pidFile = this.#groupFile(opts);
    const script = toShell(command);
    const r = await this.#request(host, remoteShell(pidFile ? inProcessGroupScript(script, pidFile) : script, opts.wrap), opts, limit, pidFile);
    const result = { exitCode: r.code ?? -1, stdout: keep(r.stdout, limit), stderr: redact(keep(r.stderr, limit)), durationMs: r.durationMs };
    if (r.code === 0 || opts.allowFailure) return result;
    throw failure(host, r.code, r.signal, result.stdout, result.stderr);
  }

  /**
   * A step's commands in ONE exec (one channel, one remote shell), each with its own exit code and output; the
   * first failure that is not allowed stops the batch and throws, naming the command's place in the batch. With a
   * timeout or a cancellation signal the whole batch runs in one process group, killed whole like a single command.
   */
  async execBatch(host: HostConfig, steps: readonly BatchStep[], opts: BatchOptions = {}): Promise<BatchResult> {
    const nonce = randomBytes(16).toString('hex');
    const limit = opts.whole ? Number.POSITIVE_INFINITY : (opts.keepChars ?? DEFAULT_KEEP);
    const pidFile = this.#groupFile(opts);
    const script = batchScript(steps, nonce);
    // Output is split by the markers first, then each step's part is cut to the limit: never cut across a marker.
    const r = await this.#request(host, remoteShell(pidFile ? inProcessGroupScript(script, pidFile) : script, opts.wrap), { ...opts, whole: true }, Number.POSITIVE_INFINITY, pidFile);
    const out = splitBatchOutput(r.stdout, nonce);
    const err = splitBatchOutput(r.stderr, nonce);
    const results: StepResult[] = out.exitCodes.map((code, i) => ({
      exitCode: code,
      stdout: keep(out.outputs[i]!, limit),
      stderr: redact(keep(err.outputs[i] ?? '', limit)),
    }));
    const ran = results.length;
    const failedAt = results.findIndex((x, i) => x.exitCode !== 0 && !steps[i]!.allowFailure);
    if (failedAt >= 0 || ran < steps.length) {
      // A step failed (the batch stopped there), or the remote shell ended before a marker (cut off, or killed).
      const at = failedAt >= 0 ? failedAt : ran;
      const x = results[at];
      const code = x ? x.exitCode : r.code;
      const stdout = x ? x.stdout : keep(out.rest, limit);
      const stderr = x ? x.stderr : redact(keep(err.rest, limit));
      throw failure(host, code, r.signal, stdout, stderr, ` (command ${at + 1} of ${steps.length} in the batch)`, at, results);
    }
    return { steps: results, durationMs: r.durationMs };
  }

  /** Runs one exec request line on a pooled connection and collects its output. */
  async #request(host: HostConfig, line: string, opts: ExecOptions, limit: number, pidFile?: string): Promise<RawResult> {
    if (opts.signal?.aborted) throw new RemoteCommandError(`command on ${host.name} cancelled before it started`, null, '', '');
    const started = Date.now();
    const client = await this.connect(host);
    return new Promise<RawResult>((resolve, reject) => {
      client.exec(line, (err, stream) => {
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
          else if (opts.whole && stderr.length > MAX_WHOLE_CHARS) stderr = keep(stderr, DEFAULT_KEEP);
          opts.onOutput?.('stderr', redact(text));
        });
        stream.on('close', (code: number | null, signal?: string) => {
          if (timer) clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          if (stopped) return;
          // stderr is diagnostics and leaves the host as it is: redacted by the callers; stdout is data the activity
          // parses, redacted where it leaves (the error, the activity's result by the worker's redaction interceptor).
          resolve({ code: code ?? null, signal, stdout, stderr, durationMs: Date.now() - started });
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

