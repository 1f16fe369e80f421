// The codec server the Temporal Web UI calls to show sealed payloads: POST /encode and POST /decode with
// { payloads: [{ metadata, data }] } (proto3 JSON, base64 bytes). CORS allows only the configured UI origin, and every
// call passes an access check against the configured readers, each a person with a token of their own:
// "Authorization: Bearer <token>" (a proxy in front, or a client), or the token as the first path segment (the
// per-browser codec endpoint https://codec.bank.internal/<token> each person sets in the Web UI). Tokens are compared
// in constant time (sha256 of both, timingSafeEqual, every reader tried). Every answered call is reported by person
// (onCall: operation, payload count, key ids; never payload content) before the answer goes out, so a decode that
// cannot be audited is not answered.
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AesGcmPayloadCodec } from './codec';
import { KEY_ID_METADATA, payloadFromJson, payloadToJson } from './codec';

export interface CodecReader {
  person: string;
  token: string;
}

/** One answered call, as it is logged and audited: who, what, how many; no payload content. */
export interface CodecCall {
  person: string;
  op: 'encode' | 'decode';
  payloads: number;
  keyIds: string[];
  namespace?: string;
  origin?: string;
}

export interface CodecServerOptions {
  codec: AesGcmPayloadCodec;
  uiOrigin: string;
  readers: readonly CodecReader[];
  /** Called for every refused or failed call (no payload content in it). */
  onRefusal?: (line: string) => void;
  /** Called for every call that passed the check, before it is answered; a throw answers 503 instead. */
  onCall?: (call: CodecCall) => void | Promise<void>;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The reader whose token this is, compared in constant time whatever the lengths, trying every reader. */
export function readerFor(given: string | undefined, readers: readonly CodecReader[]): CodecReader | undefined {
  if (!given) return undefined;
  const g = digest(given);
  let found: CodecReader | undefined;
  for (const r of readers) if (timingSafeEqual(g, digest(r.token)) && !found) found = r;
  return found;
}

const MAX_BODY = 4 * 1024 * 1024;

export function codecRequestHandler(opts: CodecServerOptions): http.RequestListener {
  return (req, res) => {
    const origin = req.headers.origin;
    const refuse = (status: number, why: string) => {
      opts.onRefusal?.(`${req.method} ${req.url?.replace(/^\/[^/]+\/(encode|decode)/, '/…/$1')} refused (${status}): ${why}`);
      res.writeHead(status, { 'content-type': 'text/plain', ...(origin === opts.uiOrigin ? { 'access-control-allow-origin': opts.uiOrigin, vary: 'Origin' } : {}) });
      res.end(`${why}\n`);
    };
    if (origin !== undefined && origin !== opts.uiOrigin) return refuse(403, 'origin not allowed');
    const cors = origin ? { 'access-control-allow-origin': opts.uiOrigin, vary: 'Origin', 'access-control-allow-credentials': 'true' } : {};
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'content-type, x-namespace, authorization',
        'access-control-max-age': '600',
      });
      return res.end();
    }
    const url = new URL(req.url ?? '/', 'http://codec');
    const parts = url.pathname.split('/').filter(Boolean);
    const op = parts[parts.length - 1];
    const pathToken = parts.length === 2 ? parts[0]! : undefined;
    if (parts.length > 2 || (op !== 'encode' && op !== 'decode')) return refuse(404, 'POST /encode or /decode');
    if (req.method !== 'POST') return refuse(405, 'POST only');
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const reader = readerFor(bearer ?? pathToken, opts.readers);
    if (!reader) return refuse(401, 'missing or unknown access token: use the token Steward gave you (codecServer.readers)');
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payloads?: unknown };
          if (!Array.isArray(body.payloads)) return refuse(400, 'the body must be { "payloads": [ ... ] }');
          const payloads = body.payloads.map(payloadFromJson);
          const keyIds = [...new Set(payloads.map((p) => p.metadata?.[KEY_ID_METADATA]).filter((v): v is Uint8Array => !!v).map((v) => Buffer.from(v).toString('utf8')))].sort();
          const namespace = typeof req.headers['x-namespace'] === 'string' ? req.headers['x-namespace'] : undefined;
          const out = op === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
          try {
            await opts.onCall?.({ person: reader.person, op, payloads: payloads.length, keyIds, ...(namespace ? { namespace } : {}), ...(origin ? { origin } : {}) });
          } catch (err) {
            opts.onRefusal?.(`${op} by ${reader.person} not answered: it could not be recorded (${(err as Error).message})`);
            res.writeHead(503, { ...cors, 'content-type': 'text/plain' });
            return res.end('the call could not be recorded in the audit log; try again later\n');
          }
          res.writeHead(200, { ...cors, 'content-type': 'application/json' });
          res.end(JSON.stringify({ payloads: out.map(payloadToJson) }));
        } catch (err) {
          refuse(400, (err as Error).name === 'PayloadCodecError' ? (err as Error).message : 'the body is not valid JSON payloads');
        }
      })();
    });
  };
}

export async function startCodecServer(opts: CodecServerOptions & { listen: string }): Promise<{ server: http.Server; url: string; close(): Promise<void> }> {
  const [host, port] = [opts.listen.slice(0, opts.listen.lastIndexOf(':')), Number(opts.listen.slice(opts.listen.lastIndexOf(':') + 1))];
  const server = http.createServer(codecRequestHandler(opts));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    url: `http://${opts.listen}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
