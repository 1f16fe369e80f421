/**
 * Migration risk (playbook §6) from the SQL that Django's `sqlmigrate` prints for PostgreSQL.
 * forbidden: dropping/truncating a protected table (financial tables, audit logs), deleting or rewriting
 *   their rows, or altering their history structure (drop/retype/rename columns, rename/move the table,
 *   disable triggers) — §6.2 "Never"; version instead (a new table or column).
 * destructive: any other drop, truncate, type change, rename, data deletion/update, permission change,
 *   opaque RunPython, or SQL we do not recognise (§6.2: backup confirmation, explicit approval, rollback plan).
 * safe: additive changes (CREATE TABLE/INDEX, ADD COLUMN nullable or with a default, ADD CONSTRAINT, INSERT …).
 */
import { refuse, type Verdict } from './errors';
import { findPerson, type PolicyConfig } from './policy';

export type MigrationLevel = 'safe' | 'destructive' | 'forbidden';

export interface MigrationFinding {
  statement: string;
  kind: string;
  table?: string;
  level: MigrationLevel;
  reason: string;
}

export interface MigrationClassification {
  level: MigrationLevel;
  findings: MigrationFinding[];
}

const LEVEL_RANK: Record<MigrationLevel, number> = { safe: 0, destructive: 1, forbidden: 2 };

type Tok =
  | { k: 'word'; up: string; name: string }
  | { k: 'ident'; name: string }
  | { k: 'str' }
  | { k: 'num' }
  | { k: 'punct'; v: string };

interface RawStatement {
  text: string;
  toks: Tok[];
  raw: boolean;
}

const OPAQUE_MARKER = 'CANNOT BE WRITTEN AS SQL';

/** Splits SQL into statements (outside quotes, comments and dollar quotes) and tokenizes them. */
function lex(sql: string): { statements: RawStatement[]; opaque: string[] } {
  const statements: RawStatement[] = [];
  const opaque: string[] = [];
  let toks: Tok[] = [];
  let start = -1;
  let raw = false;
  let i = 0;
  const n = sql.length;
  const flush = (end: number) => {
    if (toks.length > 0) statements.push({ text: sql.slice(start, end).trim(), toks, raw });
    toks = [];
    start = -1;
  };
  const mark = () => {
    if (start < 0) start = i;
  };
  while (i < n) {
    const c = sql[i] as string;
    if (c === '-' && sql[i + 1] === '-') {
      let j = sql.indexOf('\n', i);
      if (j < 0) j = n;
      const comment = sql.slice(i + 2, j).trim();
      if (comment.toUpperCase().includes(OPAQUE_MARKER)) opaque.push(comment);
      if (/^raw sql operation$/i.test(comment)) raw = true;
      else if (comment.length > 0 && !/^raw python operation$/i.test(comment) && toks.length === 0) raw = false;
      i = j;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else j++;
      }
      i = j;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    mark();
    if (c === ';') {
      flush(i);
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let name = '';
      while (j < n) {
        if (sql[j] === '"') {
          if (sql[j + 1] === '"') {
            name += '"';
            j += 2;
            continue;
          }
          break;
        }
        name += sql[j];
        j++;
      }
      toks.push({ k: 'ident', name });
      i = j + 1;
      continue;
    }
    if (c === "'" || ((c === 'E' || c === 'e') && sql[i + 1] === "'")) {
      let j = c === "'" ? i + 1 : i + 2;
      const backslash = c !== "'";
      while (j < n) {
        if (backslash && sql[j] === '\\') {
          j += 2;
          continue;
        }
        if (sql[j] === "'") {
          if (sql[j + 1] === "'") {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      toks.push({ k: 'str' });
      i = j + 1;
      continue;
    }
    if (c === '$') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66));
      if (m) {
        const tag = m[0];
        const end = sql.indexOf(tag, i + tag.length);
        toks.push({ k: 'str' });
        i = end < 0 ? n : end + tag.length;
        continue;
      }
    }
    const w = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i, i + 200));
    if (w) {
      let len = w[0].length;
      while (i + len < n && /[A-Za-z0-9_$]/.test(sql[i + len] as string)) len++;
      const word = sql.slice(i, i + len);
      toks.push({ k: 'word', up: word.toUpperCase(), name: word.toLowerCase() });
      i += len;
      continue;
    }
    const num = /^[0-9][0-9.eE+-]*/.exec(sql.slice(i, i + 100));
    if (num) {
      toks.push({ k: 'num' });
      i += num[0].length;
      continue;
    }
    toks.push({ k: 'punct', v: c });
    i++;
  }
  if (start >= 0) flush(n);
  return { statements, opaque };
}

class Cursor {
  pos = 0;
  constructor(readonly toks: Tok[]) {}
  peekWord(offset = 0): string | undefined {
    const t = this.toks[this.pos + offset];
    return t && t.k === 'word' ? t.up : undefined;
  }
  is(...words: string[]): boolean {
    return words.every((w, k) => this.peekWord(k) === w);
  }
  accept(...words: string[]): boolean {
    if (this.is(...words)) {
      this.pos += words.length;
      return true;
    }
    return false;
  }
  /** Reads a possibly schema-qualified name; returns the full name (lower-cased) or undefined. */
  name(): string | undefined {
    const parts: string[] = [];
    for (;;) {
      const t = this.toks[this.pos];
      if (!t || (t.k !== 'word' && t.k !== 'ident')) break;
      parts.push(t.name);
      this.pos++;
      const dot = this.toks[this.pos];
      if (dot && dot.k === 'punct' && dot.v === '.') {
        this.pos++;
        continue;
      }
      break;
    }
    return parts.length ? parts.join('.').toLowerCase() : undefined;
  }
  names(): string[] {
    const out: string[] = [];
    for (;;) {
      const n = this.name();
      if (!n) break;
      out.push(n);
      const t = this.toks[this.pos];
      if (t && t.k === 'punct' && t.v === ',') {
        this.pos++;
        continue;
      }
      break;
    }
    return out;
  }
  rest(): Tok[] {
    return this.toks.slice(this.pos);
  }
}

function splitTopLevel(toks: Tok[]): Tok[][] {
  const parts: Tok[][] = [[]];
  let depth = 0;
  for (const t of toks) {
    if (t.k === 'punct' && t.v === '(') depth++;
    if (t.k === 'punct' && t.v === ')') depth = Math.max(0, depth - 1);
    if (t.k === 'punct' && t.v === ',' && depth === 0) {
      parts.push([]);
      continue;
    }
    (parts[parts.length - 1] as Tok[]).push(t);
  }
  return parts.filter((p) => p.length > 0);
}

function words(toks: Tok[]): string[] {
  return toks.map((t) => (t.k === 'word' ? t.up : ''));
}

/** Classifies the SQL printed by `manage.py sqlmigrate` (PostgreSQL). */
/**
 * Tables holding transaction history (playbook §6.2 "never modify historical transaction structure without
 * versioning"): any structural change is forbidden. Other protected tables (accounts, loans) may never be
 * dropped, truncated or rewritten, but a column change there is destructive: §6.2 controls, not a ban.
 */
export const DEFAULT_HISTORY_TABLES = ['fin_journal_entry', 'fin_journal_line', 'fin_deposit', 'audit_log'] as const;

export function classifyMigrationSql(
  sql: string,
  protectedTables: readonly string[],
  historyTables: readonly string[] = DEFAULT_HISTORY_TABLES,
): MigrationClassification {
  const prot = protectedTables.map((t) => t.toLowerCase());
  const isProtected = (full: string | undefined): boolean => {
    if (!full) return false;
    const last = full.split('.').pop() as string;
    return prot.some((p) => (p.includes('.') ? p === full : p === last));
  };
  const short = (full: string) => full.split('.').pop() as string;
  const findings: MigrationFinding[] = [];
  const text = typeof sql === 'string' ? sql : '';
  const { statements, opaque } = lex(text);
  for (const o of opaque) {
    findings.push({
      statement: `-- ${o}`,
      kind: 'opaque-operation',
      level: 'destructive',
      reason: 'a RunPython (or other) operation cannot be shown as SQL; its effect is unknown, so it needs the destructive-migration controls (§6.2)',
    });
  }
  for (const st of statements) {
    const add = (kind: string, level: MigrationLevel, reason: string, table?: string) => {
      const f: MigrationFinding = { statement: st.text.slice(0, 500), kind, level, reason: st.raw ? `raw SQL (RunSQL): ${reason}` : reason };
      if (table !== undefined) f.table = short(table);
      findings.push(f);
    };
    const c = new Cursor(st.toks);
    const first = c.peekWord();
    if (first === 'BEGIN' || first === 'COMMIT' || first === 'END' || first === 'START' || first === 'SET') continue;
    if (c.accept('CREATE')) {
      c.accept('OR', 'REPLACE');
      const orReplace = c.toks.slice(0, c.pos).some((t) => t.k === 'word' && t.up === 'REPLACE');
      c.accept('UNIQUE');
      if (!c.accept('TEMPORARY') && !c.accept('TEMP')) c.accept('UNLOGGED');
      const what = c.peekWord();
      if (what === 'TABLE') {
        c.accept('TABLE');
        c.accept('IF', 'NOT', 'EXISTS');
        add('create-table', 'safe', 'additive: creates a new table', c.name());
      } else if (what === 'INDEX') {
        c.accept('INDEX');
        c.accept('CONCURRENTLY');
        c.accept('IF', 'NOT', 'EXISTS');
        const idx = c.peekWord() === 'ON' ? undefined : c.name();
        c.accept('ON');
        c.accept('ONLY');
        add('create-index', 'safe', `additive: creates index${idx ? ` ${idx}` : ''}`, c.name());
      } else if (!orReplace && (what === 'SEQUENCE' || what === 'EXTENSION' || what === 'SCHEMA' || what === 'TYPE' || what === 'VIEW' || what === 'COLLATION' || what === 'DOMAIN')) {
        add(`create-${what.toLowerCase()}`, 'safe', `additive: creates a ${what.toLowerCase()}`);
      } else {
        add('create-other', 'destructive', `CREATE ${orReplace ? 'OR REPLACE ' : ''}${what ?? ''} can change behaviour (functions, triggers, rules); needs review and approval`);
      }
      continue;
    }
    if (c.accept('ALTER', 'TABLE')) {
      c.accept('IF', 'EXISTS');
      c.accept('ONLY');
      const table = c.name();
      const p = table !== undefined && isProtected(table);
      const history = p && historyTables.some((h) => (h.includes('.') ? h === table : h === short(table as string)));
      const forbidOr = (kind: string, reason: string) =>
        history
          ? add(kind, 'forbidden', `${reason} on protected table ${short(table as string)}: historical structure may not change without versioning (§6.2); add a new versioned column or table instead`, table)
          : p
            ? add(kind, 'destructive', `${reason} on protected table ${short(table as string)}: needs a verified backup, explicit approval and a rollback plan (§6.2)`, table)
            : add(kind, 'destructive', reason, table);
      for (const action of splitTopLevel(c.rest())) {
        const a = new Cursor(action);
        const w = words(action);
        if (a.accept('ADD')) {
          const nxt = a.peekWord();
          if (nxt === 'CONSTRAINT' || nxt === 'PRIMARY' || nxt === 'UNIQUE' || nxt === 'FOREIGN' || nxt === 'CHECK' || nxt === 'EXCLUDE') {
            add('add-constraint', 'safe', 'additive: adds a constraint', table);
          } else {
            const notNull = w.some((x, k) => x === 'NOT' && w[k + 1] === 'NULL');
            const hasDefault = w.includes('DEFAULT') || w.includes('GENERATED');
            if (notNull && !hasDefault) {
              add('add-column-not-null', 'destructive', 'adds a NOT NULL column without a default: fails on a non-empty table or needs a backfill', table);
            } else {
              add('add-column', 'safe', `additive: adds a ${notNull ? 'column with a default' : 'nullable column'}`, table);
            }
          }
        } else if (a.accept('DROP')) {
          if (a.accept('CONSTRAINT')) add('drop-constraint', 'destructive', 'drops a constraint (integrity guarantee removed)', table);
          else {
            a.accept('COLUMN');
            a.accept('IF', 'EXISTS');
            const col = a.name();
            forbidOr('drop-column', `drops column ${col ?? '?'} (data lost)`);
          }
        } else if (a.accept('ALTER')) {
          a.accept('COLUMN');
          const col = a.name() ?? '?';
          if (a.is('TYPE') || a.is('SET', 'DATA', 'TYPE')) forbidOr('alter-column-type', `changes the type of column ${col}`);
          else if (a.is('SET', 'DEFAULT') || a.is('DROP', 'DEFAULT') || a.is('DROP', 'NOT', 'NULL')) add('alter-column-default', 'safe', `loosens column ${col} (default / nullability)`, table);
          else if (a.is('SET', 'NOT', 'NULL')) add('set-not-null', 'destructive', `makes column ${col} NOT NULL: fails if nulls exist and locks the table`, table);
          else forbidOr('alter-column', `alters column ${col}`);
        } else if (a.accept('RENAME')) {
          if (a.accept('CONSTRAINT')) add('rename-constraint', 'destructive', 'renames a constraint', table);
          else if (a.is('TO')) {
            // Renaming a protected table takes it away from everything that reads it: as good as dropping it.
            if (p) add('rename-table', 'forbidden', `renames protected table ${short(table as string)}: as good as dropping it (§6.2)`, table);
            else add('rename-table', 'destructive', 'renames the table (code and reports still using the old name break)', table);
          }
          else {
            a.accept('COLUMN');
            const col = a.name() ?? '?';
            forbidOr('rename-column', `renames column ${col}`);
          }
        } else if (a.accept('SET', 'SCHEMA')) {
          if (p) add('rename-table', 'forbidden', `moves protected table ${short(table as string)} to another schema: as good as dropping it (§6.2)`, table);
          else add('rename-table', 'destructive', 'moves the table to another schema', table);
        } else if (a.is('DISABLE') || a.is('ENABLE')) {
          forbidOr('trigger-change', 'disables or re-enables triggers (audit logging may stop)');
        } else {
          add('alter-table-other', p ? 'forbidden' : 'destructive', `unrecognised ALTER TABLE action "${w.filter(Boolean).slice(0, 3).join(' ')}"${p ? ' on a protected table' : ''}; review by hand`, table);
        }
      }
      continue;
    }
    if (c.accept('ALTER')) {
      const what = c.peekWord();
      if (what === 'INDEX') add('rename-index', 'destructive', 'alters/renames an index');
      else if (what === 'SEQUENCE') add('alter-sequence', 'safe', 'alters a sequence (ownership/identity)');
      else add('alter-other', 'destructive', `ALTER ${what ?? ''} is not recognised; review by hand`);
      continue;
    }
    if (c.accept('DROP')) {
      const what = c.peekWord();
      if (what === 'TABLE') {
        c.accept('TABLE');
        c.accept('IF', 'EXISTS');
        for (const t of c.names()) {
          if (isProtected(t)) add('drop-table', 'forbidden', `drops protected table ${short(t)}: never drop financial tables or audit logs (§6.2)`, t);
          else add('drop-table', 'destructive', `drops table ${short(t)} (data lost)`, t);
        }
      } else if (what === 'INDEX') {
        add('drop-index', 'destructive', 'drops an index (performance, or a uniqueness guarantee, lost)');
      } else if (what === 'SCHEMA' || what === 'DATABASE' || what === 'OWNED') {
        add(`drop-${what.toLowerCase()}`, 'forbidden', `DROP ${what} can take protected tables with it (§6.2)`);
      } else if (what === 'TRIGGER' || what === 'RULE' || what === 'POLICY') {
        c.accept(what);
        c.accept('IF', 'EXISTS');
        c.name();
        const table = c.accept('ON') ? c.name() : undefined;
        if (table && isProtected(table)) add('drop-trigger', 'forbidden', `drops a ${what.toLowerCase()} on protected table ${short(table)} (audit logging / controls)`, table);
        else add('drop-other', 'destructive', `drops a ${what.toLowerCase()}`, table);
      } else {
        add('drop-other', 'destructive', `DROP ${what ?? ''} removes an object`);
      }
      continue;
    }
    if (c.accept('TRUNCATE')) {
      c.accept('TABLE');
      c.accept('ONLY');
      for (const t of c.names()) {
        if (isProtected(t)) add('truncate', 'forbidden', `truncates protected table ${short(t)}: never delete financial data or audit logs (§6.2)`, t);
        else add('truncate', 'destructive', `truncates table ${short(t)} (all rows lost)`, t);
      }
      continue;
    }
    if (c.accept('DELETE', 'FROM')) {
      c.accept('ONLY');
      const t = c.name();
      const hasWhere = words(c.rest()).includes('WHERE');
      if (isProtected(t)) add('delete', 'forbidden', `deletes rows of protected table ${short(t as string)}: history is never deleted; post reversing entries instead`, t);
      else if (!hasWhere) add('delete-all', 'destructive', `DELETE without WHERE empties ${t ?? 'the table'}`, t);
      else add('delete', 'destructive', 'deletes rows (data change)', t);
      continue;
    }
    if (c.accept('UPDATE')) {
      c.accept('ONLY');
      const t = c.name();
      if (isProtected(t)) add('update', 'forbidden', `rewrites rows of protected table ${short(t as string)}: never silently change financial history (§10.3); post reversing entries instead`, t);
      else add('update', 'destructive', 'updates rows (data change)', t);
      continue;
    }
    if (c.accept('INSERT', 'INTO')) {
      add('insert', 'safe', 'additive: inserts rows', c.name());
      continue;
    }
    if (first === 'COMMENT' || first === 'SELECT' || first === 'ANALYZE') {
      add(first.toLowerCase(), 'safe', 'does not change data or structure');
      continue;
    }
    if (first === 'GRANT' || first === 'REVOKE') {
      add('permission-change', 'destructive', 'changes database permissions; never modify permissions silently (§15)');
      continue;
    }
    add('unrecognized', 'destructive', 'statement not recognised; treated as destructive, review by hand');
  }
  const level = findings.reduce<MigrationLevel>((acc, f) => (LEVEL_RANK[f.level] > LEVEL_RANK[acc] ? f.level : acc), 'safe');
  return { level, findings };
}

/** What §6 requires before running migrations of this level. */
export function migrationControlsFor(level: MigrationLevel): { backupRequired: true; explicitApprovalRequired: boolean; rollbackPlanRequired: boolean; blocked: boolean; reason: string } {
  if (level === 'forbidden') {
    return { backupRequired: true, explicitApprovalRequired: true, rollbackPlanRequired: true, blocked: true, reason: 'forbidden migration (§6.2 "Never"): it cannot be approved; rewrite it with versioning' };
  }
  if (level === 'destructive') {
    return { backupRequired: true, explicitApprovalRequired: true, rollbackPlanRequired: true, blocked: false, reason: 'destructive migration: backup confirmation, explicit approval and a rollback plan (§6.2)' };
  }
  return { backupRequired: true, explicitApprovalRequired: false, rollbackPlanRequired: false, blocked: false, reason: 'safe migration: a verified backup is still taken first (§6.1, §15)' };
}

export interface DestructiveMigrationApproval {
  backupConfirmed: boolean;
  approver: string;
  rollbackPlan: string;
  comment?: string;
}

export type DestructiveControlCode =
  | 'invalid-payload'
  | 'forbidden-migration'
  | 'backup-not-confirmed'
  | 'not-a-person'
  | 'self-approval'
  | 'wrong-role'
  | 'no-rollback-plan';

/** Roles that may give the explicit approval for a destructive migration. */
export const DESTRUCTIVE_MIGRATION_APPROVER_ROLES = ['approver', 'dba'] as const;

/**
 * Validates an `approveDestructiveMigration` payload (§6.2): backup confirmed, an approver who is a listed
 * person with the approver or dba role and not the proposer/implementer, and a non-empty rollback plan.
 * A forbidden migration can never be approved.
 */
export function destructiveMigrationControls(
  payload: unknown,
  ctx: { level: MigrationLevel; proposer: string; implementer?: string; policy: Pick<PolicyConfig, 'people'> },
): Verdict<DestructiveControlCode> {
  if (ctx.level === 'forbidden') {
    return refuse('forbidden-migration', 'this migration drops or rewrites a protected table (§6.2 "Never"); no approval can allow it — rewrite it with versioning');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return refuse('invalid-payload', 'approveDestructiveMigration needs {backupConfirmed, approver, rollbackPlan}');
  }
  const p = payload as Record<string, unknown>;
  if (p.backupConfirmed !== true) {
    return refuse('backup-not-confirmed', 'backupConfirmed must be true: confirm the verified pre-migration backup first (§6.2)');
  }
  if (typeof p.approver !== 'string' || !findPerson(ctx.policy as PolicyConfig, p.approver)) {
    return refuse('not-a-person', `approver "${String(p.approver)}" is not a person in policy.people`);
  }
  if (p.approver === ctx.proposer || p.approver === ctx.implementer) {
    return refuse('self-approval', `${p.approver} cannot approve a destructive migration of their own change`);
  }
  const person = findPerson(ctx.policy as PolicyConfig, p.approver);
  if (!person?.roles.some((r) => (DESTRUCTIVE_MIGRATION_APPROVER_ROLES as readonly string[]).includes(r))) {
    return refuse('wrong-role', `${p.approver} needs the approver or dba role to approve a destructive migration`);
  }
  if (typeof p.rollbackPlan !== 'string' || p.rollbackPlan.trim().length === 0) {
    return refuse('no-rollback-plan', 'rollbackPlan must describe how to undo the migration (§6.2)');
  }
  if (p.rollbackPlan.length > 10_000) return refuse('invalid-payload', 'rollbackPlan must be at most 10000 characters');
  return { ok: true };
}
