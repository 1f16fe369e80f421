// Property-based fuzzing of everything a person types: proposals and the config. The parsers never throw
// anything but their own named error, and every problem names a field. STEWARD_FUZZ_RUNS=10000 for the full run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../src/config/load';
import { parseProposal, parseProposalYaml } from '../../src/domain/proposal';
import { ProposalError } from '../../src/domain/errors';
import { recordOutcome } from '../helpers/outcomes';

const RUNS = Number(process.env.STEWARD_FUZZ_RUNS ?? (process.env.CI ? 10_000 : 2_000));

const HOSTILE = fc.oneof(
  fc.string(),
  fc.constantFrom('$(touch /tmp/x)', '`id`', 'a;b', 'a\nb', 'a\0b', '--upload-pack=x', '-x', "'", '"', '..', 'a/../b', ' ', '', 'x'.repeat(5000), '\u202e', '@{-1}'),
);

const VALID = {
  title: 'Clarify the balance label',
  type: 'cosmetic',
  affectedModules: ['ui'],
  description: 'Reword a label.',
  reason: 'Customers misread it.',
  financialImpact: false,
  complianceImpact: false,
  dataMigrationRequired: false,
  rollbackComplexity: 'low',
  proposer: 'alice',
  gitRef: 'r02-cosmetic',
  tests: 'written',
};

/** Runs a property (fast-check's `check`, so the runs are counted), records the count, then fails on a counterexample. */
function fuzz<Ts extends [unknown, ...unknown[]]>(check: string, property: fc.IProperty<Ts>, numRuns: number): void {
  const details = fc.check(property, { numRuns });
  recordOutcome({ kind: 'input', check, tried: details.numRuns, through: details.failed ? 1 : 0, examples: details.failed ? [JSON.stringify(details.counterexample).slice(0, 200)] : [] });
  if (details.failed) assert.fail(fc.defaultReportMessage(details) ?? 'property failed');
}

function onlyProposalErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ProposalError, `threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
    assert.ok(err.issues.length > 0);
    for (const issue of err.issues) assert.ok(issue.field && issue.field.length > 0, `an issue without a field: ${issue.message}`);
  }
}

describe('proposal fuzzing', () => {
  it(`arbitrary JSON values (${RUNS} runs)`, () => {
    fuzz('fuzzed proposals (parser)', fc.property(fc.jsonValue(), (v) => onlyProposalErrors(() => parseProposal(v))), RUNS);
  });
  it(`a valid proposal with one field replaced by a hostile value (${RUNS} runs)`, () => {
    const keys = Object.keys(VALID);
    fuzz(
      'fuzzed proposals (parser)',
      fc.property(fc.constantFrom(...keys), fc.oneof(HOSTILE, fc.jsonValue()), (key, value) => {
        onlyProposalErrors(() => {
          const p = parseProposal({ ...VALID, [key]: value });
          // Whatever got through is safe where it matters: refs and modules can never be read as options or shell.
          assert.ok(!p.gitRef.startsWith('-') && !/[\s;`$'"\\]/.test(p.gitRef), `unsafe gitRef accepted: ${p.gitRef}`);
          for (const m of p.affectedModules) assert.match(m, /^[a-z][a-z0-9_-]*$/);
        });
      }),
      RUNS,
    );
  });
  it(`arbitrary YAML text (${Math.ceil(RUNS / 4)} runs)`, () => {
    fuzz('fuzzed proposals (parser)', fc.property(fc.string({ maxLength: 400 }), (text) => onlyProposalErrors(() => parseProposalYaml(text))), Math.ceil(RUNS / 4));
  });
});

const CONFIG = {
  temporal: { address: '127.0.0.1:7233' },
  environments: {
    production: {
      hosts: [{ name: 'prod-1', address: '10.0.0.5', port: 22, user: 'deploy', privateKey: { file: '/etc/steward/key' }, hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVy' }],
      app: { repo: '/srv/git/app.git', deployRoot: '/srv/app', baseUrl: 'http://10.0.0.5:8000' },
      database: { name: 'banking', url: { env: 'PROD_DB_URL' }, backupDir: '/var/backups/banking' },
    },
  },
};

function onlyConfigErrors(text: string): void {
  try {
    parseConfig(text, 'fuzz.yaml', {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, `threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
    for (const issue of err.issues) assert.ok(issue.field.length > 0);
  }
}

describe('config fuzzing', () => {
  it(`a valid config with one leaf replaced (${RUNS} runs)`, () => {
    const paths = [
      ['temporal', 'address'],
      ['environments', 'production', 'hosts', 0, 'address'],
      ['environments', 'production', 'hosts', 0, 'user'],
      ['environments', 'production', 'hosts', 0, 'hostKey'],
      ['environments', 'production', 'hosts', 0, 'port'],
      ['environments', 'production', 'app', 'deployRoot'],
      ['environments', 'production', 'app', 'baseUrl'],
      ['environments', 'production', 'database', 'name'],
      ['environments', 'production', 'database', 'backupDir'],
      ['environments', 'production', 'database', 'url'],
    ] as const;
    fuzz(
      'fuzzed config files (parser)',
      fc.property(fc.constantFrom(...paths), fc.oneof(HOSTILE, fc.jsonValue()), (p, value) => {
        const doc = JSON.parse(JSON.stringify(CONFIG));
        let node = doc;
        for (const k of p.slice(0, -1)) node = node[k as string];
        node[p[p.length - 1] as string] = value;
        onlyConfigErrors(stringify(doc));
      }),
      RUNS,
    );
  });
  it(`arbitrary YAML text (${Math.ceil(RUNS / 4)} runs)`, () => {
    fuzz('fuzzed config files (parser)', fc.property(fc.string({ maxLength: 400 }), (text) => onlyConfigErrors(text)), Math.ceil(RUNS / 4));
  });
});
