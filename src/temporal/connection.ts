// The one place that says how Steward talks to Temporal: address, TLS (server CA, client certificate and key, server
// name), API key, and the data converter (payload codec + failure converter). The CLI, the worker and the activities'
// own client all build their connection from here, so a secured cluster is reached the same way by every process.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Client, Connection } from '@temporalio/client';
import type { DataConverter, Duration } from '@temporalio/common';
import type { StewardConfig } from '../config/schema';
import type { SecretRef } from '../config/secrets';
import { AesGcmPayloadCodec } from './codec';
import { diagnoseTls } from './tls-probe';

/** A connection setting that cannot be used: the message names the config field and what to do. */
export class TemporalConnectionError extends Error {
  override name = 'TemporalConnectionError';
}

export interface TemporalConnectionOptions {
  address: string;
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  };
  apiKey?: string;
}

function secretField(ref: SecretRef, field: string, env: NodeJS.ProcessEnv): string {
  // Loaded when a secret is needed, not with this module: it builds zod schemas, which the CLI's read-only verbs
  // otherwise never load (src/client/rpc.ts, read-config.ts).
  const { resolveSecret } = require('../config/secrets') as typeof import('../config/secrets');
  try {
    return resolveSecret(ref, env).reveal();
  } catch (err) {
    throw new TemporalConnectionError(`${field}: ${(err as Error).message}`);
  }
}

function pem(ref: SecretRef, field: string, kind: 'CERTIFICATE' | 'PRIVATE KEY', env: NodeJS.ProcessEnv): Buffer {
  const text = secretField(ref, field, env);
  const marker = kind === 'CERTIFICATE' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
  if (!marker.test(text)) throw new TemporalConnectionError(`${field}: not a PEM ${kind.toLowerCase()} (no "-----BEGIN ${kind}-----" line)`);
  return Buffer.from(`${text}\n`);
}

/** Resolves the secret references of temporal.tls and temporal.apiKey; checks the key belongs to the certificate. */
export function temporalConnectionOptions(config: StewardConfig, env: NodeJS.ProcessEnv = process.env): TemporalConnectionOptions {
  const t = config.temporal;
  const out: TemporalConnectionOptions = { address: t.address };
  if (t.tls) {
    const tls: NonNullable<TemporalConnectionOptions['tls']> = {};
    if (t.tls.serverName) tls.serverNameOverride = t.tls.serverName;
    if (t.tls.serverCa) tls.serverRootCACertificate = pem(t.tls.serverCa, 'temporal.tls.serverCa', 'CERTIFICATE', env);
    if (t.tls.clientCert && t.tls.clientKey) {
      const crt = pem(t.tls.clientCert, 'temporal.tls.clientCert', 'CERTIFICATE', env);
      const key = pem(t.tls.clientKey, 'temporal.tls.clientKey', 'PRIVATE KEY', env);
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(crt);
      } catch (err) {
        throw new TemporalConnectionError(`temporal.tls.clientCert: not a readable X.509 certificate (${(err as Error).message})`);
      }
      let privateKey;
      try {
        privateKey = createPrivateKey(key);
      } catch (err) {
        throw new TemporalConnectionError(`temporal.tls.clientKey: not a readable private key (${(err as Error).message})`);
      }
      if (!cert.checkPrivateKey(privateKey)) {
        throw new TemporalConnectionError(
          'temporal.tls.clientKey is not the private key of temporal.tls.clientCert; point both at the same key pair',
        );
      }
      tls.clientCertPair = { crt, key };
    }
    out.tls = tls;
  }
  if (t.apiKey) out.apiKey = secretField(t.apiKey, 'temporal.apiKey', env).trim();
  return out;
}

/** The data converter every client and the worker use: sealed payloads and failures when temporal.payloadCodec is set. */
export function stewardDataConverter(config: StewardConfig, env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const c = config.temporal.payloadCodec;
  if (!c) return undefined;
  return { payloadCodecs: [payloadCodecFor(config, env)!], failureConverterPath: require.resolve('./failure-converter') };
}

export function payloadCodecFor(config: StewardConfig, env: NodeJS.ProcessEnv = process.env): AesGcmPayloadCodec | undefined {
  const c = config.temporal.payloadCodec;
  if (!c) return undefined;
  const keys = c.keys.map((k, i) => {
    const field = `temporal.payloadCodec.keys.${i}.key`;
    const key = Buffer.from(secretField(k.key, field, env).trim(), 'base64');
    if (key.length !== 32) {
      throw new TemporalConnectionError(
        `${field} (id ${k.id}): holds ${key.length} bytes after base64 decoding; AES-256 needs 32 (make one with \`openssl rand -base64 32\`)`,
      );
    }
    return { id: k.id, key };
  });
  return new AesGcmPayloadCodec(keys, c.currentKeyId);
}

/** Words for a failed connect: what was tried and which setting to look at. */
export async function connectFailureMessage(config: StewardConfig, err: unknown, options?: TemporalConnectionOptions): Promise<string> {
  const t = config.temporal;
  const why = (err as Error)?.message ?? String(err);
  const how = t.tls ? `over TLS${t.tls.clientCert ? ' with a client certificate' : ''}` : 'without TLS';
  const probed = options ? await diagnoseTls(options).catch(() => undefined) : undefined;
  if (probed) return `cannot reach Temporal at ${t.address} ${how}: ${why}; ${probed}`;
  let hint: string;
  if (/UnknownIssuer|self.signed|unable to verify|certificate verify failed|BadSignature/i.test(why)) {
    hint = 'the server certificate is not signed by temporal.tls.serverCa: point it at the CA that issued the frontend certificate';
  } else if (/NotValidForName|hostname|alt.?name|does not match/i.test(why)) {
    hint = 'the server certificate is not issued for that name: set temporal.tls.serverName to the name in it';
  } else if (/certificate required|bad certificate|handshake|alert|400|No required SSL certificate|unknown ca/i.test(why)) {
    hint = 'the server refused the TLS handshake or the client certificate: check temporal.tls.clientCert and clientKey (the server must trust their issuer)';
  } else if (!t.tls && /http2|protocol|frame|EPROTO|wrong version|Unavailable/i.test(why)) {
    hint = 'if the cluster requires TLS, configure temporal.tls (and temporal.apiKey for Temporal Cloud)';
  } else {
    hint = 'check temporal.address, or start the local stack with `steward dev up`';
  }
  return `cannot reach Temporal at ${t.address} ${how}: ${why}. ${hint}`;
}

/** A Temporal client with Steward's connection settings and data converter. */
export async function connectTemporal(
  config: StewardConfig,
  opts: { env?: NodeJS.ProcessEnv; connectTimeout?: Duration } = {},
): Promise<Client> {
  const env = opts.env ?? process.env;
  const options = temporalConnectionOptions(config, env);
  const dataConverter = stewardDataConverter(config, env);
  // Loaded here, not at the top: the CLI's read-only verbs import this module for its options and never connect
  // with the SDK (src/client/rpc.ts), and the SDK client is most of their start-up time.
  const sdk = require('@temporalio/client') as typeof import('@temporalio/client');
  let connection: Connection;
  try {
    connection = await sdk.Connection.connect({ ...options, connectTimeout: opts.connectTimeout ?? '10s' });
  } catch (err) {
    throw new TemporalConnectionError(await connectFailureMessage(config, err, options));
  }
  return new sdk.Client({ connection, namespace: config.temporal.namespace, ...(dataConverter ? { dataConverter } : {}) });
}
