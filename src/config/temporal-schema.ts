// The `temporal` section of steward.config.yaml: where the cluster is and how Steward proves who it is (TLS with a
// client certificate, or an API key), and the payload codec that seals every payload before it leaves the process.
// Every secret here is a reference (file or env); src/temporal/connection.ts resolves them.
import { z } from 'zod';
import { secretRefSchema } from './secrets';

export const temporalTlsSchema = z
  .strictObject({
    /** The CA that signed the frontend's certificate; the system roots when left out (Temporal Cloud). */
    serverCa: secretRefSchema.optional(),
    /** mTLS: the client certificate and its private key (PEM), both or neither. */
    clientCert: secretRefSchema.optional(),
    clientKey: secretRefSchema.optional(),
    /** The name the frontend's certificate is issued for, when it differs from the host in temporal.address. */
    serverName: z
      .string()
      .regex(/^[A-Za-z0-9.-]+$/, 'a DNS name, e.g. temporal.bank.internal')
      .optional(),
  })
  .refine((t) => !!t.clientCert === !!t.clientKey, {
    message: 'give clientCert and clientKey together (mTLS), or neither',
    path: ['clientKey'],
  });

const keyId = z.string().regex(/^[A-Za-z0-9._-]{1,40}$/, 'a key id of letters, digits, ".", "_" or "-" (at most 40)');

export const payloadCodecSchema = z
  .strictObject({
    /** The key new payloads are sealed with. */
    currentKeyId: keyId,
    /** Every key that may still open a payload (rotation: add the new key, make it current, keep the old one). */
    keys: z
      .array(z.strictObject({ id: keyId, key: secretRefSchema }))
      .min(1, 'list at least one key: { id, key: { file | env } } holding 32 random bytes in base64'),
  })
  .refine((c) => new Set(c.keys.map((k) => k.id)).size === c.keys.length, { message: 'key ids must be unique', path: ['keys'] })
  .refine((c) => c.keys.some((k) => k.id === c.currentKeyId), {
    message: 'currentKeyId must be one of the ids listed under keys',
    path: ['currentKeyId'],
  });

/** `steward codec-server`: decodes payloads for the Temporal Web UI. */
export const codecServerSchema = z
  .strictObject({
    listen: z.string().regex(/^[0-9.]+:[0-9]+$/, 'address:port to listen on, e.g. 127.0.0.1:8888').default('127.0.0.1:8888'),
    /** The Web UI's origin (scheme://host:port): the only origin CORS lets call the endpoints. */
    uiOrigin: z.string().regex(/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]+)?$/, 'the Web UI origin, e.g. https://temporal-ui.bank.internal'),
    /**
     * Who may read sealed payloads: each person (an id of policy.people) with a token of their own by secret
     * reference, sent as "Authorization: Bearer <token>" or as the endpoint's first path segment. Every call is logged
     * (and audited, with an audit store) under the person's id.
     */
    readers: z
      .array(z.strictObject({ person: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'a person id from policy.people'), token: secretRefSchema }))
      .min(1, 'list at least one reader: { person: <id from policy.people>, token: { env: NAME } }')
      .optional(),
    /** Replaced by readers (a token per person); kept only to say so. */
    accessToken: z.unknown().optional(),
  })
  .superRefine((c, ctx) => {
    if (c.accessToken !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['accessToken'], message: 'a shared token is not accepted any more: give readers, a token per person ([{ person: carol, token: { env: STEWARD_CODEC_TOKEN_CAROL } }])' });
    } else if (!c.readers) {
      ctx.addIssue({ code: 'custom', path: ['readers'], message: 'list who may decode: readers: [{ person: <id from policy.people>, token: { env: NAME } }]' });
    }
    const seen = new Set<string>();
    (c.readers ?? []).forEach((r, i) => {
      if (seen.has(r.person)) ctx.addIssue({ code: 'custom', path: ['readers', i, 'person'], message: `${r.person} is listed twice` });
      seen.add(r.person);
    });
  });

export const temporalSchema = z
  .strictObject({
    address: z.string().regex(/^[A-Za-z0-9.-]+:[0-9]+$/, 'host:port of the Temporal frontend').default('127.0.0.1:7233'),
    namespace: z.string().min(1).default('default'),
    taskQueue: z.string().min(1).default('steward'),
    webUiUrl: z.string().url().default('http://127.0.0.1:8233'),
    tls: temporalTlsSchema.optional(),
    /** An API key (Temporal Cloud or an authorizer that takes bearer tokens); implies TLS. */
    apiKey: secretRefSchema.optional(),
    payloadCodec: payloadCodecSchema.optional(),
    codecServer: codecServerSchema.optional(),
  })
  .prefault({});

export type TemporalConfig = z.infer<typeof temporalSchema>;
