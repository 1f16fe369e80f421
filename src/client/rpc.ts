// The read-only verbs' Temporal client (`steward status`, `steward list`): two unary gRPC calls (QueryWorkflow,
// ListWorkflowExecutions) over node's own HTTP/2, with the same address, TLS, API key and payload codec as the SDK
// client (temporalConnectionOptions, payloadCodecFor). Why not @temporalio/client: loading it (and
// @temporalio/proto, its grpc-js and protobufjs) is most of a CLI call's time, and these verbs need none of it
// (bench/cli.ts; README "Performance"). Verbs that change something keep the SDK client (lifecycle-client.ts).
import http2 from 'node:http2';
import type { Command } from 'commander';
import { loadConfigCached } from './read-config';
import type { StewardConfig } from '../config/schema';
import { connectFailureMessage, payloadCodecFor, temporalConnectionOptions, TemporalConnectionError, type TemporalConnectionOptions } from '../temporal/connection';
import { CliError } from './errors';
import {
  decodeListWorkflowExecutionsResponse,
  decodeQueryWorkflowResponse,
  encodeListWorkflowExecutionsRequest,
  encodeQueryWorkflowRequest,
  text,
  type WireExecution,
  type WirePayload,
} from './wire';

/** gRPC status codes (grpc/doc/statuscodes.md) this client tells apart. */
export const GrpcStatus = { OK: 0, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, PERMISSION_DENIED: 7, FAILED_PRECONDITION: 9, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

/** A call the server answered with a non-OK gRPC status. */
export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const SERVICE = '/temporal.api.workflowservice.v1.WorkflowService/';

/** One HTTP/2 connection to the Temporal frontend; unary calls only. */
export class RpcConnection {
  private constructor(
    private readonly session: http2.ClientHttp2Session,
    private readonly headers: Record<string, string>,
  ) {}

  static connect(options: TemporalConnectionOptions, timeoutMs = 5000): Promise<RpcConnection> {
    const tls = options.tls;
    const authority = `${tls ? 'https' : 'http'}://${options.address}`;
    const headers: Record<string, string> = {};
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    return new Promise((resolve, reject) => {
      const session = http2.connect(authority, {
        ...(tls
          ? {
              ...(tls.serverRootCACertificate ? { ca: tls.serverRootCACertificate } : {}),
              ...(tls.clientCertPair ? { cert: tls.clientCertPair.crt, key: tls.clientCertPair.key } : {}),
              ...(tls.serverNameOverride ? { servername: tls.serverNameOverride } : {}),
              ALPNProtocols: ['h2'],
            }
          : {}),
      });
      const timer = setTimeout(() => {
        session.destroy();
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      session.once('connect', () => {
        clearTimeout(timer);
        session.removeAllListeners('error');
        session.on('error', () => undefined); // a broken session fails the call in flight, which says why
        resolve(new RpcConnection(session, headers));
      });
      session.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** One unary call: the request message's bytes in, the response message's bytes out, or an RpcError. */
  // No deadline unless asked for, as the SDK client does: the server bounds a query itself, and a worker that is
  // still starting (bundling its workflows on a loaded machine) answers later rather than never.
  unary(method: string, body: Uint8Array, metadata: Record<string, string> = {}, timeoutMs?: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const req = this.session.request({
        ':method': 'POST',
        ':path': `${SERVICE}${method}`,
        'content-type': 'application/grpc+proto',
        te: 'trailers',
        ...(timeoutMs ? { 'grpc-timeout': `${Math.ceil(timeoutMs)}m` } : {}),
        ...this.headers,
        ...metadata,
      });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message: string | undefined;
      const take = (h: http2.IncomingHttpHeaders) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) message = String(h['grpc-message']);
      };
      req.on('response', (h) => {
        take(h);
        const httpStatus = Number(h[':status']);
        if (httpStatus !== 200 && status === undefined) status = String(httpStatus === 401 ? GrpcStatus.UNAUTHENTICATED : httpStatus === 403 ? GrpcStatus.PERMISSION_DENIED : GrpcStatus.UNAVAILABLE);
      });
      req.on('trailers', take);
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', (err) => reject(err));
      req.on('end', () => {
        const code = Number(status ?? GrpcStatus.UNAVAILABLE);
        if (code !== GrpcStatus.OK) {
          let why = message ?? `gRPC status ${code}`;
          try {
            why = decodeURIComponent(why);
          } catch {
            // not percent-encoded: keep as is
          }
          reject(new RpcError(method, code, why));
          return;
        }
        const all = Buffer.concat(chunks);
        // Length-prefixed messages: 1 byte "compressed" flag, 4 bytes big-endian length.
        if (all.length < 5) return reject(new RpcError(method, GrpcStatus.UNAVAILABLE, 'an empty answer'));
        if (all[0] !== 0) return reject(new RpcError(method, GrpcStatus.UNAVAILABLE, 'a compressed answer (not asked for)'));
        const len = all.readUInt32BE(1);
        if (all.length < 5 + len) return reject(new RpcError(method, GrpcStatus.UNAVAILABLE, 'a truncated answer'));
        resolve(all.subarray(5, 5 + len));
      });
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      frame.set(body, 5);
      req.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }
}

/** QueryWorkflow and ListWorkflowExecutions in Steward's namespace, with its payload codec. */
export class ReadClient {
  constructor(
    readonly config: StewardConfig,
    private readonly rpc: RpcConnection,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  private get ns(): { 'temporal-namespace': string } {
    return { 'temporal-namespace': this.config.temporal.namespace };
  }

  /** A workflow query's answer, decoded as the SDK's default converter would (json/plain, after the codec). */
  async query<T>(workflowId: string, queryType: string): Promise<T> {
    const body = encodeQueryWorkflowRequest({ namespace: this.config.temporal.namespace, workflowId, queryType });
    const res = decodeQueryWorkflowResponse(await this.rpc.unary('QueryWorkflow', body, this.ns));
    if (res.rejectedStatus !== undefined) throw new RpcError('QueryWorkflow', GrpcStatus.FAILED_PRECONDITION, `the query was rejected (workflow status ${res.rejectedStatus})`);
    return (await this.decode(res.result[0])) as T;
  }

  /** One page of a visibility query. */
  async listPage(query: string, pageSize: number, nextPageToken?: Uint8Array): Promise<{ executions: WireExecution[]; nextPageToken?: Uint8Array }> {
    const body = encodeListWorkflowExecutionsRequest({ namespace: this.config.temporal.namespace, pageSize, query, ...(nextPageToken ? { nextPageToken } : {}) });
    return decodeListWorkflowExecutionsResponse(await this.rpc.unary('ListWorkflowExecutions', body, this.ns));
  }

  private async decode(p: WirePayload | undefined): Promise<unknown> {
    if (!p) return undefined;
    let payload = p;
    const codec = payloadCodecFor(this.config, this.env);
    if (codec) [payload] = (await codec.decode([payload])) as [WirePayload];
    const encoding = payload.metadata.encoding ? text(payload.metadata.encoding) : '';
    if (encoding === 'binary/null') return undefined;
    if (encoding !== 'json/plain') throw new CliError(`the answer is encoded as "${encoding || 'nothing'}", which this CLI cannot read (is temporal.payloadCodec set as the worker's?)`);
    return JSON.parse(text(payload.data));
  }

  close(): void {
    this.rpc.close();
  }
}

/** Connects with the config's address, TLS and API key; a failure names what to check (as connectClient does). */
export async function connectReadClient(config: StewardConfig, env: NodeJS.ProcessEnv = process.env): Promise<ReadClient> {
  let options: TemporalConnectionOptions;
  try {
    options = temporalConnectionOptions(config, env);
    payloadCodecFor(config, env); // a bad codec key is named now, not after the call
  } catch (err) {
    if (err instanceof TemporalConnectionError) throw new CliError(err.message);
    throw err;
  }
  try {
    return new ReadClient(config, await RpcConnection.connect(options), env);
  } catch (err) {
    throw new CliError(await connectFailureMessage(config, err, options));
  }
}

/** The config and a read client for one verb; the connection is closed after it. */
export async function withReadClient<T>(program: Command, fn: (ctx: { config: StewardConfig; client: ReadClient }) => Promise<T>): Promise<T> {
  const config = loadConfigCached(program.opts().config);
  const client = await connectReadClient(config);
  try {
    return await fn({ config, client });
  } catch (err) {
    // A TLS front (nginx) that refuses the client certificate answers the first call, not the connect: the probe
    // names the setting to fix, as it does for a refused connect.
    if (err instanceof RpcError && err.code === GrpcStatus.UNAVAILABLE) throw new CliError(await connectFailureMessage(config, err, temporalConnectionOptions(config)));
    throw err;
  } finally {
    client.close();
  }
}
