// The schema of steward.config.yaml. Every error names the field path (see load.ts).
import { z } from 'zod';
import { secretRefSchema } from './secrets';
import { temporalSchema } from './temporal-schema';

const name = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, "-" or "_", starting with a letter');
const absolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._\/-]*$/, 'an absolute path of letters, digits, ".", "_", "-" and "/" only')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".."');
const port = z.number().int().min(1).max(65535);
const hostKey = z
  .string()
  .regex(
    /^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/,
    'the pinned host key as "<type> <base64>", e.g. the first two fields of ssh_host_ed25519_key.pub',
  );

export const hostSchema = z.strictObject({
  name,
  address: z.string().regex(/^[A-Za-z0-9.:-]+$/, 'a host name or IP address'),
  port: port.default(22),
  user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a Unix user name'),
  privateKey: secretRefSchema,
  hostKey,
});

export const smokeCheckSchema = z.strictObject({
  name,
  path: z.string().regex(/^\/[A-Za-z0-9._~\/?=&%-]*$/, 'a URL path starting with "/"'),
  expectStatus: z.number().int().min(100).max(599).default(200),
  expectText: z.string().optional(),
});

export const appSchema = z.strictObject({
  // The URL lands in command lines, histories and the host's git config: it must carry no credentials. Hosts reach a
  // private repo with their own deploy key (ssh://git@...) or a credential helper configured on the host.
  repo: z
    .string()
    .min(1)
    .refine((r) => !/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(r) && !/^https?:\/\/[^/@\s]+@/i.test(r), {
      message: 'must not hold credentials (user:password@ or a token@): give the hosts a deploy key (ssh://git@host/repo.git) or a git credential helper',
    }),
  deployRoot: absolutePath,
  python: z.string().regex(/^[A-Za-z0-9._\/-]+$/, 'a python executable name or absolute path').default('python3'),
  settingsModule: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/).default('bankapp.settings'),
  bind: z.string().regex(/^[0-9.]+:[0-9]+$/, 'host:port for Gunicorn to bind').optional(),
  baseUrl: z.string().url(),
  releasesToKeep: z.number().int().min(2).max(50).default(5),
  smokeUsers: z
    .strictObject({ tenant: name, maker: z.string().min(1), checker: z.string().min(1), password: secretRefSchema })
    .optional(),
  smokeChecks: z.array(smokeCheckSchema).default([]),
  stagingChecks: z.array(smokeCheckSchema).default([]),
});

export const databaseSchema = z.strictObject({
  name: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a PostgreSQL database name'),
  url: secretRefSchema,
  backupDir: absolutePath,
  protectedTables: z.array(z.string().regex(/^[a-z_][a-z0-9_]*$/)).optional(),
});

export const environmentSchema = z.strictObject({
  hosts: z.array(hostSchema).min(1, 'list at least one host'),
  app: appSchema,
  database: databaseSchema,
  evidenceDir: absolutePath.optional(),
});

export const configSchema = z.strictObject({
  temporal: temporalSchema,
  audit: z
    .strictObject({
      databaseUrl: secretRefSchema,
      ownerUrl: secretRefSchema.optional(),
      /**
       * The chain head signed by the worker's own key at intervals, kept outside the database (files in `dir` and
       * the auditCheckpoint workflow's history); `steward audit verify` checks the rows against every checkpoint.
       */
      checkpoints: z
        .strictObject({
          key: secretRefSchema,
          publicKey: z.string().regex(/^(ssh-ed25519|ecdsa-sha2-nistp256) [A-Za-z0-9+/]+={0,3}( .*)?$/, 'the checkpoint key\'s public half, "ssh-ed25519 AAAA…"'),
          dir: absolutePath,
          everyMinutes: z.number().int().min(1).max(1440).default(15),
        })
        .optional(),
    })
    .optional(),
  // Validated by the policy core's own schema in load.ts, so the rules live in one place.
  policy: z.unknown().optional(),
  environments: z
    .record(name, environmentSchema)
    .refine((envs) => Object.keys(envs).length > 0, 'configure at least one environment'),
  reportsDir: absolutePath.optional(),
});

export type StewardConfig = z.infer<typeof configSchema>;
export type EnvironmentConfig = z.infer<typeof environmentSchema>;
export type HostConfig = z.infer<typeof hostSchema>;
