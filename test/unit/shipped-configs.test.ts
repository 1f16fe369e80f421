// Every Steward config file the repository ships parses with Steward's own config and policy parsers (the compose
// config once named a role the policy does not know, so every CLI verb failed with it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load';
import { parsePolicyConfig, PolicyConfigError } from '../../src/domain';

const ROOT = path.resolve(__dirname, '..', '..');

function shippedConfigs(): string[] {
  const r = spawnSync('git', ['ls-files', '*.yaml', '*.yml'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .filter((f) => /^environments:/m.test(readFileSync(path.join(ROOT, f), 'utf8')));
}

function parseBoth(text: string, file: string): void {
  const config = parseConfig(text, file, {});
  const policy = parsePolicyConfig(config.policy ?? {});
  // The codec server's readers are people of the policy (`steward codec-server` refuses to start otherwise).
  const people = new Set(policy.people.map((p) => p.id));
  for (const r of config.temporal.codecServer?.readers ?? []) assert.ok(people.has(r.person), `${file}: codec reader ${r.person} is not in policy.people`);
}

describe('shipped config files', () => {
  const files = shippedConfigs();
  it('finds the compose config among them', () => {
    assert.ok(files.includes('deploy/compose/steward.config.yaml'), files.join(', '));
  });
  for (const file of files) {
    it(`${file} parses with the config and policy parsers`, () => {
      parseBoth(readFileSync(path.join(ROOT, file), 'utf8'), file);
    });
  }
  it('a role the policy does not know is refused (the check can fail)', () => {
    const text = readFileSync(path.join(ROOT, 'deploy/compose/steward.config.yaml'), 'utf8').replace('roles: [security-reviewer]', 'roles: [security]');
    assert.throws(() => parseBoth(text, 'x.yaml'), (e: unknown) => e instanceof PolicyConfigError && /people\[4\]\.roles/.test((e as Error).message));
  });
});
