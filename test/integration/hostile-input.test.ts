// Hostile values against the real CLI and a real sshd: nothing but the intended command runs on the host.
// Each hostile string would create a canary file if any shell ever interpreted it; the canary must not exist.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { DeploymentRecord } from '../../src/workflows/deployment';
import { deploy, deployInput } from '../helpers/deploy';
import { devConfig, withWorkerAndClient } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '..', '..');
const canaryDir = mkdtempSync(path.join(os.tmpdir(), 'steward-canary-'));
const canary = path.join(canaryDir, 'pwned');

const HOSTILE = [
  `$(touch ${canary})`,
  `\`touch ${canary}\``,
  `x; touch ${canary}`,
  `x && touch ${canary}`,
  `x | touch ${canary}`,
  `x\ntouch ${canary}`,
  `'; touch ${canary}; '`,
  `"; touch ${canary}; "`,
  `--upload-pack=touch ${canary}`,
  `-c core.sshCommand=touch ${canary}`,
  `${'a'.repeat(300)}$(touch ${canary})`,
];

const config = devConfig('hostile');
const dir = mkdtempSync(path.join(os.tmpdir(), 'steward-hostile-'));
const configFile = path.join(dir, 'steward.config.yaml');
writeFileSync(configFile, stringify(config));

function steward(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), ...args], { env: { ...process.env, STEWARD_CONFIG: configFile }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const VALID = {
  title: 'Hostile input probe',
  type: 'cosmetic',
  affectedModules: ['ui'],
  description: 'probe',
  reason: 'probe',
  financialImpact: false,
  complianceImpact: false,
  dataMigrationRequired: false,
  rollbackComplexity: 'low',
  proposer: 'alice',
  gitRef: 'r02-cosmetic',
  tests: 'written',
};

describe('hostile input (real CLI, real sshd)', () => {
  it('the CLI refuses hostile refs, modules, people and ids, naming the field', () => {
    let tried = 0;
    for (const h of HOSTILE) {
      for (const [field, value] of [['gitRef', h], ['affectedModules', [h]], ['proposer', h]] as const) {
        const file = path.join(dir, `p${tried}.yaml`);
        writeFileSync(file, stringify({ ...VALID, [field]: value }));
        const r = steward('propose', file, '--json');
        assert.notEqual(r.code, 0, `accepted ${field}=${JSON.stringify(h)}`);
        assert.match(r.stderr, new RegExp(field), r.stderr);
        tried++;
      }
      const a = steward('approve', `CHG-${h}`, '--as', h);
      assert.notEqual(a.code, 0);
      tried++;
    }
    assert.ok(tried >= 40);
    assert.equal(existsSync(canary), false, 'a hostile string was run by a shell');
  });

  it('a hostile ref that bypasses the CLI reaches git only as data, and the deployment stops cleanly', async () => {
    await withWorkerAndClient(config, async (client) => {
      for (const h of HOSTILE.slice(0, 4).concat(HOSTILE[8]!)) {
        const r: DeploymentRecord = await deploy(client, config, deployInput({ gitRef: h, environment: 'staging' }));
        assert.ok(r.status === 'refused' || r.status === 'rolled-back', r.status);
        assert.match(r.reason ?? '', /not a safe git ref|does not name a commit/i, r.reason);
        assert.ok(!r.steps.some((s) => s.name === 'switch current'), 'nothing was switched');
        assert.equal(existsSync(canary), false, `the ref ${JSON.stringify(h)} was run by a shell`);
      }
    });
    rmSync(canaryDir, { recursive: true, force: true });
  });
});
