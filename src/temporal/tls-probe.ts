// When a TLS connection to Temporal fails, the SDK says only "Failed to connect". This probe dials the frontend
// again with node's own TLS and HTTP/2 and the same settings, and says which setting is wrong.
import http2 from 'node:http2';
import type { TemporalConnectionOptions } from './connection';

export async function diagnoseTls(options: TemporalConnectionOptions, timeoutMs = 3000): Promise<string | undefined> {
  if (!options.tls && !options.apiKey) return undefined;
  const i = options.address.lastIndexOf(':');
  const host = options.address.slice(0, i);
  const tls = options.tls ?? {};
  return new Promise<string | undefined>((resolve) => {
    let done = false;
    const finish = (why: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const session = http2.connect(`https://${options.address}`, {
      servername: tls.serverNameOverride ?? host,
      ...(tls.serverRootCACertificate ? { ca: tls.serverRootCACertificate } : {}),
      ...(tls.clientCertPair ? { cert: tls.clientCertPair.crt, key: tls.clientCertPair.key } : {}),
    });
    session.on('error', (err: NodeJS.ErrnoException) => finish(explain(err.code ?? '', err.message, tls)));
    session.on('connect', () => {
      const req = session.request({ ':method': 'POST', ':path': '/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo', 'content-type': 'application/grpc', te: 'trailers' });
      let status = 0;
      let body = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('error', (err: NodeJS.ErrnoException) => finish(explain(err.code ?? '', err.message, tls)));
      req.on('end', () => {
        // nginx answers a handshake without (or with a refused) client certificate with a plain HTTP 400 page.
        if (/No required SSL certificate/i.test(body)) finish('the server requires a client certificate: set temporal.tls.clientCert and temporal.tls.clientKey');
        else if (/SSL certificate error/i.test(body)) finish('the server refused the client certificate (not issued by a CA it trusts): check temporal.tls.clientCert');
        else if (status >= 400) finish(`the TLS front answered HTTP ${status}`);
        else finish(undefined);
      });
      req.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
}

function explain(code: string, message: string, tls: NonNullable<TemporalConnectionOptions['tls']>): string {
  if (/UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER|CERT_SIGNATURE_FAILURE/.test(code)) {
    return `the server certificate is not signed by ${tls.serverRootCACertificate ? 'temporal.tls.serverCa' : 'a system CA'} (${code}): point temporal.tls.serverCa at the CA that issued the frontend certificate`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the server certificate is not issued for that name (${message}): set temporal.tls.serverName to the name in it`;
  if (/CERTIFICATE_REQUIRED/.test(code)) return 'the server requires a client certificate: set temporal.tls.clientCert and temporal.tls.clientKey';
  if (/BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|DECRYPT_ERROR/.test(code)) return `the server refused the client certificate (${code}): check temporal.tls.clientCert and temporal.tls.clientKey`;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH/.test(code)) return 'the server does not speak TLS on that port: remove temporal.tls or fix temporal.address';
  return `TLS probe: ${code || message}`;
}
