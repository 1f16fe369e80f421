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
  // web: serves the app (switched, restarted and smoke-tested in the rolling order); primary: also runs the
  // database steps (backup, migration plan and run, invariants, feature flags) once for the environment.
  roles: z.array(z.enum(['web', 'primary'])).min(1, 'give the host at least one role: web, primary').default(['web']),
  // Where this host differs from the environment's app (several hosts on one machine, or per-host addresses).
  deployRoot: absolutePath.optional(),
  bind: z.string().regex(/^[0-9.]+:[0-9]+$/, 'host:port for Gunicorn to bind').optional(),
  baseUrl: z.string().url().optional(),
});

// ---- smoke checks (playbook §9) declared in the config: src/activities/http/smoke-checks.ts runs them --------

const checkPath = z.string().regex(/^\/[A-Za-z0-9._~\/?=&%:+,-]*$/, 'a URL path starting with "/"');
const checkBase = {
  name,
  /**
   * The check writes to the app (a POST: a deposit, a posting). Outside staging it runs only where the environment
   * allows writes (app.smokeWrites: smoke-tenant) and is marked "writes" in the deployment record.
   */
  writes: z.boolean().optional(),
};
/** GET a page: its status, and text it must contain. The default kind, so `{name, path}` is a page check. */
const pageCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('page').default('page'),
  path: checkPath,
  expectStatus: z.number().int().min(100).max(599).default(200),
  expectText: z.string().min(1).optional(),
});
const jsonScalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
/** GET a JSON answer and compare one field (a dotted path, array indexes as numbers) with the expected value. */
const jsonCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('json'),
  path: checkPath,
  expectStatus: z.number().int().min(100).max(599).default(200),
  field: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'a dotted path into the JSON answer, e.g. db or data.items.0.status'),
  equals: jsonScalar,
});
/**
 * A form login with Django's CSRF handshake: GET the form (the csrftoken cookie), POST the credentials with
 * csrfmiddlewaretoken; a redirect away from the login page is a success. Later checks run in that session.
 */
const loginCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('login'),
  path: checkPath.default('/login/'),
  username: z.string().min(1).max(150),
  password: secretRefSchema,
  usernameField: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/).default('username'),
  passwordField: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/).default('password'),
});
/** Files of the collectstatic manifest (staticfiles.json) must be served under their hashed names. */
const staticCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('static'),
  staticUrl: checkPath.default('/static/'),
  /** Where the manifest is served, relative to staticUrl. */
  manifest: z
    .string()
    .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'a file name under staticUrl, e.g. staticfiles.json')
    .refine((f) => !f.split('/').includes('..'), 'must not contain ".."')
    .default('staticfiles.json'),
  /** Source names to fetch (keys of the manifest's "paths"); none listed: the first `max` entries. */
  files: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z0-9._@+-]+(\/[A-Za-z0-9._@+-]+)*$/, 'a static file name as collectstatic lists it, e.g. css/app.css')
        .refine((f) => !f.split('/').includes('..'), 'a static file name as collectstatic lists it, without ".."'),
    )
    .optional(),
  max: z.number().int().min(1).max(500).default(20),
});
/** "No 500 on these pages": every path answers below 500. */
const noServerErrorsCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('no-server-errors'),
  paths: z.array(checkPath).min(1, 'list the pages that must not answer 5xx'),
});
/** A form POST (always a writing check): GET the form for the CSRF token, POST the fields, expect the status. */
const formCheck = z.strictObject({
  ...checkBase,
  kind: z.literal('form'),
  path: checkPath,
  fields: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'a form field name'), z.union([z.string().max(1000), z.array(z.string().max(1000))])),
  expectStatus: z.number().int().min(100).max(599).default(302),
  /** The redirect must start with this path (e.g. /deposits/). */
  expectLocation: checkPath.optional(),
});

const checkKinds = ['page', 'json', 'login', 'static', 'no-server-errors', 'form'] as const;
export const smokeCheckSchema = z.preprocess(
  // A check without a kind is a page check (the config's older form); an unknown kind is named, with the choices.
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('kind' in v) ? { ...v, kind: 'page' } : v),
  z.discriminatedUnion('kind', [pageCheck, jsonCheck, loginCheck, staticCheck, noServerErrorsCheck, formCheck], {
    error: (iss) => (iss.code === 'invalid_union' ? `kind must be one of ${checkKinds.join(', ')}` : undefined),
  }),
);
export type SmokeCheckConfig = z.infer<typeof smokeCheckSchema>;

// ---- the app contract: how Steward runs, checks and controls the app (docs/app-contract.md) ----------------

const pyModule = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'a dotted Python module path, e.g. mysite.settings.production');
/** A command run on the host in the release dir: an argv list, never a shell string. */
const argv = z
  .array(z.string().min(1).max(4096).regex(/^[^\0\n]*$/, 'no NUL or newline in an argument'))
  .min(1, 'an argv list: the program, then its arguments, e.g. ["supervisorctl", "restart", "web"]')
  .max(64);
const urlPath = z.string().regex(/^\/[A-Za-z0-9._~\/?=&%-]*$/, 'a URL path starting with "/"');

export const healthSchema = z
  .strictObject({
    path: urlPath.default('/healthz'),
    /** A JSON field of the answer that names the release dir serving it (releases/<id>): proves the new code serves. */
    releaseField: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a top-level JSON field name').optional(),
    /** Text the answer must contain, when the app cannot name its release. */
    expectText: z.string().min(1).optional(),
  })
  .refine((h) => h.releaseField !== undefined || h.expectText !== undefined, 'say what a healthy answer shows: releaseField (best: proves the new release serves) or expectText');

export const restartSchema = z.discriminatedUnion('strategy', [
  /** Steward's own Gunicorn master from a pid file (the demo): HUP when only code changed, a new master when the venv changed. */
  z.strictObject({ strategy: z.literal('gunicorn') }),
  /** A systemd unit: `reload` when only the code changed, `restart` when the venv changed; `sudo -n` when not root. */
  z.strictObject({ strategy: z.literal('systemd'), unit: z.string().regex(/^[A-Za-z0-9@._-]{1,200}\.service$/, 'a unit name ending in .service'), sudo: z.boolean().optional() }),
  /** Any argv, run in the new release dir (e.g. supervisorctl); `restart` when the venv changed, else `reload`. */
  z.strictObject({ strategy: z.literal('command'), reload: argv, restart: argv.optional() }),
]);

const builtinOrAbsent = z.enum(['builtin', 'absent'], { error: 'one of "builtin", "absent", or a command' });
export const invariantQuerySchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'lower-case letters, digits and "_"'),
  /** One read-only SELECT (run inside BEGIN READ ONLY … ROLLBACK): the rows that break the rule, e.g. unbalanced tenants. */
  query: z
    .string()
    .min(1)
    .max(10_000)
    .regex(/^\s*(select|with)\b[^;]*;?\s*$/i, 'one SELECT (or WITH … SELECT) statement, no ";" inside'),
  /** "no-rows": the query lists violations; or each row's column must equal the value (e.g. debits minus credits = 0). */
  expect: z.union([z.literal('no-rows'), z.strictObject({ column: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), equals: z.string() })]),
});

export const hooksSchema = z
  .strictObject({
    restart: restartSchema.default({ strategy: 'gunicorn' }),
    /** Maintenance mode (incidents): the demo's management command, an on/off pair of commands, or absent. */
    maintenance: z.union([builtinOrAbsent, z.strictObject({ on: argv, off: argv })]).default('builtin'),
    /** Module freeze (feature flags, §10.3.1). In commands, the argument "{module}" is replaced by the module name. */
    moduleFreeze: z.union([builtinOrAbsent, z.strictObject({ freeze: argv, unfreeze: argv })]).default('builtin'),
    /** Financial invariants before/after a deployment: the demo's command, read-only SQL queries, or absent. */
    invariants: z.union([builtinOrAbsent, z.strictObject({ sql: z.array(invariantQuerySchema).min(1, 'list at least one query') })]).default('builtin'),
  })
  .prefault({});

/**
 * Credentials for an HTTPS repo: a user name and a token by secret *reference*. The worker resolves the token and
 * sends it over the SSH channel's stdin to a git credential helper given with `git -c` for that one command, so it
 * never sits in a command line, a history, a log or the host's git config.
 */
export const repoCredentialsSchema = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9._@+-]{1,128}$/, 'a user name of letters, digits, ".", "_", "@", "+" or "-", e.g. x-access-token'),
  token: secretRefSchema,
});

export const appSchema = z.strictObject({
  // The URL lands in command lines, histories and the host's git config: it must carry no credentials. Hosts reach a
  // private repo with their own deploy key (ssh://git@...), a credential helper configured on the host, or
  // repoCredentials (a token by secret reference).
  repo: z
    .string()
    .min(1)
    .refine((r) => !/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(r) && !/^https?:\/\/[^/@\s]+@/i.test(r), {
      message: 'must not hold credentials (user:password@ or a token@): give app.repoCredentials {username, token: {file|env}}, a deploy key (ssh://git@host/repo.git) or a git credential helper',
    }),
  repoCredentials: repoCredentialsSchema.optional(),
  /** The WSGI callable for Gunicorn (restart strategy gunicorn). */
  wsgi: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$/, 'module:callable, e.g. mysite.wsgi:application').default('bankapp.wsgi:application'),
  workers: z.number().int().min(1).max(64).default(2),
  /** Where manage.py is, relative to the release dir (e.g. src/manage.py). */
  managePy: z
    .string()
    .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'a relative path inside the release, e.g. manage.py or src/manage.py')
    .refine((p) => !p.split('/').includes('..'), 'must not contain ".."')
    .default('manage.py'),
  health: healthSchema.default({ path: '/healthz', releaseField: 'release_dir' }),
  hooks: hooksSchema,
  deployRoot: absolutePath,
  python: z.string().regex(/^[A-Za-z0-9._\/-]+$/, 'a python executable name or absolute path').default('python3'),
  settingsModule: pyModule.default('bankapp.settings'),
  bind: z.string().regex(/^[0-9.]+:[0-9]+$/, 'host:port for Gunicorn to bind').optional(),
  baseUrl: z.string().url(),
  releasesToKeep: z.number().int().min(2).max(50).default(5),
  smokeUsers: z
    .strictObject({ tenant: name, maker: z.string().min(1), checker: z.string().min(1), password: secretRefSchema })
    .optional(),
  /** The built-in §9 checklist is the demo bank's (its pages, maker-checker, postings); "none": only the health check and smokeChecks. */
  smokeChecklist: z.enum(['banking-demo', 'none']).default('banking-demo'),
  /** Smoke checks that write (postings, payment requests) run outside staging only with "smoke-tenant"; default none. */
  smokeWrites: z.enum(['none', 'smoke-tenant']).default('none'),
  smokeChecks: z.array(smokeCheckSchema).default([]),
  stagingChecks: z.array(smokeCheckSchema).default([]),
});

export const databaseSchema = z.strictObject({
  name: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a PostgreSQL database name'),
  url: secretRefSchema,
  backupDir: absolutePath,
  protectedTables: z.array(z.string().regex(/^[a-z_][a-z0-9_]*$/)).optional(),
  // Where the PostgreSQL client programs (pg_dump, pg_restore, psql, createdb, dropdb) are on the host; default: PATH.
  pgBin: absolutePath.optional(),
  // Dump and restore timeouts are sized from pg_database_size and these figures (src/domain/timeouts.ts).
  timing: z
    .strictObject({
      dumpBytesPerSecond: z.number().positive().default(20 * 1024 * 1024),
      restoreBytesPerSecond: z.number().positive().default(10 * 1024 * 1024),
      safetyFactor: z.number().min(1).max(20).default(3),
      minMinutes: z.number().positive().max(24 * 60).default(10),
      maxHours: z.number().positive().max(14 * 24).default(24),
      migrateMinutes: z.number().positive().max(14 * 24 * 60).default(240),
      backupMaxAgeMinutes: z.number().positive().max(7 * 24 * 60).default(60),
      verifyFullBelowBytes: z.number().positive().default(20 * 1024 ** 3),
    })
    .prefault({}),
  // How a backup is verified: restored into a scratch database and its protected tables' row counts compared
  // (the database role needs CREATEDB), or only read as an archive (pg_restore --list).
  verifyRestore: z.enum(['scratch-database', 'archive-list']).default('scratch-database'),
});

export const rolloutSchema = z.strictObject({
  // Hosts switched and restarted together; each batch is health- and smoke-checked before the next one starts.
  batchSize: z.number().int().min(1).max(100).default(1),
});

export const environmentSchema = z
  .strictObject({
    hosts: z.array(hostSchema).min(1, 'list at least one host'),
    app: appSchema,
    database: databaseSchema,
    evidenceDir: absolutePath.optional(),
    rollout: rolloutSchema.prefault({}),
  })
  .superRefine((env, ctx) => {
    const names = new Set<string>();
    env.hosts.forEach((h, i) => {
      if (names.has(h.name)) ctx.addIssue({ code: 'custom', path: ['hosts', i, 'name'], message: `host name ${h.name} is used twice in this environment` });
      names.add(h.name);
    });
    if (env.app.repoCredentials && !/^https?:\/\//i.test(env.app.repo)) {
      ctx.addIssue({ code: 'custom', path: ['app', 'repoCredentials'], message: 'a user name and token work only for an http(s):// repo; for ssh:// give the hosts a deploy key instead' });
    }
    const primaries = env.hosts.map((h, i) => (h.roles.includes('primary') ? i : -1)).filter((i) => i >= 0);
    if (primaries.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['hosts', primaries[1]!, 'roles'], message: `only one host may be primary (host ${env.hosts[primaries[0]!]!.name} already is)` });
    }
    if (env.hosts.length > 1) {
      const seen = new Map<string, string>();
      env.hosts.forEach((h, i) => {
        const key = `${h.address} ${h.deployRoot ?? env.app.deployRoot}`;
        const other = seen.get(key);
        if (other) ctx.addIssue({ code: 'custom', path: ['hosts', i, 'deployRoot'], message: `host ${other} has the same address and deploy root: give each host on one machine its own deployRoot` });
        seen.set(key, h.name);
      });
    }
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
export type AppConfig = z.infer<typeof appSchema>;
export type RepoCredentials = z.infer<typeof repoCredentialsSchema>;
export type RestartHook = z.infer<typeof restartSchema>;
export type InvariantQuery = z.infer<typeof invariantQuerySchema>;

/** The primary host: the one marked primary, else the first (a one-host environment needs no roles). */
export function primaryHost(env: EnvironmentConfig): HostConfig {
  return env.hosts.find((h) => h.roles.includes('primary')) ?? env.hosts[0]!;
}
