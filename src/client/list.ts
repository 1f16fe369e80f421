import type { Command } from 'commander';
import { isPhase, PHASES } from '../domain/lifecycle';
import type { PolicyConfig } from '../domain/policy';
import { webUiUrl } from './describe';
import { CliError } from './errors';
import { emit } from './output';
import { withReadClient } from './rpc';
import type { WireExecution } from './wire';

/** A search attribute as the server stores it: JSON in the payload's data (never codec-encoded: the server reads it). */
function attr(e: WireExecution, key: string): unknown {
  const data = e.searchAttributes[key]?.data;
  if (!data || data.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** "3d 4h", "2h 5m", "4m": how long ago a change was proposed, for the person deciding what to look at first. */
export function age(ms: number): string {
  const m = Math.max(0, Math.floor(ms / 60_000));
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const STATUS = ['UNSPECIFIED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT', 'PAUSED'];

/** A visibility string literal (the query language quotes like SQL); person ids and roles never need escaping, but nothing unchecked goes in. */
const literal = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;

/** The visibility query of `steward list`: every change, or one phase, or those waiting for one of `names`. */
export function listQuery(opts: { phase?: string; awaitingAnyOf?: readonly string[] }): string {
  const parts = ['WorkflowType = "changeLifecycle"'];
  if (opts.phase) parts.push(`ChangePhase = ${literal(opts.phase)}`);
  if (opts.awaitingAnyOf) parts.push('ExecutionStatus = "Running"', `AwaitingApprovalFrom IN (${opts.awaitingAnyOf.map(literal).join(', ')})`);
  return parts.join(' AND ');
}

/**
 * Whether a change the visibility query matched really waits for this person: never for its own proposer or
 * implementer (maker-checker), even when one of their roles is awaited. A change started before the ChangeMakers
 * search attribute existed has none: it is kept (the workflow still refuses a self-approval).
 */
export function awaitsPerson(makers: readonly string[], person: string): boolean {
  return !makers.includes(person);
}

/** Who the signing key belongs to in the policy, and what they can give: their id and their roles. */
export function signerAndRoles(policy: Pick<PolicyConfig, 'people'>, person: string): string[] {
  const p = policy.people.find((x) => x.id === person);
  return [person, ...(p?.roles ?? [])];
}

interface ListOptions {
  phase?: string;
  limit: string;
  json?: boolean;
  awaitingMe?: boolean;
  key?: string;
  as?: string;
}

// Read-only: the light client (src/client/rpc.ts), one visibility query page by page, the columns from search
// attributes (no per-change query). --awaiting-me also loads the policy and the signing code, only then.
export function registerList(program: Command): void {
  program
    .command('list')
    .description('changes, newest first, with phase, risk, whom each awaits and its age (one visibility query)')
    .option('--phase <phase>', `only changes in this phase (${PHASES.join(', ')})`)
    .option('--awaiting-me', 'only running changes waiting for you or one of your roles, leaving out those you proposed or implement (you: the owner of your signing key in the policy)')
    .option('--key <file>', 'with --awaiting-me: your SSH key (its public half names you); default $STEWARD_SIGNING_KEY or ~/.ssh/id_ed25519')
    .option('--as <user>', 'with --awaiting-me: who you are (optional: the key says it; must match)')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'machine-readable output')
    .action(async (opts: ListOptions) => {
      if (opts.phase !== undefined && !isPhase(opts.phase)) throw new CliError(`unknown phase "${opts.phase}"; use one of ${PHASES.join(', ')}`, 2);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new CliError(`--limit must be a whole number of at least 1 (got "${opts.limit}")`, 2);
      if ((opts.key || opts.as) && !opts.awaitingMe) throw new CliError('--key and --as only go with --awaiting-me', 2);
      await withReadClient(program, async ({ client, config }) => {
        let me: { person: string; names: string[] } | undefined;
        if (opts.awaitingMe) {
          const { parsePolicyConfig } = require('../domain/policy') as typeof import('../domain/policy');
          const { PolicyConfigError } = require('../domain/errors') as typeof import('../domain/errors');
          const { signerOf, signingKeyFile } = require('./signing') as typeof import('./signing');
          let policy: PolicyConfig;
          try {
            policy = parsePolicyConfig(config.policy ?? {});
          } catch (err) {
            if (err instanceof PolicyConfigError) throw new CliError(`the policy in the config is invalid:\n${err.issues.map((i) => `  - ${i.field}: ${i.message}`).join('\n')}`, 2);
            throw err;
          }
          const person = signerOf(signingKeyFile(opts), policy, opts.as);
          me = { person, names: signerAndRoles(policy, person) };
        }
        const query = listQuery({ ...(opts.phase ? { phase: opts.phase } : {}), ...(me ? { awaitingAnyOf: me.names } : {}) });
        const now = Date.now();
        const rows: { changeId: string; phase: string; risk: string; type: string; awaiting: string[]; makers: string[]; title: string; status: string; startedAt: string; age: string; url: string }[] = [];
        const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)]);
        let nextPageToken: Uint8Array | undefined;
        do {
          const page = await client.listPage(query, Math.min(limit, 1000), nextPageToken);
          for (const w of page.executions) {
            const makers = list(attr(w, 'ChangeMakers'));
            if (me && !awaitsPerson(makers, me.person)) continue;
            rows.push({
              changeId: String(attr(w, 'ChangeId') ?? '') || w.workflowId.replace(/^change-/, ''),
              phase: String(attr(w, 'ChangePhase') ?? ''),
              risk: String(attr(w, 'RiskLevel') ?? ''),
              type: String(attr(w, 'ChangeType') ?? ''),
              awaiting: list(attr(w, 'AwaitingApprovalFrom')),
              makers,
              title: '',
              status: STATUS[w.status] ?? 'UNSPECIFIED',
              startedAt: new Date(w.startTimeMs).toISOString(),
              age: age(now - w.startTimeMs),
              url: webUiUrl(config, w.workflowId),
            });
            if (rows.length >= limit) break;
          }
          nextPageToken = page.nextPageToken;
        } while (nextPageToken && rows.length < limit);
        emit(opts, { query, ...(me ? { awaitingMe: me } : {}), changes: rows }, () =>
          rows.length
            ? [
                ...(me ? [`waiting for ${me.person} (${me.names.slice(1).join(', ') || 'no roles'}):`] : []),
                `${'CHANGE'.padEnd(22)} ${'PHASE'.padEnd(24)} ${'RISK'.padEnd(9)} ${'AGE'.padEnd(8)} AWAITING`,
                ...rows.map((r) => `${r.changeId.padEnd(22)} ${r.phase.padEnd(24)} ${r.risk.padEnd(9)} ${r.age.padEnd(8)} ${r.awaiting.join(', ') || '—'}`),
              ].join('\n')
            : me
              ? `nothing waits for ${me.person} or their roles (${me.names.slice(1).join(', ') || 'none'})`
              : `no changes match ${query}`,
        );
      });
    });
}
