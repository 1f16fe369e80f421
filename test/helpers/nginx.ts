// A real mTLS terminator for tests: Debian's nginx with grpc_pass in front of the dev server's frontend, and an
// openssl-made PKI (X.509 v3: the Rust core refuses v1). Installed with apt when missing (CI starts bare); started
// in the foreground and stopped by its pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const NGINX = '/usr/sbin/nginx';

export function ensureNginx(): string {
  if (existsSync(NGINX)) return NGINX;
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx'], { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  let r = install();
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { encoding: 'utf8' });
    r = install();
  }
  if (r.status !== 0 || !existsSync(NGINX)) throw new Error(`cannot install nginx with apt-get: ${r.stderr}`);
  return NGINX;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA nobody trusts, and a client certificate it issued. */
  rogueCa: string;
  rogueClientCert: string;
  rogueClientKey: string;
  /** A key that belongs to no certificate here. */
  strayKey: string;
  serverName: string;
}

/** The same commands the README gives for a cluster's certificates (scripts/make-temporal-certs.sh does it too). */
export function makePki(dir: string, serverName = 'temporal.steward.test'): Pki {
  mkdirSync(dir, { recursive: true });
  const key = (name: string) => openssl(['genpkey', '-algorithm', 'ed25519', '-out', `${name}.key`], dir);
  const ca = (name: string, cn: string) => {
    key(name);
    writeFileSync(path.join(dir, `${name}.ext`), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-signkey', `${name}.key`, '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  };
  const leaf = (name: string, issuer: string, cn: string, ext: string) => {
    key(name);
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  };
  ca('ca', 'Steward test CA');
  leaf('server', 'ca', serverName, `basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${serverName},IP:127.0.0.1\n`);
  leaf('client', 'ca', 'steward-worker', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  ca('rogue-ca', 'Rogue CA');
  leaf('rogue-client', 'rogue-ca', 'steward-worker', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  key('stray');
  const p = (f: string) => path.join(dir, f);
  return {
    dir,
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    rogueCa: p('rogue-ca.pem'),
    rogueClientCert: p('rogue-client.pem'),
    rogueClientKey: p('rogue-client.key'),
    strayKey: p('stray.key'),
    serverName,
  };
}

export interface RunningNginx {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nginx did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** nginx in the foreground (daemon off), terminating mTLS on `port` and passing gRPC to `upstream`. */
export async function startNginx(pki: Pki, port: number, upstream: string): Promise<RunningNginx> {
  const nginx = ensureNginx();
  const prefix = path.join(pki.dir, 'nginx');
  mkdirSync(path.join(prefix, 'logs'), { recursive: true });
  const conf = path.join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process on;
worker_processes 1;
user root;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log ${prefix}/logs/access.log;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${pki.serverCert};
    ssl_certificate_key ${pki.serverKey};
    ssl_client_certificate ${pki.ca};
    ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      grpc_pass grpc://${upstream};
      grpc_read_timeout 120s;
      grpc_send_timeout 120s;
    }
  }
}
`,
  );
  const child = spawn(nginx, ['-p', prefix, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([waitForPort(port, 10_000), exited.then(() => Promise.reject(new Error(`nginx exited: ${stderr}`)))]);
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }
  return {
    port,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // SIGQUIT: graceful shutdown of the master and its worker.
      process.kill(child.pid!, 'SIGQUIT');
      const t = setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
