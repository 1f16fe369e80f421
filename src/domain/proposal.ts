/**
 * The change proposal (playbook §3): schema and parsers. The parsers throw only ProposalError,
 * whose issues each name a field path and say what is allowed.
 */
import { digestOf } from './canonical';
import { z } from 'zod';
import { parse as parseYamlText, YAMLParseError } from 'yaml';
import { ProposalError, type FieldIssue } from './errors';
import { gitRefProblem } from './gitref';
import { fieldPath } from './policy';
import {
  CHANGE_TYPES,
  ENVIRONMENTS,
  HOTFIX_REASONS,
  MODULE_ID_RE,
  PERSON_ID_RE,
  RISK_LEVELS,
  ROLLBACK_COMPLEXITIES,
  type ChangeType,
  type Environment,
  type HotfixReason,
  type RiskLevel,
  type RollbackComplexity,
} from './types';

export const MAX_TITLE_LENGTH = 200;
export const MAX_TEXT_LENGTH = 10_000;
export const MAX_YAML_LENGTH = 256 * 1024;

export interface DeclaredBalanceChange {
  tenant: string;
  metric: string;
  reason: string;
}

export interface Proposal {
  title: string;
  type: ChangeType;
  /** The proposer's own assessment; may raise the computed risk, never lower it. */
  riskLevel?: RiskLevel;
  affectedModules: string[];
  description: string;
  reason: string;
  financialImpact: boolean;
  complianceImpact: boolean;
  dataMigrationRequired: boolean;
  rollbackComplexity: RollbackComplexity;
  proposer: string;
  /** Defaults to the proposer. */
  implementer: string;
  gitRef: string;
  tests: 'written' | 'proposed';
  hotfixReason?: HotfixReason;
  /** The financial effects the change admits to; absent = nothing declared. */
  declaredBalanceChanges?: DeclaredBalanceChange[];
  /** Default ['staging', 'production']; always in deployment order. */
  targetEnvironments: Environment[];
}

const HINTS: Record<string, string> = {
  title: `a one-line title, 1-${MAX_TITLE_LENGTH} characters, no control characters`,
  type: `one of ${CHANGE_TYPES.join(', ')}`,
  riskLevel: `optional, one of ${RISK_LEVELS.join(', ')} (may raise the computed risk, never lower it)`,
  affectedModules: 'a non-empty list of module ids (lower-case letter first, then a-z 0-9 _ -, max 63)',
  description: `what is being changed, 1-${MAX_TEXT_LENGTH} characters`,
  reason: `why the change is needed, 1-${MAX_TEXT_LENGTH} characters`,
  financialImpact: 'true or false (write true/false, not yes/no)',
  complianceImpact: 'true or false (write true/false, not yes/no)',
  dataMigrationRequired: 'true or false (write true/false, not yes/no)',
  rollbackComplexity: `one of ${ROLLBACK_COMPLEXITIES.join(', ')}`,
  proposer: 'a person id: lower-case letter first, then 1-63 of a-z 0-9 . _ - (e.g. "alice.smith")',
  implementer: 'optional person id (defaults to the proposer)',
  gitRef: 'a tag, branch or commit sha: ASCII letters, digits and . _ / -, no "..", no leading "-", max 200',
  tests: 'one of written, proposed (§5: tests written, or at least proposed)',
  hotfixReason: `optional, one of ${HOTFIX_REASONS.join(', ')} (§11: the only reasons a hotfix is allowed)`,
  declaredBalanceChanges: 'optional list of {tenant, metric, reason}; may be empty',
  targetEnvironments: `optional non-empty list of ${ENVIRONMENTS.join(', ')} (default: staging, production)`,
};
export const PROPOSAL_FIELDS = Object.keys(HINTS);

const noControl = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);
const nonBlank = (s: string) => s.trim().length > 0;
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine(nonBlank, { error: 'must not be empty or only whitespace' });

const personId = z.string().max(64).regex(PERSON_ID_RE, { error: 'is not a valid person id' });

const balanceChangeSchema = z.strictObject({
  tenant: z.string().max(100).regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, { error: 'must be a tenant id (letters, digits . _ -)' }),
  metric: text(200).refine(noControl, { error: 'must not contain control characters' }),
  reason: text(2000),
});

export const proposalSchema = z
  .strictObject({
    title: text(MAX_TITLE_LENGTH).refine(noControl, { error: 'must not contain control characters or line breaks' }),
    type: z.enum(CHANGE_TYPES),
    riskLevel: z.enum(RISK_LEVELS).optional(),
    affectedModules: z
      .array(z.string().max(63).regex(MODULE_ID_RE, { error: 'is not a valid module id' }))
      .min(1, { error: 'must list at least one module' })
      .max(100),
    description: text(MAX_TEXT_LENGTH),
    reason: text(MAX_TEXT_LENGTH),
    financialImpact: z.boolean(),
    complianceImpact: z.boolean(),
    dataMigrationRequired: z.boolean(),
    rollbackComplexity: z.enum(ROLLBACK_COMPLEXITIES),
    proposer: personId,
    implementer: personId.optional(),
    gitRef: z.string().superRefine((ref, ctx) => {
      const problem = gitRefProblem(ref);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    tests: z.enum(['written', 'proposed']),
    hotfixReason: z.enum(HOTFIX_REASONS).optional(),
    declaredBalanceChanges: z.array(balanceChangeSchema).max(1000).optional(),
    targetEnvironments: z.array(z.enum(ENVIRONMENTS)).min(1, { error: 'must not be empty' }).optional(),
  })
  .superRefine((p, ctx) => {
    const mods = new Set<string>();
    p.affectedModules.forEach((m, i) => {
      if (mods.has(m)) ctx.addIssue({ code: 'custom', path: ['affectedModules', i], message: `lists "${m}" twice` });
      mods.add(m);
    });
    const envs = p.targetEnvironments ?? ['staging', 'production'];
    if (new Set(envs).size !== envs.length) {
      ctx.addIssue({ code: 'custom', path: ['targetEnvironments'], message: 'lists an environment twice' });
    }
    if (envs.includes('production') && !envs.includes('staging') && p.hotfixReason === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['targetEnvironments'],
        message: 'includes production without staging; §7 requires staging first (only a hotfix may go straight to production)',
      });
    }
  });

function describeIssue(path: ReadonlyArray<PropertyKey>, message: string): FieldIssue {
  const field = fieldPath(path, 'proposal');
  const top = typeof path[0] === 'string' ? path[0] : undefined;
  const hint = top && HINTS[top] ? ` Expected ${HINTS[top]}.` : '';
  return { field, message: `${field}: ${message}.${hint}`.replace('..', '.') };
}

function toIssues(error: z.ZodError): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const i of error.issues) {
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) {
        const field = fieldPath([...i.path, /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(k) ? k : JSON.stringify(k)], 'proposal');
        const where = i.path.length === 0 ? `allowed fields: ${PROPOSAL_FIELDS.join(', ')}` : 'allowed: tenant, metric, reason';
        out.push({ field, message: `${field}: unknown field; remove it or fix the spelling (${where}).` });
      }
    } else if (i.path.length === 0) {
      out.push({ field: 'proposal', message: `proposal: must be a mapping of fields (${PROPOSAL_FIELDS.join(', ')}); ${i.message}.` });
    } else {
      out.push(describeIssue(i.path, i.message));
    }
  }
  return out.length ? out : [{ field: 'proposal', message: 'proposal: invalid.' }];
}

/** Validates plain data as a Proposal. Throws only ProposalError. */
export function parseProposal(input: unknown): Proposal {
  let result: ReturnType<typeof proposalSchema.safeParse>;
  try {
    result = proposalSchema.safeParse(input);
  } catch (e) {
    throw new ProposalError([{ field: 'proposal', message: `proposal: could not be read (${errorText(e)}); give plain data.` }]);
  }
  if (!result.success) throw new ProposalError(toIssues(result.error));
  const d = result.data;
  const envs = d.targetEnvironments ?? ['staging', 'production'];
  const p: Proposal = {
    title: d.title.trim(),
    type: d.type,
    affectedModules: [...d.affectedModules],
    description: d.description,
    reason: d.reason,
    financialImpact: d.financialImpact,
    complianceImpact: d.complianceImpact,
    dataMigrationRequired: d.dataMigrationRequired,
    rollbackComplexity: d.rollbackComplexity,
    proposer: d.proposer,
    implementer: d.implementer ?? d.proposer,
    gitRef: d.gitRef,
    tests: d.tests,
    targetEnvironments: ENVIRONMENTS.filter((e) => envs.includes(e)),
  };
  if (d.riskLevel !== undefined) p.riskLevel = d.riskLevel;
  if (d.hotfixReason !== undefined) p.hotfixReason = d.hotfixReason;
  if (d.declaredBalanceChanges !== undefined) p.declaredBalanceChanges = d.declaredBalanceChanges.map((b) => ({ ...b }));
  return p;
}

function errorText(e: unknown): string {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return 'unreadable error';
  }
}

/** Parses a YAML proposal file (keys in camelCase). Throws only ProposalError. */
export function parseProposalYaml(text: string): Proposal {
  if (typeof text !== 'string') {
    throw new ProposalError([{ field: 'proposal', message: 'proposal: expected YAML text.' }]);
  }
  if (text.length > MAX_YAML_LENGTH) {
    throw new ProposalError([{ field: 'proposal', message: `proposal: the file is longer than ${MAX_YAML_LENGTH} characters; shorten the description.` }]);
  }
  let data: unknown;
  try {
    data = parseYamlText(text, { uniqueKeys: true, maxAliasCount: 50, prettyErrors: true, schema: 'core' });
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    const msg = e instanceof YAMLParseError ? e.message.split('\n')[0] : errorText(e);
    throw new ProposalError([{ field: 'proposal', message: `proposal: not valid YAML${where}: ${msg}. Fix the YAML syntax.` }]);
  }
  return parseProposal(data);
}

/** What a proposer signs: sha256 of the canonical proposal, as parsed (the workflow parses it again and compares). */
export function proposalDigest(p: Proposal): string {
  return digestOf(p);
}
