// The migration corpus (test/fixtures/migration-corpus/cases.ts) through PostgreSQL's own parser (libpg-query, the
// activity side) and the pure judge (src/domain/migration-facts.ts): no case graded below its level; the cases
// graded above it are printed as over-flagged (and listed in docs/migration-rules.md).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PROTECTED_TABLES } from '../../../src/domain';
import { describeFindings, judgeMigrations, RISK_RANK, type MigrationFacts } from '../../../src/domain/migration-facts';
import { loadSqlParser, readMigrationSql } from '../../../src/activities/deployment/sql-facts';
import { CORPUS, type CorpusCase } from '../../fixtures/migration-corpus/cases';

const P = [...DEFAULT_PROTECTED_TABLES];
before(() => loadSqlParser());

function factsOf(c: Pick<CorpusCase, 'sql' | 'backwards' | 'irreversible'>, name = '0005_case'): MigrationFacts {
  return {
    app: 'banking',
    name,
    irreversible: c.irreversible === true,
    forwards: readMigrationSql(c.sql),
    ...(c.irreversible ? {} : { backwards: readMigrationSql(c.backwards ?? '') }),
  };
}

test('the corpus has at least 100 cases, each with a source and a unique id', () => {
  assert.ok(CORPUS.length >= 100, `${CORPUS.length} cases`);
  assert.equal(new Set(CORPUS.map((c) => c.id)).size, CORPUS.length);
  for (const c of CORPUS) assert.match(c.source, /squawk|strong_migrations|django-migration-linter|Atlas|Steward issue 15/, c.id);
  for (const peer of ['squawk', 'strong_migrations', 'django-migration-linter', 'Atlas']) {
    assert.ok(CORPUS.filter((c) => c.source.includes(peer)).length >= 10, `at least 10 cases from ${peer}`);
  }
});

test('corpus: no case is graded below its level; over-flagged cases are listed', () => {
  const under: string[] = [];
  const over: string[] = [];
  for (const c of CORPUS) {
    const r = judgeMigrations([factsOf(c)], { protectedTables: P });
    if (RISK_RANK[r.risk] < RISK_RANK[c.expect]) under.push(`${c.id}: expected ${c.expect}, got ${r.risk} — ${JSON.stringify(r.findings.map((f) => [f.risk, f.kind, f.reason]))}`);
    else if (RISK_RANK[r.risk] > RISK_RANK[c.expect]) over.push(`${c.id}: expected ${c.expect}, graded ${r.risk} (${describeFindings(r, 2).join(' | ')})`);
    // The level the workflow gates on follows the risk.
    assert.equal(r.level, r.risk === 'protected' ? 'forbidden' : r.risk === 'safe' ? 'safe' : 'destructive', c.id);
  }
  console.log(`# migration corpus: ${CORPUS.length} cases, ${under.length} graded below their level, ${over.length} over-flagged`);
  for (const o of over) console.log(`# over-flagged: ${o}`);
  assert.deepEqual(under, []);
});

test('a lock on a small measured table is advisory and names the safe alternative; on a large one it gates', () => {
  const c = { sql: 'CREATE INDEX "fin_journal_line_memo_idx" ON "fin_journal_line" ("memo");' };
  const small = judgeMigrations([factsOf(c)], { protectedTables: P, tableSizes: { fin_journal_line: { bytes: 65536, rows: 120 } } });
  assert.equal(small.level, 'safe');
  const f = small.findings.find((x) => x.kind === 'create-index');
  assert.ok(f && f.risk === 'lock' && f.gates === false, JSON.stringify(small.findings));
  assert.match(f.saferAlternative ?? '', /CREATE INDEX CONCURRENTLY/);
  const big = judgeMigrations([factsOf(c)], { protectedTables: P, tableSizes: { fin_journal_line: { bytes: 40 * 1024 ** 3, rows: 300_000_000 } } });
  assert.equal(big.level, 'destructive');
  const line = describeFindings(big).join('\n');
  assert.match(line, /40\.0 GB/);
  assert.match(line, /CREATE INDEX CONCURRENTLY/);
  const unmeasured = judgeMigrations([factsOf(c)], { protectedTables: P });
  assert.equal(unmeasured.level, 'destructive', 'not measured = treated as large');
  const check = judgeMigrations([factsOf({ sql: 'ALTER TABLE app_customer ADD CONSTRAINT c CHECK (a > 0);' })], { protectedTables: P });
  assert.match(describeFindings(check).join('\n'), /NOT VALID, then ALTER TABLE \.\.\. VALIDATE CONSTRAINT/);
});

test('a 200 KiB migration is classified whole: a DROP TABLE audit_log in its middle is refused', () => {
  const filler = (i: number) => `ALTER TABLE "app_customer" ADD COLUMN "c${i}" varchar(40) NULL;`;
  const lines: string[] = [];
  let i = 0;
  while (lines.join('\n').length < 100 * 1024) lines.push(filler(i++));
  lines.push('DROP TABLE "audit_log" CASCADE;');
  while (lines.join('\n').length < 200 * 1024) lines.push(filler(i++));
  const sql = `BEGIN;\n${lines.join('\n')}\nCOMMIT;\n`;
  assert.ok(sql.length >= 200 * 1024);
  const facts = factsOf({ sql });
  assert.equal(facts.forwards.statements.length, lines.length + 2);
  const r = judgeMigrations([facts], { protectedTables: P });
  assert.equal(r.level, 'forbidden');
  assert.ok(r.findings.some((f) => f.kind === 'drop-table' && f.table === 'audit_log'));
});

test('facts name resolved relations, reads and writes, options and the lock', () => {
  const f = readMigrationSql(`WITH x AS (SELECT id FROM app_import) UPDATE "Public"."FIN_Account" SET balance = 0 FROM x WHERE x.id = fin_account.id;\nCREATE INDEX CONCURRENTLY i ON U&"app\\005Fcustomer" (a);\nALTER TABLE t ADD CONSTRAINT k CHECK (a > 0) NOT VALID;`);
  const [upd, idx, alt] = f.statements;
  assert.deepEqual(upd!.writes, ['Public.FIN_Account']);
  assert.ok(upd!.reads.includes('app_import'), JSON.stringify(upd));
  assert.equal(upd!.lock, 'ROW EXCLUSIVE');
  assert.equal(idx!.ops[0]!.relation, 'app_customer');
  assert.deepEqual(idx!.ops[0]!.flags, ['concurrently']);
  assert.equal(idx!.lock, 'SHARE UPDATE EXCLUSIVE');
  assert.deepEqual(alt!.ops[0]!.flags, ['not-valid']);
  // Quoted mixed case is still matched to the protected table (fail closed: over-flag, never under).
  assert.equal(judgeMigrations([{ app: 'a', name: '0001_x', irreversible: false, forwards: f, backwards: readMigrationSql('') }], { protectedTables: P }).level, 'forbidden');
});

test('irreversible migrations gate even when their SQL is harmless', () => {
  const r = judgeMigrations([factsOf({ sql: 'SELECT 1;', irreversible: true })], { protectedTables: P });
  assert.equal(r.level, 'destructive');
  assert.ok(r.findings.some((f) => f.kind === 'irreversible' && f.gates));
});
