/**
 * The policy configuration (the `policy:` section of steward.config.yaml): people and roles, quorum,
 * deployment windows, freezes, protected tables, time zone. Defaults follow DESIGN.md "Policy defaults".
 * Overrides may make the policy stricter, never weaker: a weakening is refused with an error naming the field.
 */
import { z } from 'zod';
import { PolicyConfigError, type FieldIssue } from './errors';
import { ENVIRONMENTS, PERSON_ID_RE, RISK_LEVELS, ROLES, type Environment, type RiskLevel, type Role } from './types';
import { isValidTimeZone, wallToInstant } from './time';
import { digestOf } from './canonical';
import { normalisePublicKey, SshSigError } from './sshsig';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const DEFAULT_PROTECTED_TABLES = [
  'fin_account',
  'fin_journal_entry',
  'fin_journal_line',
  'fin_deposit',
  'fin_loan',
  'audit_log',
] as const;

/** Signoff counts required per risk level (approvals by role, plus standard reviews). */
export interface QuorumRule {
  approver: number;
  reviewer: number;
  auditor: number;
}
export type QuorumTable = Record<RiskLevel, QuorumRule>;

/** Playbook §5 / DESIGN: Low 1 approver; Medium 1 reviewer + 1 approver; High 2 approvers; Critical 2 approvers + 1 auditor. */
export const DEFAULT_QUORUM: Readonly<QuorumTable> = Object.freeze({
  low: { approver: 1, reviewer: 0, auditor: 0 },
  medium: { approver: 1, reviewer: 1, auditor: 0 },
  high: { approver: 2, reviewer: 0, auditor: 0 },
  critical: { approver: 2, reviewer: 0, auditor: 1 },
});

export const DEFAULT_BLACKOUT = Object.freeze([
  Object.freeze({ fromDay: 'fri' as Weekday, fromTime: '16:00', toDay: 'mon' as Weekday, toTime: '06:00' }),
]);

const TIME_RE = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
const ISO_INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_LOCAL_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

const personSchema = z.strictObject({
  id: z.string().regex(PERSON_ID_RE, {
    error: 'must be a person id: lower-case letter first, then 1-63 of a-z 0-9 . _ - (e.g. "alice.smith")',
  }),
  name: z.string().trim().min(1, { error: 'must be a non-empty display name' }).max(200),
  roles: z
    .array(z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }))
    .min(1, { error: `must list at least one role (${ROLES.join(', ')})` })
    .max(ROLES.length),
  /** The person's OpenSSH public keys (allowed_signers style): the signature is the identity (DESIGN "Trust model"). */
  keys: z
    .array(
      z.string().superRefine((k, ctx) => {
        try {
          normalisePublicKey(k);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: err instanceof SshSigError ? err.message : 'not an OpenSSH public key' });
        }
      }),
    )
    .max(20)
    .default([]),
});

const blackoutSchema = z.strictObject({
  fromDay: z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(', ')}` }),
  fromTime: z.string().regex(TIME_RE, { error: 'must be a 24-hour time HH:MM, e.g. "16:00"' }),
  toDay: z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(', ')}` }),
  toTime: z.string().regex(TIME_RE, { error: 'must be a 24-hour time HH:MM, e.g. "06:00"' }),
});

const freezeTimeSchema = z
  .string()
  .refine((s) => ISO_INSTANT_RE.test(s) || ISO_DATE_RE.test(s) || ISO_LOCAL_RE.test(s), {
    error:
      'must be an ISO date "2025-12-24" or date-time "2025-12-24T18:00" (both in policy.timeZone) or an instant with offset "2025-12-24T18:00:00Z"',
  });

const freezeSchema = z.strictObject({
  from: freezeTimeSchema,
  to: freezeTimeSchema,
  reason: z.string().trim().min(1, { error: 'must say why deployments are frozen' }).max(500),
  environments: z
    .array(z.enum(ENVIRONMENTS, { error: `must be one of ${ENVIRONMENTS.join(', ')}` }))
    .min(1)
    .optional(),
});

const countSchema = z.number().int({ error: 'must be a whole number' }).min(0).max(10);
const quorumRuleSchema = z.strictObject({
  approver: countSchema.optional(),
  reviewer: countSchema.optional(),
  auditor: countSchema.optional(),
});

const rawPolicySchema = z.strictObject({
  timeZone: z
    .string()
    .refine((tz) => isValidTimeZone(tz), { error: 'must be an IANA time zone such as "Europe/London"' })
    .default('Europe/London'),
  people: z.array(personSchema).max(1000).default([]),
  approvalTtlHours: z.number().positive({ error: 'must be a positive number of hours' }).max(720).default(72),
  approvalReminderHours: z.number().positive({ error: 'must be a positive number of hours' }).max(720).default(24),
  hotfixFullReviewDays: z.number().int({ error: 'must be a whole number of days' }).min(1).max(30).default(5),
  windows: z
    .strictObject({
      blackout: z
        .array(blackoutSchema)
        .min(1, {
          error: 'must list at least one blackout (an empty list would remove the "not on Friday night" control, §15)',
        })
        .max(50)
        .default(() => DEFAULT_BLACKOUT.map((b) => ({ ...b }))),
      blockedEnvironments: z
        .array(z.enum(ENVIRONMENTS, { error: `must be one of ${ENVIRONMENTS.join(', ')}` }))
        .default(['production']),
    })
    .prefault({}),
  freezes: z.array(freezeSchema).max(500).default([]),
  /** How old a signed statement may be when it reaches the workflow (freshness; replays are refused by nonce). */
  signatureMaxAgeMinutes: z.number().positive().max(60, { error: 'must be at most 60 minutes' }).default(10),
  /**
   * Who may take the decisions a running deployment waits for (§6.2 destructive migration, §10.3 restore, manual
   * reversal steps) and who may order a deployment directly, outside a change (a signed direct order). Never the
   * proposer or implementer. Defaults: dba; approver, auditor or dba (both); emergency-approver (direct order).
   */
  decisionRoles: z
    .strictObject({
      destructiveMigration: z.array(z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` })).min(1).optional(),
      restore: z.array(z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` })).min(1).optional(),
      manualStep: z.array(z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` })).min(1).optional(),
      orderDeployment: z.array(z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` })).min(1).optional(),
    })
    .default({}),
  protectedTables: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$/, { error: 'must be a table name, optionally schema-qualified' }))
    .max(1000)
    .default([]),
  quorum: z
    .strictObject({
      low: quorumRuleSchema.optional(),
      medium: quorumRuleSchema.optional(),
      high: quorumRuleSchema.optional(),
      critical: quorumRuleSchema.optional(),
    })
    .default({}),
});

export interface PersonConfig {
  id: string;
  name: string;
  roles: Role[];
  /** Normalised "<type> <base64>" public keys. */
  keys: string[];
}

export type DecisionKind = 'destructiveMigration' | 'restore' | 'manualStep' | 'orderDeployment';
export const DECISION_KINDS: readonly DecisionKind[] = ['destructiveMigration', 'restore', 'manualStep', 'orderDeployment'];
export const DEFAULT_DECISION_ROLES: Readonly<Record<DecisionKind, readonly Role[]>> = Object.freeze({
  destructiveMigration: ['dba'],
  restore: ['approver', 'auditor', 'dba'],
  manualStep: ['approver', 'auditor', 'dba'],
  // A deployment outside any change skips the whole approval path: only the people who may approve an emergency.
  orderDeployment: ['emergency-approver'],
});
export interface BlackoutRule {
  fromDay: Weekday;
  fromTime: string;
  toDay: Weekday;
  toTime: string;
}
export interface FreezePeriod {
  from: string;
  to: string;
  reason: string;
  environments: Environment[];
  /** Resolved instants (epoch ms); `to` is exclusive. */
  fromMs: number;
  toMs: number;
}
export interface PolicyConfig {
  timeZone: string;
  people: PersonConfig[];
  approvalTtlHours: number;
  approvalReminderHours: number;
  hotfixFullReviewDays: number;
  windows: { blackout: BlackoutRule[]; blockedEnvironments: Environment[] };
  freezes: FreezePeriod[];
  /** Always contains DEFAULT_PROTECTED_TABLES plus anything configured. */
  protectedTables: string[];
  /** Fully resolved quorum table (defaults merged with stricter overrides). */
  quorum: QuorumTable;
  signatureMaxAgeMinutes: number;
  decisionRoles: Record<DecisionKind, Role[]>;
}

/** Parses a freeze boundary to epoch ms; date-only and local date-times are read in `timeZone`. */
export function resolveFreezeTime(text: string, timeZone: string): number {
  if (ISO_INSTANT_RE.test(text)) return Date.parse(text);
  const [datePart, timePart] = text.split('T');
  const [y, m, d] = (datePart ?? '').split('-').map(Number);
  const [hh, mi, ss] = (timePart ?? '00:00').split(':').map(Number);
  const wall = Date.UTC(y ?? NaN, (m ?? NaN) - 1, d ?? NaN, hh ?? 0, mi ?? 0, ss ?? 0);
  return wallToInstant(wall, timeZone);
}

function isRealDate(text: string): boolean {
  const [datePart] = text.split('T');
  const [y, m, d] = (datePart ?? '').split('-').map(Number);
  if (y === undefined || m === undefined || d === undefined) return false;
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

/**
 * The zod schema for the `policy:` section. Parses to a fully resolved PolicyConfig; refuses
 * weakening (quorum below the defaults, blackout removed, production unblocked) naming the field.
 */
export const policyConfigSchema = rawPolicySchema
  .superRefine((p, ctx) => {
    const ids = new Set<string>();
    const keyOwner = new Map<string, string>();
    p.people.forEach((person, i) => {
      person.keys.forEach((k, j) => {
        let key: string;
        try {
          key = normalisePublicKey(k);
        } catch {
          return;
        }
        const other = keyOwner.get(key);
        if (other !== undefined && other !== person.id) {
          ctx.addIssue({ code: 'custom', path: ['people', i, 'keys', j], message: `this key is already enrolled for ${other}; a key identifies exactly one person` });
        }
        keyOwner.set(key, person.id);
      });
      if (ids.has(person.id)) {
        ctx.addIssue({ code: 'custom', path: ['people', i, 'id'], message: `duplicate person id "${person.id}"; each person is listed once with all their roles` });
      }
      ids.add(person.id);
      if (new Set(person.roles).size !== person.roles.length) {
        ctx.addIssue({ code: 'custom', path: ['people', i, 'roles'], message: 'lists a role twice; list each role once' });
      }
    });
    for (const risk of RISK_LEVELS) {
      const o = p.quorum[risk];
      if (!o) continue;
      for (const role of ['approver', 'reviewer', 'auditor'] as const) {
        const v = o[role];
        const def = DEFAULT_QUORUM[risk][role];
        if (v !== undefined && v < def) {
          ctx.addIssue({
            code: 'custom',
            path: ['quorum', risk, role],
            message: `${v} would weaken the policy: ${risk} risk needs at least ${def} ${role}${def === 1 ? '' : 's'} (quorum overrides may only be stricter)`,
          });
        }
      }
    }
    p.windows.blackout.forEach((b, i) => {
      if (b.fromDay === b.toDay && b.fromTime === b.toTime) {
        ctx.addIssue({ code: 'custom', path: ['windows', 'blackout', i], message: 'from and to are the same moment; give a blackout that lasts some time' });
      }
    });
    if (!p.windows.blockedEnvironments.includes('production')) {
      ctx.addIssue({
        code: 'custom',
        path: ['windows', 'blockedEnvironments'],
        message: 'must include "production": the weekend blackout may not be lifted for production (§15)',
      });
    }
    p.freezes.forEach((f, i) => {
      for (const k of ['from', 'to'] as const) {
        if (!isRealDate(f[k])) ctx.addIssue({ code: 'custom', path: ['freezes', i, k], message: `"${f[k]}" is not a real calendar date` });
      }
      if (isValidTimeZone(p.timeZone) && isRealDate(f.from) && isRealDate(f.to)) {
        const a = resolveFreezeTime(f.from, p.timeZone);
        const b = resolveFreezeTime(f.to, p.timeZone);
        if (!(Number.isFinite(a) && Number.isFinite(b) && a < b)) {
          ctx.addIssue({ code: 'custom', path: ['freezes', i, 'to'], message: 'must be after freezes[].from' });
        }
      }
    });
  })
  .transform((p): PolicyConfig => {
    const quorum = {} as QuorumTable;
    for (const risk of RISK_LEVELS) {
      const o = p.quorum[risk] ?? {};
      const d = DEFAULT_QUORUM[risk];
      quorum[risk] = {
        approver: Math.max(d.approver, o.approver ?? 0),
        reviewer: Math.max(d.reviewer, o.reviewer ?? 0),
        auditor: Math.max(d.auditor, o.auditor ?? 0),
      };
    }
    const protectedTables = [...new Set([...DEFAULT_PROTECTED_TABLES, ...p.protectedTables.map((t) => t.toLowerCase())])];
    return {
      timeZone: p.timeZone,
      people: p.people.map((x) => ({ id: x.id, name: x.name, roles: [...x.roles], keys: [...new Set(x.keys.map((k) => normalisePublicKey(k)))] })),
      approvalTtlHours: p.approvalTtlHours,
      approvalReminderHours: p.approvalReminderHours,
      hotfixFullReviewDays: p.hotfixFullReviewDays,
      windows: {
        blackout: p.windows.blackout.map((b) => ({ ...b })),
        blockedEnvironments: [...new Set(p.windows.blockedEnvironments)],
      },
      freezes: p.freezes.map((f) => ({
        from: f.from,
        to: f.to,
        reason: f.reason,
        environments: f.environments ? [...new Set(f.environments)] : ['production'],
        fromMs: resolveFreezeTime(f.from, p.timeZone),
        toMs: resolveFreezeTime(f.to, p.timeZone),
      })),
      protectedTables,
      quorum,
      signatureMaxAgeMinutes: p.signatureMaxAgeMinutes,
      decisionRoles: {
        destructiveMigration: [...(p.decisionRoles.destructiveMigration ?? DEFAULT_DECISION_ROLES.destructiveMigration)],
        restore: [...(p.decisionRoles.restore ?? DEFAULT_DECISION_ROLES.restore)],
        manualStep: [...(p.decisionRoles.manualStep ?? DEFAULT_DECISION_ROLES.manualStep)],
        orderDeployment: [...(p.decisionRoles.orderDeployment ?? DEFAULT_DECISION_ROLES.orderDeployment)],
      },
    };
  });

export type PolicyConfigInput = z.input<typeof policyConfigSchema>;

/** Converts a zod path to "a.b[0].c"; the root is named by `root`. */
export function fieldPath(path: ReadonlyArray<PropertyKey>, root: string): string {
  if (path.length === 0) return root;
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** Parses and validates the `policy:` section. Throws PolicyConfigError whose issues name the field (prefixed "policy."). */
export function parsePolicyConfig(input: unknown): PolicyConfig {
  const r = policyConfigSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issues: FieldIssue[] = [];
  for (const i of r.error.issues) {
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) {
        issues.push({ field: `policy.${fieldPath([...i.path, k], '')}`, message: 'unknown field; remove it or check the spelling' });
      }
    } else {
      issues.push({ field: `policy${i.path.length ? '.' : ''}${fieldPath(i.path, '')}`.replace('.[', '['), message: i.message });
    }
  }
  throw new PolicyConfigError(issues);
}

/** The defaults, fully resolved (useful for tests and the demo). */
export function defaultPolicy(overrides: PolicyConfigInput = {}): PolicyConfig {
  return parsePolicyConfig(overrides);
}

export function findPerson(policy: PolicyConfig, id: string): PersonConfig | undefined {
  return policy.people.find((p) => p.id === id);
}

export function hasRole(policy: PolicyConfig, id: string, role: Role): boolean {
  return findPerson(policy, id)?.roles.includes(role) ?? false;
}

/** The policy's identity: sha256 of its canonical JSON. Recorded with every change and in every signed statement. */
export function policyDigest(policy: PolicyConfig): string {
  return digestOf(policy);
}

const intersect = <T>(a: readonly T[], b: readonly T[]) => a.filter((x) => b.includes(x));
const union = <T>(a: readonly T[], b: readonly T[]) => [...new Set([...a, ...b])];
const sameJson = (a: unknown, b: unknown) => digestOf(a) === digestOf(b);

/**
 * The stricter of two policies (DESIGN "Trust model": the policy a change started under and the worker's policy
 * now). A person counts only if in both, with the roles and keys both give; quorums, freezes, blackouts and
 * protected tables are the larger; time limits the shorter. Nothing open is weakened by a later edit, and a
 * person who has left or a freeze added later counts at once.
 */
export function stricterPolicy(then: PolicyConfig, now: PolicyConfig): PolicyConfig {
  const people: PersonConfig[] = [];
  for (const a of then.people) {
    const b = now.people.find((x) => x.id === a.id);
    if (!b) continue;
    const roles = intersect(a.roles, b.roles);
    if (roles.length === 0) continue;
    people.push({ id: a.id, name: b.name, roles, keys: intersect(a.keys, b.keys) });
  }
  const quorum = {} as QuorumTable;
  for (const risk of RISK_LEVELS) {
    quorum[risk] = {
      approver: Math.max(then.quorum[risk].approver, now.quorum[risk].approver),
      reviewer: Math.max(then.quorum[risk].reviewer, now.quorum[risk].reviewer),
      auditor: Math.max(then.quorum[risk].auditor, now.quorum[risk].auditor),
    };
  }
  const blackout = [...then.windows.blackout];
  for (const b of now.windows.blackout) if (!blackout.some((x) => sameJson(x, b))) blackout.push(b);
  const freezes = [...then.freezes];
  for (const f of now.freezes) if (!freezes.some((x) => sameJson(x, f))) freezes.push(f);
  const decisionRoles = {} as Record<DecisionKind, Role[]>;
  for (const k of DECISION_KINDS) {
    // A policy loaded before a kind existed (recorded in an old history) has no list for it: its default applies.
    const thenRoles = then.decisionRoles[k] ?? [...DEFAULT_DECISION_ROLES[k]];
    const nowRoles = now.decisionRoles[k] ?? [...DEFAULT_DECISION_ROLES[k]];
    const both = intersect(thenRoles, nowRoles);
    // Disjoint edits would leave nobody able to decide: keep the current list rather than lock a change forever.
    decisionRoles[k] = both.length ? both : [...nowRoles];
  }
  return {
    timeZone: now.timeZone,
    people,
    approvalTtlHours: Math.min(then.approvalTtlHours, now.approvalTtlHours),
    approvalReminderHours: Math.min(then.approvalReminderHours, now.approvalReminderHours),
    hotfixFullReviewDays: Math.min(then.hotfixFullReviewDays, now.hotfixFullReviewDays),
    windows: { blackout, blockedEnvironments: union(then.windows.blockedEnvironments, now.windows.blockedEnvironments) },
    freezes,
    protectedTables: union(then.protectedTables, now.protectedTables),
    quorum,
    signatureMaxAgeMinutes: Math.min(then.signatureMaxAgeMinutes, now.signatureMaxAgeMinutes),
    decisionRoles,
  };
}

/** A person's roles that may take a deployment decision of this kind. */
export function mayDecide(policy: PolicyConfig, id: string, kind: DecisionKind): boolean {
  const person = findPerson(policy, id);
  const roles = policy.decisionRoles[kind] ?? DEFAULT_DECISION_ROLES[kind];
  return !!person && person.roles.some((r) => roles.includes(r));
}
