// A real smart-HTTP git remote for tests: git's own `git http-backend` (CGI) behind a small Node HTTP server that
// asks for HTTP Basic auth. A request without the right user name and token gets 401 and never reaches git. On every
// authorised request it looks at the command line of every process on the machine (what `ps` shows) and remembers
// whether the token was in one: the fetch is running at that moment, so a token passed in argv would be seen.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHttpServer {
  url: (repoName: string) => string;
  /** Requests answered 401 / passed to git. */
  counts: { refused: number; served: number };
  /** Processes whose command line held the token while a fetch was served. */
  tokenInArgv: string[];
  close(): Promise<void>;
}

function commandLinesHolding(needle: string): string[] {
  const hits: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (argv.includes(needle)) hits.push(`${pid}: ${argv.slice(0, 200)}`);
    } catch {
      // gone meanwhile
    }
  }
  return hits;
}

/** Serves the bare repos under `projectRoot` (read-only: receive-pack is off) to `username`:`token` only. */
export async function startGitHttpServer(projectRoot: string, username: string, token: string): Promise<GitHttpServer> {
  const counts = { refused: 0, served: 0 };
  const tokenInArgv: string[] = [];
  const expected = `Basic ${Buffer.from(`${username}:${token}`).toString('base64')}`;
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      counts.refused++;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="steward-test"' }).end('authentication required\n');
      return;
    }
    counts.served++;
    tokenInArgv.push(...commandLinesHolding(token));
    const url = new URL(req.url ?? '/', 'http://localhost');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.replace(/^\?/, ''),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: username,
        REMOTE_ADDR: req.socket.remoteAddress ?? '',
        GIT_CONFIG_NOSYSTEM: '1',
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin!);
    // CGI output: headers, a blank line, the body.
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout!.on('data', (chunk: Buffer) => {
      if (headersDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n') >= 0 ? head.indexOf('\r\n\r\n') : head.indexOf('\n\n');
      if (end < 0) return;
      const sep = head[end] === 0x0d ? 4 : 2;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      headersDone = true;
      res.write(head.subarray(end + sep));
    });
    cgi.once('close', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (repoName) => `http://127.0.0.1:${port}/${repoName}`,
    counts,
    tokenInArgv,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
