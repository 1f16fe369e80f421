// The codec server the Temporal Web UI calls to show sealed payloads: POST /encode and POST /decode with
// { payloads: [{ metadata, data }] } (proto3 JSON, base64 bytes). CORS allows only the configured UI origin, and every
// call passes an access check: "Authorization: Bearer <token>" (the UI's "pass access token" setting, or a proxy in
// front), or the token as the first path segment (an endpoint URL such as https://codec.bank.internal/<token>, for a UI
// without sign-in: only those who can load the UI learn it).
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AesGcmPayloadCodec } from './codec';
import { payloadFromJson, payloadToJson } from './codec';

export interface CodecServerOptions {
  codec: AesGcmPayloadCodec;
  uiOrigin: string;
  accessToken: string;
  /** Called for every refused or failed call (no payload content in it). */
  onRefusal?: (line: string) => void;
}

const MAX_BODY = 4 * 1024 * 1024;

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

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
    const given = bearer ?? pathToken;
    if (!given || !sameToken(given, opts.accessToken)) return refuse(401, 'missing or wrong access token');
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
          const out = op === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
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
