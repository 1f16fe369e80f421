// The facts of a migration's SQL, read by PostgreSQL's own grammar (libpg-query, WebAssembly) and, for function
// bodies and DO blocks, its PL/pgSQL parser. Activity side only: the workflow sandbox cannot load the parser; the
// pure domain (src/domain/migration-facts.ts) decides the levels from these facts.
import { loadModule, parsePlPgSQLSync, parseSync } from 'libpg-query';
import type { LockMode, MigrationSqlFacts, SqlOp, StatementFacts } from '../../domain/migration-facts';

let loading: Promise<void> | undefined;

/** Loads the WebAssembly parser once per worker. */
export function loadSqlParser(): Promise<void> {
  loading ??= loadModule();
  return loading;
}

type Node = Record<string, unknown>;
type Json = unknown;

const OPAQUE_MARKER = /THIS OPERATION CANNOT BE WRITTEN AS SQL/i;
const LOCK_RANK: LockMode[] = ['none', 'ACCESS SHARE', 'ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'];
const maxLock = (a: LockMode, b: LockMode): LockMode => (LOCK_RANK.indexOf(a) >= LOCK_RANK.indexOf(b) ? a : b);

/** Settings a migration may change for its own session without any effect on data. */
const SAFE_SETTINGS = new Set(['lock_timeout', 'statement_timeout', 'idle_in_transaction_session_timeout', 'client_encoding', 'standard_conforming_strings', 'timezone', 'time zone', 'client_min_messages', 'maintenance_work_mem', 'work_mem', 'transaction_isolation', 'application_name', 'check_function_bodies']);
/** Functions that only compute a value (no writes, no side effects): a call to anything else is unknown. */
const PURE_FUNCTIONS = new Set([
  'now', 'current_timestamp', 'coalesce', 'lower', 'upper', 'trim', 'btrim', 'length', 'char_length', 'count', 'sum', 'min', 'max', 'avg',
  'abs', 'round', 'floor', 'ceil', 'greatest', 'least', 'nullif', 'concat', 'concat_ws', 'substring', 'substr', 'replace', 'regexp_replace',
  'to_char', 'to_date', 'to_timestamp', 'to_number', 'date_trunc', 'extract', 'date_part', 'jsonb_build_object', 'json_build_object',
  'array_agg', 'string_agg', 'format', 'md5', 'gen_random_uuid', 'uuid_generate_v4', 'random', 'clock_timestamp', 'statement_timestamp',
  'transaction_timestamp', 'pg_get_serial_sequence', 'current_setting', 'exists', 'row_number', 'left', 'right', 'position', 'strpos', 'split_part',
  'nextval', 'currval', 'lastval', 'timezone', 'make_interval', 'age', 'jsonb_set', 'to_jsonb', 'to_json', 'unnest', 'generate_series', 'bool_and', 'bool_or',
]);
const VOLATILE_DEFAULTS = new Set(['random', 'gen_random_uuid', 'uuid_generate_v4', 'uuid_generate_v1', 'clock_timestamp', 'timeofday', 'nextval']);

const str = (n: Json): string | undefined => {
  if (n && typeof n === 'object' && 'String' in (n as Node)) return ((n as Node).String as Node).sval as string | undefined;
  return undefined;
};
const names = (list: Json): string[] => (Array.isArray(list) ? list.map(str).filter((x): x is string => x !== undefined) : []);
const rangeVar = (rv: Json): string | undefined => {
  const r = (rv as Node | undefined)?.RangeVar ? ((rv as Node).RangeVar as Node) : (rv as Node | undefined);
  if (!r || typeof r.relname !== 'string') return undefined;
  return [r.catalogname, r.schemaname, r.relname].filter((x) => typeof x === 'string').join('.');
};
const typeText = (tn: Node | undefined): string => {
  if (!tn) return '?';
  const n = names(tn.names as Json).filter((x) => x !== 'pg_catalog').join('.');
  const mods = Array.isArray(tn.typmods) ? (tn.typmods as Node[]).map((m) => String(((m.A_Const as Node | undefined)?.ival as Node | undefined)?.ival ?? 0)) : [];
  return mods.length ? `${n}(${mods.join(',')})` : n;
};

/** Every node of the tree, with its type name. */
function eachNode(tree: Json, visit: (type: string, node: Node) => void | 'skip'): void {
  const stack: Json[] = [tree];
  while (stack.length) {
    const cur = stack.pop();
    if (Array.isArray(cur)) {
      for (let i = cur.length - 1; i >= 0; i--) stack.push(cur[i]);
      continue;
    }
    if (!cur || typeof cur !== 'object') continue;
    for (const [k, v] of Object.entries(cur as Node)) {
      if (/^[A-Z]/.test(k) && v && typeof v === 'object' && !Array.isArray(v)) {
        if (visit(k, v as Node) === 'skip') continue;
      }
      if (v && typeof v === 'object') stack.push(v);
    }
  }
}

interface Ctx {
  ops: SqlOp[];
  writes: Set<string>;
  reads: Set<string>;
  lock: LockMode;
  depth: number;
}

/** Reads one SQL text (possibly a function body) into ops; `via` names where it was found. */
function readSql(sql: string, ctx: Ctx, via: string | undefined): void {
  let tree: { stmts?: { stmt: Node }[] };
  try {
    tree = parseSync(sql) as unknown as typeof tree;
  } catch (err) {
    ctx.ops.push({ op: 'unparsable-body', detail: (err as Error).message, via });
    return;
  }
  for (const s of tree.stmts ?? []) readStatement(s.stmt, sql, ctx, via);
}

function readPlpgsqlFunction(createSql: string, ctx: Ctx, via: string): void {
  if (ctx.depth > 4) {
    ctx.ops.push({ op: 'unparsable-body', detail: 'nested too deeply', via });
    return;
  }
  let tree: Json;
  try {
    tree = parsePlPgSQLSync(createSql);
  } catch (err) {
    ctx.ops.push({ op: 'unparsable-body', detail: (err as Error).message, via });
    return;
  }
  ctx.depth++;
  eachNode(tree, (type, node) => {
    if (type === 'PLpgSQL_stmt_dynexecute' || type === 'PLpgSQL_stmt_dynfors') {
      ctx.ops.push({ op: 'dynamic-sql', via });
      return 'skip';
    }
    if (type === 'PLpgSQL_stmt_open' && node.dynquery) ctx.ops.push({ op: 'dynamic-sql', via });
    if (type === 'PLpgSQL_expr' && typeof node.query === 'string') {
      const q = node.query;
      try {
        parseSync(q);
        readSql(q, ctx, via);
      } catch {
        readSql(`SELECT ${q}`, ctx, via);
      }
      return 'skip';
    }
    return undefined;
  });
  ctx.depth--;
}

function defElems(list: Json): Record<string, Node> {
  const out: Record<string, Node> = {};
  for (const d of Array.isArray(list) ? list : []) {
    const de = (d as Node).DefElem as Node | undefined;
    if (de && typeof de.defname === 'string') out[de.defname] = de;
  }
  return out;
}

/** Function calls, nested DML (CTEs, subqueries) and relations read, anywhere in a statement's tree. */
function readExpressions(tree: Json, ctx: Ctx, via: string | undefined, top: Node): void {
  eachNode(tree, (type, node) => {
    if (node === top) return undefined;
    if (type === 'RangeVar') {
      const r = rangeVar(node);
      if (r) ctx.reads.add(r);
      return undefined;
    }
    if (type === 'InsertStmt' || type === 'UpdateStmt' || type === 'DeleteStmt' || type === 'MergeStmt') {
      readStatement({ [type]: node }, '', ctx, via ?? 'CTE or subquery');
      return 'skip';
    }
    if (type === 'FuncCall') {
      const fn = names(node.funcname);
      const name = (fn[fn.length - 1] ?? '').toLowerCase();
      const args = Array.isArray(node.args) ? (node.args as Node[]) : [];
      const firstArg = (((args[0]?.A_Const as Node | undefined)?.sval as Node | undefined)?.sval as string | undefined) ?? undefined;
      if (name === 'setval') ctx.ops.push({ op: 'setval', object: firstArg ?? '(computed)', via });
      else if (name === 'nextval') ctx.ops.push({ op: 'nextval', object: firstArg, via });
      else if (!PURE_FUNCTIONS.has(name) || fn.length > 2) ctx.ops.push({ op: 'function-call', object: fn.join('.'), via });
    }
    return undefined;
  });
}

function addWrite(ctx: Ctx, rel: string | undefined) {
  if (rel) ctx.writes.add(rel);
}

function readStatement(wrapped: Node, sql: string, ctx: Ctx, via: string | undefined): void {
  const type = Object.keys(wrapped)[0] as string;
  const n = wrapped[type] as Node;
  const push = (op: SqlOp, lock: LockMode = 'none') => {
    ctx.ops.push(via ? { ...op, via } : op);
    if (op.relation && !['read', 'comment', 'create-table'].includes(op.op)) addWrite(ctx, op.relation);
    if (!via) ctx.lock = maxLock(ctx.lock, lock);
  };
  const exprs = (tree: Json = n) => readExpressions(tree, ctx, via, n);
  switch (type) {
    case 'TransactionStmt':
    case 'ConstraintsSetStmt':
    case 'CheckPointStmt':
    case 'DiscardStmt':
    case 'NotifyStmt':
    case 'ListenStmt':
      push({ op: 'transaction', detail: type });
      return;
    case 'VariableSetStmt': {
      const name = String(n.name ?? '').toLowerCase();
      const arg = ((((n.args as Node[] | undefined)?.[0]?.A_Const as Node | undefined)?.sval as Node | undefined)?.sval as string | undefined) ?? '';
      if (name === 'session_replication_role') push({ op: 'set-replication-role', detail: arg.toLowerCase() || String(n.kind) });
      else if (SAFE_SETTINGS.has(name) || n.kind === 'VAR_SET_MULTI') push({ op: 'set-safe', object: name });
      else push({ op: 'set-setting', object: name, detail: `SET ${name}` });
      return;
    }
    case 'SelectStmt': {
      if (n.intoClause) push({ op: 'create-table', relation: rangeVar(((n.intoClause as Node).rel as Json)) });
      exprs();
      if (!ctx.ops.length || ctx.ops.every((o) => o.op === 'read')) push({ op: 'read' });
      return;
    }
    case 'InsertStmt': {
      const rel = rangeVar(n.relation);
      const oc = n.onConflictClause as Node | undefined;
      push({ op: 'insert', relation: rel, flags: oc?.action === 'ONCONFLICT_UPDATE' ? ['on-conflict-update'] : [] }, 'ROW EXCLUSIVE');
      exprs(n.selectStmt);
      if (n.withClause) exprs(n.withClause);
      if (oc) exprs(oc);
      return;
    }
    case 'UpdateStmt':
    case 'DeleteStmt': {
      const rel = rangeVar(n.relation);
      push({ op: type === 'UpdateStmt' ? 'update' : 'delete', relation: rel, flags: n.whereClause ? ['where'] : [] }, 'ROW EXCLUSIVE');
      for (const k of ['whereClause', 'fromClause', 'usingClause', 'withClause', 'targetList', 'returningClause']) if (n[k]) exprs(n[k]);
      return;
    }
    case 'MergeStmt': {
      const kinds = (Array.isArray(n.mergeWhenClauses) ? (n.mergeWhenClauses as Node[]) : []).map((c) => String((c.MergeWhenClause as Node).commandType ?? ''));
      push({ op: 'merge', relation: rangeVar(n.relation), flags: kinds }, 'ROW EXCLUSIVE');
      for (const k of ['sourceRelation', 'joinCondition', 'withClause', 'mergeWhenClauses']) if (n[k]) exprs(n[k]);
      return;
    }
    case 'TruncateStmt':
      for (const r of (n.relations as Json[]) ?? []) push({ op: 'truncate', relation: rangeVar(r) }, 'ACCESS EXCLUSIVE');
      return;
    case 'CreateStmt': {
      const rel = rangeVar(n.relation);
      push({ op: 'create-table', relation: rel, flags: n.if_not_exists ? ['if-not-exists'] : [] }, 'none');
      if (n.inhRelations) for (const r of n.inhRelations as Json[]) push({ op: n.partbound ? 'attach-partition' : 'read', relation: rangeVar(r) }, 'ACCESS EXCLUSIVE');
      exprs(n.tableElts);
      return;
    }
    case 'CreateTableAsStmt':
      push({ op: 'create-table', relation: rangeVar((n.into as Node)?.rel) });
      exprs(n.query);
      return;
    case 'ViewStmt':
      push({ op: 'create-view', relation: rangeVar(n.view), flags: n.replace ? ['replace'] : [] });
      exprs(n.query);
      return;
    case 'IndexStmt': {
      const flags = [n.concurrent ? 'concurrently' : '', n.unique ? 'unique' : '', n.if_not_exists ? 'if-not-exists' : ''].filter(Boolean);
      push({ op: 'create-index', relation: rangeVar(n.relation), object: n.idxname as string | undefined, flags }, n.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE');
      return;
    }
    case 'AlterTableStmt':
      readAlterTable(n, ctx, push);
      return;
    case 'AlterSeqStmt': {
      const opts = defElems(n.options);
      const seq = rangeVar(n.sequence);
      if (opts.restart) push({ op: 'sequence-restart', object: seq }, 'ACCESS EXCLUSIVE');
      else push({ op: 'alter-sequence', object: seq });
      return;
    }
    case 'CreateSeqStmt':
      push({ op: 'create-sequence', object: rangeVar(n.sequence) });
      return;
    case 'RenameStmt': {
      const rt = String(n.renameType);
      const rel = rangeVar(n.relation);
      if (rt === 'OBJECT_TABLE' || rt === 'OBJECT_FOREIGN_TABLE') push({ op: 'rename-table', relation: rel, detail: `to ${String(n.newname)}` }, 'ACCESS EXCLUSIVE');
      else if (rt === 'OBJECT_COLUMN') push({ op: 'rename-column', relation: rel, column: n.subname as string, detail: `to ${String(n.newname)}` }, 'ACCESS EXCLUSIVE');
      else if (rt === 'OBJECT_SCHEMA') push({ op: 'rename-schema', object: n.subname as string }, 'ACCESS EXCLUSIVE');
      else if (rt === 'OBJECT_INDEX') push({ op: 'rename-index', relation: rel }, 'SHARE UPDATE EXCLUSIVE');
      else if (rt === 'OBJECT_TABCONSTRAINT') push({ op: 'rename-constraint', relation: rel, object: n.subname as string }, 'ACCESS EXCLUSIVE');
      else if (rt === 'OBJECT_TRIGGER') push({ op: 'trigger-toggle', relation: rel, detail: 'renames a trigger' }, 'ACCESS EXCLUSIVE');
      else if (rt === 'OBJECT_SEQUENCE' || rt === 'OBJECT_VIEW' || rt === 'OBJECT_MATVIEW') push({ op: 'rename-table', relation: rel }, 'ACCESS EXCLUSIVE');
      else push({ op: 'rename-other', detail: rt });
      return;
    }
    case 'AlterObjectSchemaStmt':
      if (n.relation) push({ op: 'set-schema', relation: rangeVar(n.relation), detail: `to ${String(n.newschema)}` }, 'ACCESS EXCLUSIVE');
      else push({ op: 'set-schema-other', detail: String(n.objectType) });
      return;
    case 'DropStmt':
      readDrop(n, push);
      return;
    case 'DropdbStmt':
      push({ op: 'drop-database', object: n.dbname as string });
      return;
    case 'DropOwnedStmt':
      push({ op: 'drop-owned' });
      return;
    case 'CreateTrigStmt': {
      const fn = names(n.funcname).join('.');
      push({ op: 'create-trigger', relation: rangeVar(n.relation), object: n.trigname as string, detail: `runs ${fn}()`, flags: n.replace ? ['replace'] : [] }, 'SHARE ROW EXCLUSIVE');
      return;
    }
    case 'RuleStmt': {
      const actions = Array.isArray(n.actions) ? n.actions : [];
      push({ op: 'create-rule', relation: rangeVar(n.relation), object: n.rulename as string, flags: [n.instead ? 'instead' : '', actions.length ? '' : 'nothing'].filter(Boolean), detail: String(n.event) }, 'ACCESS EXCLUSIVE');
      for (const a of actions) readStatement(a as Node, '', ctx, via ?? `rule ${String(n.rulename)} action`);
      return;
    }
    case 'CreatePolicyStmt':
    case 'AlterPolicyStmt':
      push({ op: 'create-policy', relation: rangeVar(n.table), object: n.policy_name as string }, 'ACCESS EXCLUSIVE');
      return;
    case 'CreateFunctionStmt': {
      const fname = names(n.funcname).join('.');
      const opts = defElems(n.options);
      const lang = String(str(opts.language?.arg) ?? (n.sql_body ? 'sql' : '?')).toLowerCase();
      push({ op: 'create-function', object: fname, flags: n.replace ? ['replace'] : [], detail: lang });
      const where = `function ${fname} body`;
      if (n.sql_body) {
        exprs(n.sql_body);
      } else if (lang === 'plpgsql') {
        const text = sql;
        readPlpgsqlFunction(text, ctx, where);
      } else if (lang === 'sql') {
        const body = names((opts.as?.arg as Node | undefined)?.List ? (((opts.as!.arg as Node).List as Node).items as Json) : []).join('\n');
        readSql(body, ctx, where);
      } else push({ op: 'opaque-function', object: fname, detail: lang });
      return;
    }
    case 'DoStmt': {
      const opts = defElems(n.args);
      const body = str(opts.as?.arg) ?? '';
      const lang = (str(opts.language?.arg) ?? 'plpgsql').toLowerCase();
      if (lang !== 'plpgsql') {
        push({ op: 'opaque-function', object: 'DO block', detail: lang });
        return;
      }
      const tag = '$steward_do$';
      if (body.includes(tag)) {
        push({ op: 'unparsable-body', detail: 'DO block quoting' });
        return;
      }
      readPlpgsqlFunction(`CREATE FUNCTION steward_do_block() RETURNS void LANGUAGE plpgsql AS ${tag}${body}${tag}`, ctx, via ?? 'DO block');
      return;
    }
    case 'CommentStmt':
      push({ op: 'comment' });
      return;
    case 'CreateSchemaStmt':
      push({ op: 'create-schema', object: n.schemaname as string });
      for (const e of (n.schemaElts as Node[] | undefined) ?? []) readStatement(e, '', ctx, via);
      return;
    case 'CreateExtensionStmt':
    case 'CompositeTypeStmt':
    case 'CreateEnumStmt':
    case 'CreateDomainStmt':
    case 'DefineStmt':
    case 'CreateRangeStmt':
      push({ op: type === 'CreateExtensionStmt' ? 'create-extension' : 'create-type', object: String(n.extname ?? '') });
      return;
    case 'AlterEnumStmt':
      push({ op: 'alter-type' });
      return;
    case 'VacuumStmt': {
      const opts = Array.isArray(n.options) ? (n.options as Node[]).map((o) => String((o.DefElem as Node)?.defname)) : [];
      const rels = (Array.isArray(n.rels) ? (n.rels as Node[]) : []).map((r) => rangeVar((r.VacuumRelation as Node)?.relation));
      if (opts.includes('full')) for (const r of rels.length ? rels : [undefined]) push({ op: 'vacuum-full', relation: r, detail: 'VACUUM FULL' }, 'ACCESS EXCLUSIVE');
      else push({ op: 'analyze' }, 'SHARE UPDATE EXCLUSIVE');
      return;
    }
    case 'ClusterStmt':
      push({ op: 'cluster', relation: rangeVar(n.relation), detail: 'CLUSTER' }, 'ACCESS EXCLUSIVE');
      return;
    case 'ReindexStmt': {
      const opts = Array.isArray(n.params) ? (n.params as Node[]).map((o) => String((o.DefElem as Node)?.defname)) : [];
      push({ op: 'reindex', relation: rangeVar(n.relation), flags: opts.includes('concurrently') ? ['concurrently'] : [] }, opts.includes('concurrently') ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE');
      return;
    }
    case 'RefreshMatViewStmt':
      push({ op: 'refresh-materialized-view', relation: rangeVar(n.relation), flags: n.concurrent ? ['concurrently'] : [] }, n.concurrent ? 'EXCLUSIVE' : 'ACCESS EXCLUSIVE');
      return;
    case 'LockStmt': {
      const mode = Number(n.mode ?? 8);
      for (const r of (n.relations as Json[]) ?? []) push({ op: 'lock-table', relation: rangeVar(r), detail: LOCK_RANK[mode] ?? `mode ${mode}` }, LOCK_RANK[mode] ?? 'ACCESS EXCLUSIVE');
      return;
    }
    case 'GrantStmt':
      push({ op: n.is_grant === false ? 'revoke' : 'permission-change', object: String(n.objtype ?? '') });
      return;
    case 'GrantRoleStmt':
    case 'AlterDefaultPrivilegesStmt':
    case 'CreateRoleStmt':
    case 'AlterRoleStmt':
    case 'DropRoleStmt':
    case 'AlterOwnerStmt':
      push({ op: 'permission-change', detail: type });
      return;
    case 'ExplainStmt':
      exprs(n.query);
      return;
    default:
      // CALL, EXECUTE, COPY, ALTER SYSTEM, event triggers, ...: nothing Steward can vouch for.
      push({ op: `unrecognized-${type}`, detail: type });
      exprs();
  }
}

function readAlterTable(n: Node, ctx: Ctx, push: (op: SqlOp, lock?: LockMode) => void): void {
  const rel = rangeVar(n.relation);
  const objtype = String(n.objtype ?? 'OBJECT_TABLE');
  for (const c of (n.cmds as Node[] | undefined) ?? []) {
    const cmd = c.AlterTableCmd as Node;
    const sub = String(cmd.subtype);
    const name = cmd.name as string | undefined;
    const def = cmd.def as Node | undefined;
    switch (sub) {
      case 'AT_AddColumn': {
        const cd = def?.ColumnDef as Node;
        const cons = ((cd?.constraints as Node[] | undefined) ?? []).map((x) => x.Constraint as Node);
        const flags: string[] = [];
        const tname = typeText(cd?.typeName as Node | undefined);
        if (cons.some((k) => k.contype === 'CONSTR_NOTNULL' || k.contype === 'CONSTR_PRIMARY')) flags.push('not-null');
        const dflt = cons.find((k) => k.contype === 'CONSTR_DEFAULT');
        if (dflt || cons.some((k) => k.contype === 'CONSTR_IDENTITY')) flags.push('default');
        if (/^(small|big)?serial[248]?$/.test(tname)) flags.push('volatile-default', 'default');
        if (dflt) {
          eachNode(dflt.raw_expr, (t, node) => {
            if (t === 'FuncCall' && VOLATILE_DEFAULTS.has((names(node.funcname).pop() ?? '').toLowerCase())) flags.push('volatile-default');
            if (t === 'FuncCall' && !PURE_FUNCTIONS.has((names(node.funcname).pop() ?? '').toLowerCase())) flags.push('volatile-default');
          });
        }
        if (cons.some((k) => k.contype === 'CONSTR_GENERATED' && k.generated_kind !== 'v')) flags.push('stored-generated');
        if (cons.some((k) => ['CONSTR_PRIMARY', 'CONSTR_UNIQUE', 'CONSTR_FOREIGN', 'CONSTR_CHECK', 'CONSTR_EXCLUSION'].includes(String(k.contype)))) flags.push('inline-constraint');
        if (cmd.missing_ok) flags.push('if-not-exists');
        push({ op: 'add-column', relation: rel, column: cd?.colname as string, flags: [...new Set(flags)], detail: tname }, 'ACCESS EXCLUSIVE');
        break;
      }
      case 'AT_DropColumn':
        push({ op: 'drop-column', relation: rel, column: name }, 'ACCESS EXCLUSIVE');
        break;
      case 'AT_AlterColumnType':
        push({ op: 'alter-column-type', relation: rel, column: name, detail: typeText((def?.ColumnDef as Node | undefined)?.typeName as Node | undefined) }, 'ACCESS EXCLUSIVE');
        break;
      case 'AT_SetNotNull':
        push({ op: 'set-not-null', relation: rel, column: name }, 'ACCESS EXCLUSIVE');
        break;
      case 'AT_DropNotNull':
        push({ op: 'drop-not-null', relation: rel, column: name }, 'ACCESS EXCLUSIVE');
        break;
      case 'AT_ColumnDefault':
        push({ op: def ? 'set-default' : 'drop-default', relation: rel, column: name }, 'ACCESS EXCLUSIVE');
        break;
      case 'AT_AddConstraint': {
        const k = def?.Constraint as Node;
        const ct = String(k?.contype ?? '').replace('CONSTR_', '').toLowerCase().replace('primary', 'primary-key').replace('foreign', 'foreign-key');
        const flags = [k?.skip_validation ? 'not-valid' : '', k?.indexname ? 'using-index' : ''].filter(Boolean);
        if (ct === 'notnull') {
          push({ op: 'set-not-null', relation: rel, column: names(k.keys).join(','), flags: k.skip_validation ? ['validated-check'] : [] }, 'ACCESS EXCLUSIVE');
          break;
        }
        push({ op: 'add-constraint', relation: rel, object: k?.conname as string | undefined, detail: ct, flags }, ct === 'foreign-key' ? 'SHARE ROW EXCLUSIVE' : 'ACCESS EXCLUSIVE');
        if (k?.pktable) push({ op: 'read', relation: rangeVar(k.pktable) });
        break;
      }
      case 'AT_ValidateConstraint':
        push({ op: 'validate-constraint', relation: rel, object: name }, 'SHARE UPDATE EXCLUSIVE');
        break;
      case 'AT_DropConstraint':
        push({ op: 'drop-constraint', relation: rel, object: name }, 'ACCESS EXCLUSIVE');
        break;
      case 'AT_EnableTrig':
      case 'AT_EnableAlwaysTrig':
      case 'AT_EnableReplicaTrig':
      case 'AT_EnableTrigAll':
      case 'AT_EnableTrigUser':
      case 'AT_DisableTrig':
      case 'AT_DisableTrigAll':
      case 'AT_DisableTrigUser':
      case 'AT_EnableRule':
      case 'AT_EnableAlwaysRule':
      case 'AT_EnableReplicaRule':
      case 'AT_DisableRule':
        push({ op: 'trigger-toggle', relation: rel, object: name, detail: sub.replace('AT_', '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase() }, 'SHARE ROW EXCLUSIVE');
        break;
      case 'AT_EnableRowSecurity':
      case 'AT_DisableRowSecurity':
      case 'AT_ForceRowSecurity':
      case 'AT_NoForceRowSecurity':
        push({ op: 'row-security', relation: rel, detail: sub }, 'ACCESS EXCLUSIVE');
        break;
      case 'AT_SetLogged':
      case 'AT_SetUnLogged':
      case 'AT_SetTableSpace':
      case 'AT_SetAccessMethod':
        push({ op: 'rewrite-table', relation: rel, detail: sub.replace('AT_', '') }, 'ACCESS EXCLUSIVE');
        break;
      case 'AT_AddIdentity':
        push({ op: 'add-identity', relation: rel, column: name }, 'ACCESS EXCLUSIVE');
        break;
      case 'AT_SetIdentity': {
        const restart = ((def?.List as Node | undefined)?.items as Json[] | undefined)?.some((d) => ((d as Node).DefElem as Node)?.defname === 'restart');
        push(restart ? { op: 'sequence-restart', relation: rel, object: `${rel ?? ''}_${name ?? ''}_seq` } : { op: 'alter-sequence', relation: rel, column: name }, 'ACCESS EXCLUSIVE');
        break;
      }
      case 'AT_SetStatistics':
      case 'AT_SetOptions':
      case 'AT_ResetOptions':
      case 'AT_SetStorage':
      case 'AT_SetRelOptions':
      case 'AT_ResetRelOptions':
      case 'AT_ClusterOn':
      case 'AT_DropCluster':
      case 'AT_ReplicaIdentity':
        push({ op: 'set-statistics', relation: rel, detail: sub }, 'SHARE UPDATE EXCLUSIVE');
        break;
      case 'AT_AttachPartition':
        push({ op: 'attach-partition', relation: rel }, 'SHARE UPDATE EXCLUSIVE');
        break;
      case 'AT_DropIdentity':
        push({ op: 'drop-default', relation: rel, column: name }, 'ACCESS EXCLUSIVE');
        break;
      case 'AT_ChangeOwner':
        push({ op: 'permission-change', relation: rel, detail: 'changes owner' }, 'ACCESS EXCLUSIVE');
        break;
      default:
        push({ op: `alter-table-${sub}`, relation: rel, detail: `ALTER ${objtype.replace('OBJECT_', '')} ${sub}` }, 'ACCESS EXCLUSIVE');
    }
    if (def) readExpressions(def, ctx, undefined, def);
  }
}

function readDrop(n: Node, push: (op: SqlOp, lock?: LockMode) => void): void {
  const rt = String(n.removeType);
  const objects = Array.isArray(n.objects) ? (n.objects as Node[]) : [];
  const parts = (o: Node): string[] => (o.List ? names((o.List as Node).items as Json) : o.String ? [str(o) as string] : o.TypeName ? names((o.TypeName as Node).names) : o.ObjectWithArgs ? names((o.ObjectWithArgs as Node).objname) : []);
  for (const o of objects) {
    const p = parts(o);
    const full = p.join('.');
    switch (rt) {
      case 'OBJECT_TABLE':
      case 'OBJECT_FOREIGN_TABLE':
        push({ op: 'drop-table', relation: full }, 'ACCESS EXCLUSIVE');
        break;
      case 'OBJECT_INDEX':
        push({ op: 'drop-index', object: full, flags: n.concurrent ? ['concurrently'] : [] }, n.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'ACCESS EXCLUSIVE');
        break;
      case 'OBJECT_SCHEMA':
        push({ op: 'drop-schema', object: full }, 'ACCESS EXCLUSIVE');
        break;
      case 'OBJECT_TRIGGER':
      case 'OBJECT_RULE':
      case 'OBJECT_POLICY':
        push({ op: rt === 'OBJECT_TRIGGER' ? 'drop-trigger' : rt === 'OBJECT_RULE' ? 'drop-rule' : 'drop-policy', relation: p.slice(0, -1).join('.'), object: p[p.length - 1] }, 'ACCESS EXCLUSIVE');
        break;
      case 'OBJECT_SEQUENCE':
        push({ op: 'drop-sequence', object: full }, 'ACCESS EXCLUSIVE');
        break;
      case 'OBJECT_VIEW':
      case 'OBJECT_MATVIEW':
        push({ op: 'drop-view', relation: full, object: full }, 'ACCESS EXCLUSIVE');
        break;
      case 'OBJECT_FUNCTION':
      case 'OBJECT_PROCEDURE':
        push({ op: 'drop-function', object: full });
        break;
      default:
        push({ op: 'drop-other', object: full, detail: rt.replace('OBJECT_', '').toLowerCase() });
    }
  }
}

/** Splits what `sqlmigrate` printed into statements and reads each; never throws (a parse failure is a fact). */
export function readMigrationSql(sql: string): MigrationSqlFacts {
  const bytes = Buffer.byteLength(sql, 'utf8');
  const opaque: string[] = [];
  for (const line of sql.split('\n')) {
    const t = line.trim();
    if (t.startsWith('--') && OPAQUE_MARKER.test(t)) opaque.push(t.replace(/^--\s*/, ''));
  }
  let tree: { stmts?: { stmt: Node; stmt_location?: number; stmt_len?: number }[] };
  try {
    tree = parseSync(sql) as unknown as typeof tree;
  } catch (err) {
    // Nothing but whitespace (a migration with no SQL operation): no statements, not a parse failure.
    if (/cannot be empty/i.test((err as Error).message) && !/[^\s;]/.test(sql.replace(/--[^\n]*/g, ''))) return { statements: [], opaque, bytes };
    return { statements: [], opaque, parseError: { message: (err as Error).message, sql }, bytes };
  }
  const statements: StatementFacts[] = [];
  let prevEnd = 0;
  let rawSection = false;
  for (const s of tree.stmts ?? []) {
    const start = s.stmt_location ?? 0;
    const full = s.stmt_len ? sql.slice(start, start + s.stmt_len) : sql.slice(start);
    // Django prints "--\n-- <operation>\n--" above each operation's SQL; "Raw SQL operation" marks a RunSQL, and
    // every statement up to the next operation comment belongs to it.
    for (const m of `${sql.slice(prevEnd, start)}\n${full}`.matchAll(/^[ \t]*--[ \t]*([^\s-].*)$/gm)) rawSection = /^Raw SQL operation/i.test(m[1]!.trim());
    prevEnd = start + full.length;
    const raw = rawSection;
    const text = full.replace(/^\s*(--[^\n]*\n\s*)*/g, '').trim();
    const ctx: Ctx = { ops: [], writes: new Set(), reads: new Set(), lock: 'none', depth: 0 };
    readStatement(s.stmt, text, ctx, undefined);
    for (const w of ctx.writes) ctx.reads.delete(w);
    const st: StatementFacts = { text: text.slice(0, 300), kind: Object.keys(s.stmt)[0] as string, ops: ctx.ops, writes: [...ctx.writes], reads: [...ctx.reads], lock: ctx.lock };
    if (raw) st.raw = true;
    statements.push(st);
  }
  return { statements, opaque, bytes };
}
