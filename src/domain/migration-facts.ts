/**
 * Migration risk (playbook §6) decided from the facts PostgreSQL's own parser found in the SQL (the plan activity
 * parses with libpg-query; this module is pure and never sees the parser). Levels, most severe first:
 *   protected             refused before any host step (§6.2 "Never"): a protected table's rows or history are
 *                          dropped, deleted, rewritten, hidden (rules, policies, triggers) or its guards switched off;
 *   data-loss             rows or columns go away, or are rewritten;
 *   unknown               cannot be understood (parse error, RunPython, dynamic EXECUTE, unknown function): a DBA must look;
 *   backward-incompatible the running release breaks against the new schema (it runs until `current` is switched);
 *   rewrite               the table is rewritten under an ACCESS EXCLUSIVE lock;
 *   lock                  a long lock (index build, constraint validation) — gates only on a large or unmeasured table;
 *   irreversible          no reverse: rollback is a restore from backup;
 *   safe.
 * Every level but protected and safe (and lock/rewrite on a small measured table) gates with the §6.2 controls.
 */
import { classifyMigrationSql, DEFAULT_HISTORY_TABLES, type MigrationClassification, type MigrationFinding, type MigrationLevel } from './migrations';

export type LockMode =
  | 'ACCESS EXCLUSIVE'
  | 'EXCLUSIVE'
  | 'SHARE ROW EXCLUSIVE'
  | 'SHARE'
  | 'SHARE UPDATE EXCLUSIVE'
  | 'ROW EXCLUSIVE'
  | 'ROW SHARE'
  | 'ACCESS SHARE'
  | 'none';

/** One thing a statement does, as the parser saw it. */
export interface SqlOp {
  op: string;
  /** Resolved relation (schema.name or name), as PostgreSQL folds it. */
  relation?: string;
  column?: string;
  /** Object name (index, constraint, trigger, sequence, schema, function, setting). */
  object?: string;
  /** Flags the rule needs: concurrently, not-valid, where, not-null, default, volatile-default, instead, ... */
  flags?: string[];
  detail?: string;
  /** Where it was found when not at the statement's top: "CTE", "function f body", "DO block", "rule action". */
  via?: string;
}

export interface StatementFacts {
  /** The statement's text, at most 300 characters (the whole SQL stays in the plan). */
  text: string;
  /** The parse node (AlterTableStmt, DropStmt, ...). */
  kind: string;
  ops: SqlOp[];
  writes: string[];
  reads: string[];
  lock: LockMode;
  /** From a RunSQL operation ("-- Raw SQL operation"). */
  raw?: boolean;
}

export interface MigrationSqlFacts {
  statements: StatementFacts[];
  /** Operations Django cannot print as SQL (RunPython): their effect is unknown. */
  opaque: string[];
  /** The parser's error, with the SQL it could not parse (then the legacy tokenizer also reads it, fail closed). */
  parseError?: { message: string; sql: string };
  bytes: number;
}

export interface MigrationFacts {
  app: string;
  name: string;
  irreversible: boolean;
  forwards: MigrationSqlFacts;
  /** Absent when Django has no reverse (irreversible). */
  backwards?: MigrationSqlFacts;
}

export interface TableSize {
  bytes: number;
  rows: number;
}

export type MigrationRisk = 'protected' | 'data-loss' | 'unknown' | 'backward-incompatible' | 'rewrite' | 'lock' | 'irreversible' | 'safe';

export const RISK_RANK: Record<MigrationRisk, number> = {
  safe: 0,
  lock: 1,
  irreversible: 2,
  rewrite: 3,
  'backward-incompatible': 4,
  unknown: 5,
  'data-loss': 6,
  protected: 7,
};

/** A lock or rewrite on a table at least this big (or of unknown size) gates; smaller ones are advisory. */
export const LARGE_TABLE_BYTES = 100 * 1024 * 1024;
export const LARGE_TABLE_ROWS = 1_000_000;

export interface JudgeContext {
  protectedTables: readonly string[];
  historyTables?: readonly string[];
  /** Keyed by relation as in the facts (and by its last part); from the host. Absent = not measured. */
  tableSizes?: Record<string, TableSize>;
}

export interface RiskFinding extends MigrationFinding {
  risk: MigrationRisk;
  /** Whether this finding needs the §6.2 controls (or refuses, for protected). */
  gates: boolean;
  direction: 'forwards' | 'backwards';
  migration?: string;
  saferAlternative?: string;
  lock?: LockMode;
  size?: TableSize;
}

export interface RiskClassification extends MigrationClassification {
  findings: RiskFinding[];
  /** The highest gating risk ('safe' when nothing gates). */
  risk: MigrationRisk;
  /** Safe findings beyond MAX_SAFE_FINDINGS, counted but not listed. */
  safeFindingsOmitted: number;
}

export const MAX_SAFE_FINDINGS = 50;

const VOLATILE_ALT = 'add the column without a default, backfill in batches, then set the default';
const ALTERNATIVES: Record<string, string> = {
  'create-index': 'CREATE INDEX CONCURRENTLY (outside a transaction: atomic = False in Django)',
  'add-constraint-check': 'ADD CONSTRAINT ... CHECK (...) NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a later migration',
  'add-constraint-foreign-key': 'ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a later migration',
  'add-constraint-unique': 'CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX',
  'add-constraint-primary-key': 'CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX',
  'add-constraint-exclusion': 'build the exclusion constraint on a new table or during a maintenance window',
  'set-not-null': 'ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, then SET NOT NULL (PostgreSQL 12+ uses the check)',
  'add-column-volatile-default': VOLATILE_ALT,
  'alter-column-type': 'add a new column of the new type, backfill, switch the code, then drop the old column',
  'reindex': 'REINDEX ... CONCURRENTLY',
  'refresh-materialized-view': 'REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index)',
  'vacuum-full': 'pg_repack, or plain VACUUM',
  cluster: 'pg_repack',
  'lock-table': 'avoid explicit table locks in migrations; set lock_timeout',
  'add-column-inline-constraint': 'add the column, then the constraint NOT VALID / the index CONCURRENTLY in later migrations',
  'attach-partition': 'add a CHECK constraint matching the bound NOT VALID and VALIDATE it first',
};

const lower = (s: string) => s.toLowerCase();
const lastPart = (rel: string) => lower(rel.split('.').pop() as string);

/** Decides the risk of the planned migrations, both directions, from the parser's facts. Pure. */
export function judgeMigrations(migrations: readonly MigrationFacts[], ctx: JudgeContext): RiskClassification {
  const prot = ctx.protectedTables.map(lower);
  const hist = (ctx.historyTables ?? DEFAULT_HISTORY_TABLES).map(lower);
  const protectedSchemas = new Set(['public', ...prot.filter((p) => p.includes('.')).map((p) => p.split('.')[0] as string)]);
  const matches = (list: string[], rel: string | undefined) => {
    if (!rel) return false;
    const full = lower(rel);
    return list.some((p) => (p.includes('.') ? p === full : p === lastPart(full)));
  };
  const isProt = (rel?: string) => matches(prot, rel);
  const isHist = (rel?: string) => matches(hist, rel);
  /** A sequence named after a protected table (Django: <table>_<column>_seq) belongs to it. */
  const seqOwner = (seq?: string) => (seq ? prot.find((p) => lastPart(seq).startsWith(`${lastPart(p)}_`)) : undefined);
  const sizeOf = (rel?: string): TableSize | undefined => {
    if (!rel || !ctx.tableSizes) return undefined;
    return ctx.tableSizes[rel] ?? ctx.tableSizes[lower(rel)] ?? ctx.tableSizes[lastPart(rel)];
  };
  const findings: RiskFinding[] = [];
  // Relations created earlier in this plan are new and empty: no lock or rewrite on them matters.
  const created = new Set<string>();

  const judgeSql = (facts: MigrationSqlFacts, direction: 'forwards' | 'backwards', migration: string, undo: Set<string>) => {
    const prefix = direction === 'backwards' ? 'rollback (reverse SQL) would: ' : '';
    for (const o of facts.opaque) {
      findings.push({ statement: `-- ${o}`, kind: 'opaque-operation', level: 'destructive', risk: 'unknown', gates: true, direction, migration, reason: `${prefix}a RunPython (or other) operation cannot be shown as SQL; its effect is unknown, a DBA must look` });
    }
    if (facts.parseError) {
      findings.push({ statement: facts.parseError.sql.slice(0, 300), kind: 'parse-error', level: 'destructive', risk: 'unknown', gates: true, direction, migration, reason: `${prefix}PostgreSQL's parser refused the SQL (${facts.parseError.message}); it cannot be judged, a DBA must look` });
      // Fail closed: whatever the old tokenizer can still see (a protected drop) is kept.
      for (const f of classifyMigrationSql(facts.parseError.sql, ctx.protectedTables, ctx.historyTables).findings) {
        if (f.level === 'forbidden') findings.push({ ...f, risk: 'protected', gates: true, direction, migration, reason: `${prefix}${f.reason} (read by the fallback tokenizer)` });
      }
    }
    for (const st of facts.statements) {
      for (const op of st.ops) {
        const r = judgeOp(op, st);
        if (!r) continue;
        let { risk } = r;
        const { reason } = r;
        const size = op.relation ? sizeOf(op.relation) : undefined;
        const isNew = op.relation !== undefined && created.has(lower(op.relation));
        if ((risk === 'lock' || risk === 'rewrite') && isNew) risk = 'safe';
        const undoKey = undoKeyOf(op);
        // The reverse of what the forward SQL itself created (not IF NOT EXISTS): undoing it loses only what was written since.
        if (direction === 'backwards' && undoKey && undo.has(undoKey)) risk = 'safe';
        let gates = risk !== 'safe';
        let sizeText = '';
        if (risk === 'lock' || risk === 'rewrite') {
          if (size) {
            sizeText = ` (${op.relation}: ${formatBytes(size.bytes)}, about ${size.rows.toLocaleString('en-GB')} rows)`;
            if (size.bytes < LARGE_TABLE_BYTES && size.rows < LARGE_TABLE_ROWS) gates = false;
          } else if (op.relation) sizeText = ` (${op.relation}: size not measured, treated as large)`;
        }
        const viaText = op.via ? ` [in ${op.via}]` : '';
        const f: RiskFinding = {
          statement: st.text,
          kind: op.op,
          level: risk === 'protected' ? 'forbidden' : gates ? 'destructive' : 'safe',
          risk,
          gates,
          direction,
          migration,
          reason: `${prefix}${reason}${viaText}${sizeText}${st.raw ? ' (raw SQL, RunSQL)' : ''}`,
        };
        if (op.relation) f.table = lastPart(op.relation);
        if (st.lock !== 'none') f.lock = st.lock;
        if (size) f.size = size;
        const alt = r.alternative ?? ALTERNATIVES[op.op];
        if (alt && (risk === 'lock' || risk === 'rewrite')) f.saferAlternative = alt;
        findings.push(f);
        if (op.op === 'create-table' && op.relation) created.add(lower(op.relation));
      }
    }
  };

  const undoKeyOf = (op: SqlOp): string | undefined => {
    const rel = op.relation ? lastPart(op.relation) : '';
    switch (op.op) {
      case 'create-table':
      case 'drop-table':
        return `table:${rel}`;
      case 'add-column':
      case 'drop-column':
        return `column:${rel}.${lower(op.column ?? '')}`;
      case 'create-index':
      case 'drop-index':
        return `index:${lastPart(op.object ?? '')}`;
      case 'add-constraint':
      case 'drop-constraint':
        return `constraint:${rel}.${lower(op.object ?? '')}`;
      case 'create-trigger':
      case 'drop-trigger':
        return `trigger:${rel}.${lower(op.object ?? '')}`;
      case 'create-function':
      case 'drop-function':
        return `function:${lastPart(op.object ?? '')}`;
      default:
        return undefined;
    }
  };

  const judgeOp = (op: SqlOp, st: StatementFacts): { risk: MigrationRisk; reason: string; alternative?: string } | undefined => {
    const rel = op.relation;
    const t = rel ? lastPart(rel) : '?';
    const flags = new Set(op.flags ?? []);
    const p = isProt(rel);
    const h = isHist(rel);
    const col = op.column ? ` column ${op.column}` : '';
    const never = (what: string) => ({ risk: 'protected' as const, reason: `${what} protected table ${t}: never (§6.2); version instead (a new table or column)` });
    switch (op.op) {
      case 'transaction':
      case 'set-safe':
      case 'comment':
      case 'read':
      case 'nextval':
      case 'validate-constraint':
      case 'set-default':
      case 'drop-default':
      case 'rename-index':
      case 'rename-constraint':
      case 'create-sequence':
      case 'create-schema':
      case 'create-type':
      case 'create-extension':
      case 'alter-type':
      case 'analyze':
      case 'add-identity':
      case 'alter-sequence':
      case 'set-statistics':
        return { risk: 'safe', reason: `${op.op}: does not change or lock data for long` };
      case 'create-table':
        return { risk: 'safe', reason: `creates table ${t}` };
      case 'create-view':
        return { risk: flags.has('replace') ? 'backward-incompatible' : 'safe', reason: flags.has('replace') ? `replaces view ${t}: what the running release reads changes` : `creates view ${t}` };
      case 'create-function':
        return { risk: flags.has('replace') ? 'backward-incompatible' : 'safe', reason: flags.has('replace') ? `replaces function ${op.object}: triggers and the running release change behaviour` : `creates function ${op.object}` };
      case 'insert':
        if (p && flags.has('on-conflict-update')) return never('INSERT ... ON CONFLICT DO UPDATE rewrites existing rows of');
        if (flags.has('on-conflict-update')) return { risk: 'data-loss', reason: `INSERT ... ON CONFLICT DO UPDATE rewrites existing rows of ${t}` };
        return { risk: 'safe', reason: `inserts rows into ${t}` };
      case 'update':
        if (p) return never('rewrites rows of');
        return { risk: 'data-loss', reason: `updates rows of ${t}${flags.has('where') ? '' : ' (every row: no WHERE)'}` };
      case 'delete':
        if (p) return never('deletes rows of');
        return { risk: 'data-loss', reason: `deletes rows of ${t}${flags.has('where') ? '' : ' (every row: no WHERE)'}` };
      case 'merge':
        if (p) return never('MERGE changes rows of');
        return { risk: 'data-loss', reason: `MERGE updates or deletes rows of ${t}` };
      case 'truncate':
        if (p) return never('truncates');
        return { risk: 'data-loss', reason: `truncates ${t} (all rows lost)` };
      case 'drop-table':
        if (p) return never('drops');
        return { risk: 'data-loss', reason: `drops table ${t} (data lost; the running release still reads it)` };
      case 'drop-column':
        if (h) return never(`drops${col} of`);
        return { risk: 'data-loss', reason: `drops${col} of ${t} (data lost; the running release still reads it)${p ? ' on a protected table: verified backup, approval and rollback plan (§6.2)' : ''}` };
      case 'alter-column-type':
        if (p) return never(`changes the type of${col} (${op.detail ?? '?'}: it can round or cut every value) on`);
        return { risk: 'data-loss', reason: `changes the type of${col} of ${t} to ${op.detail ?? '?'}: rewrites the table under ACCESS EXCLUSIVE and can round or cut values`, alternative: ALTERNATIVES['alter-column-type'] };
      case 'rename-column':
        if (h) return never(`renames${col} of`);
        return { risk: 'backward-incompatible', reason: `renames${col} of ${t}: the running release still uses the old name` };
      case 'rename-table':
      case 'set-schema':
        if (p) return never(op.op === 'rename-table' ? 'renames (as good as dropping it)' : 'moves to another schema (as good as dropping it)');
        return { risk: 'backward-incompatible', reason: `${op.op === 'rename-table' ? 'renames' : 'moves'} table ${t}: the running release still uses the old name` };
      case 'rename-schema':
      case 'drop-schema':
        if (protectedSchemas.has(lower(op.object ?? ''))) return { risk: 'protected', reason: `${op.op === 'drop-schema' ? 'drops' : 'renames'} schema ${op.object}, which holds protected tables: never (§6.2)` };
        return { risk: 'data-loss', reason: `${op.op === 'drop-schema' ? 'drops' : 'renames'} schema ${op.object}` };
      case 'drop-database':
      case 'drop-owned':
        return { risk: 'protected', reason: `${op.op.replace('-', ' ')} can take protected tables with it: never (§6.2)` };
      case 'add-column': {
        if (flags.has('volatile-default') || flags.has('stored-generated')) {
          return { risk: 'rewrite', reason: `adds${col} to ${t} with a ${flags.has('stored-generated') ? 'stored generated value' : 'volatile default'}: rewrites the table under ACCESS EXCLUSIVE`, alternative: VOLATILE_ALT };
        }
        if (flags.has('not-null') && !flags.has('default')) {
          return { risk: 'backward-incompatible', reason: `adds NOT NULL${col} without a default to ${t}: fails on existing rows and the running release's inserts fail` };
        }
        if (flags.has('inline-constraint')) return { risk: 'lock', reason: `adds${col} to ${t} with a constraint or index built under ACCESS EXCLUSIVE`, alternative: ALTERNATIVES['add-column-inline-constraint'] };
        return { risk: 'safe', reason: `adds${col} to ${t}${flags.has('not-null') ? ' (NOT NULL with a constant default)' : ' (nullable)'}` };
      }
      case 'drop-not-null':
        return { risk: 'backward-incompatible', reason: `drops NOT NULL on${col} of ${t}: readers (and the release after a rollback) may meet nulls they never expected` };
      case 'set-not-null':
        if (flags.has('validated-check')) return { risk: 'safe', reason: `sets NOT NULL on${col} of ${t} using a validated CHECK` };
        return { risk: 'lock', reason: `sets NOT NULL on${col} of ${t}: scans the table under ACCESS EXCLUSIVE (and fails if nulls exist)` };
      case 'add-constraint': {
        const ctype = op.detail ?? 'constraint';
        if (flags.has('not-valid') || flags.has('using-index')) return { risk: 'safe', reason: `adds ${ctype} ${op.object ?? ''} to ${t} without a full-table validation` };
        return { risk: 'lock', reason: `adds ${ctype} ${op.object ?? ''} to ${t}: validates every row while holding a ${st.lock} lock`, alternative: ALTERNATIVES[`add-constraint-${ctype}`] };
      }
      case 'drop-constraint':
        if (h) return never('drops a constraint of');
        return { risk: 'unknown', reason: `drops constraint ${op.object ?? ''} of ${t}: an integrity guarantee goes; a DBA must look` };
      case 'create-index':
        if (flags.has('concurrently')) return { risk: 'safe', reason: `creates index ${op.object ?? ''} on ${t} CONCURRENTLY` };
        return { risk: 'lock', reason: `creates index ${op.object ?? ''} on ${t} without CONCURRENTLY: blocks writes for the whole build (SHARE lock)` };
      case 'drop-index':
        return { risk: 'backward-incompatible', reason: `drops index ${op.object ?? ''}: queries (or a uniqueness guarantee) of the running release may rely on it` };
      case 'reindex':
      case 'refresh-materialized-view':
        if (flags.has('concurrently')) return { risk: 'safe', reason: `${op.op} CONCURRENTLY` };
        return { risk: 'lock', reason: `${op.op.replace(/-/g, ' ')} ${t} without CONCURRENTLY: blocks for the whole run` };
      case 'vacuum-full':
      case 'cluster':
      case 'rewrite-table':
        return { risk: 'rewrite', reason: `${op.detail ?? op.op} rewrites ${t} under ACCESS EXCLUSIVE` };
      case 'lock-table':
        return { risk: 'lock', reason: `LOCK TABLE ${t} (${op.detail ?? ''})` };
      case 'attach-partition':
        return { risk: 'lock', reason: `attaches a partition to ${t}: scans it under lock` };
      case 'trigger-toggle':
        if (p) return never(`${op.detail ?? 'switches triggers/rules'} on`);
        return { risk: 'unknown', reason: `${op.detail ?? 'switches triggers/rules'} on ${t}: integrity or audit code may stop` };
      case 'create-trigger':
        if (p) return never('adds a trigger (it can rewrite or suppress rows) on');
        return { risk: 'unknown', reason: `adds trigger ${op.object ?? ''} on ${t}: it runs on every write, a DBA must look` };
      case 'drop-trigger':
        if (p) return never('drops a trigger (audit or integrity guard) of');
        return { risk: 'unknown', reason: `drops trigger ${op.object ?? ''} of ${t}` };
      case 'create-rule':
        if (p) return never(`adds a rule${flags.has('instead') ? ' DO INSTEAD' : ''} (it can redirect or swallow writes) on`);
        return { risk: 'unknown', reason: `adds a rule on ${t}: writes may be redirected or swallowed` };
      case 'drop-rule':
      case 'create-policy':
      case 'drop-policy':
      case 'row-security':
        if (p) return never(`${op.op.replace('-', 's a ')} (what the bank sees of its rows changes) on`);
        return { risk: 'unknown', reason: `${op.op} on ${t}` };
      case 'set-replication-role':
        if (lower(op.detail ?? '') === 'origin' || lower(op.detail ?? '') === 'default') return { risk: 'safe', reason: 'restores session_replication_role' };
        return { risk: prot.length ? 'protected' : 'unknown', reason: `SET session_replication_role = ${op.detail ?? '?'} switches off triggers and foreign keys of every table, protected ones included: never (§6.2)` };
      case 'setval':
      case 'sequence-restart': {
        const owner = seqOwner(op.object);
        const what = op.op === 'setval' ? 'setval' : 'ALTER SEQUENCE ... RESTART';
        if (owner) return { risk: 'protected', reason: `${what} on ${op.object}, the key sequence of protected table ${owner}: duplicate or reused ids in financial history; never (§6.2)` };
        return { risk: 'data-loss', reason: `${what} on ${op.object ?? 'a sequence'}: can hand out ids again (duplicate keys, rows overwritten by upserts)` };
      }
      case 'drop-sequence':
        if (seqOwner(op.object)) return { risk: 'protected', reason: `drops ${op.object}, the key sequence of a protected table: never (§6.2)` };
        return { risk: 'data-loss', reason: `drops sequence ${op.object}` };
      case 'drop-view':
      case 'drop-function':
      case 'revoke':
        return { risk: 'backward-incompatible', reason: `${op.op.replace('-', 's ')} ${op.object ?? t}: the running release (or a trigger) may still use it` };
      case 'drop-other':
        return { risk: 'unknown', reason: `drops ${op.detail ?? 'an object'} ${op.object ?? ''}: a DBA must look` };
      case 'dynamic-sql':
        return { risk: 'unknown', reason: `dynamic SQL (EXECUTE of a built string): what it runs is unknown until it runs; a DBA must look` };
      case 'function-call':
        return { risk: 'unknown', reason: `calls function ${op.object}: its effect is not known to Steward; a DBA must look` };
      case 'opaque-function':
        return { risk: 'unknown', reason: `a function body in language ${op.detail ?? '?'} cannot be read; a DBA must look` };
      case 'permission-change':
        return { risk: 'unknown', reason: 'changes database permissions (§15): a DBA must look' };
      default:
        return { risk: 'unknown', reason: `${op.op}${op.detail ? ` (${op.detail})` : ''} is not a statement Steward knows; a DBA must look` };
    }
  };

  for (const m of migrations) {
    const id = `${m.app}.${m.name}`;
    const undo = new Set<string>();
    for (const st of m.forwards.statements) {
      for (const op of st.ops) {
        const k = undoKeyOf(op);
        if (k && !(op.flags ?? []).includes('if-not-exists') && ['create-table', 'add-column', 'create-index', 'add-constraint', 'create-trigger', 'create-function'].includes(op.op)) undo.add(k);
      }
    }
    judgeSql(m.forwards, 'forwards', id, undo);
    if (m.irreversible || !m.backwards) {
      findings.push({ statement: id, kind: 'irreversible', level: 'destructive', risk: 'irreversible', gates: true, direction: 'backwards', migration: id, reason: `${id} has no reverse: rolling back means restoring the verified backup` });
    } else {
      judgeSql(m.backwards, 'backwards', id, undo);
    }
  }
  const gating = findings.filter((f) => f.gates);
  const risk = gating.reduce<MigrationRisk>((acc, f) => (RISK_RANK[f.risk] > RISK_RANK[acc] ? f.risk : acc), 'safe');
  const level: MigrationLevel = risk === 'protected' ? 'forbidden' : gating.length ? 'destructive' : 'safe';
  // Every finding that gates or advises is kept; plain safe ones only up to a count, so a large migration's
  // record stays small (the statements are all judged either way).
  const safe = findings.filter((f) => f.risk === 'safe' && !f.saferAlternative);
  const kept = findings.filter((f) => f.risk !== 'safe' || f.saferAlternative || safe.indexOf(f) < MAX_SAFE_FINDINGS);
  return { level, risk, findings: kept, safeFindingsOmitted: Math.max(0, safe.length - MAX_SAFE_FINDINGS) };
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${n} bytes`;
}

/** One line per gating finding, for status, Web UI details and the approval prompt. */
export function describeFindings(c: { findings: readonly MigrationFinding[] }, max = 20): string[] {
  const out: string[] = [];
  for (const f of c.findings as readonly Partial<RiskFinding>[]) {
    if (f.gates === false || f.level === 'safe') continue;
    const alt = f.saferAlternative ? ` — safer: ${f.saferAlternative}` : '';
    out.push(`[${f.risk ?? f.level}] ${f.migration ? `${f.migration}: ` : ''}${f.reason}${alt}`);
  }
  return out.length > max ? [...out.slice(0, max), `… and ${out.length - max} more`] : out;
}
