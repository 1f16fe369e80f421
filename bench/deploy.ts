// 1. A production deploy (code + new requirement + additive migration: r02 on schema 0002 → r09) by Steward vs
//    bench/baseline/deploy.sh, every run from the same reset state. 2. Rollback of r04-smoke-fails.
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { StewardConfig } from '../src/config/schema';
import { ENV, hostPaths, resetToR02, stepTimes, stewardDeploy, type SshCall } from './hosts';
import { limitFigure, ratioFigure, ROOT, shAsync, stat, type Figure, type Opts } from './lib';

export interface ScriptRun {
  wallMs: number;
  steps: Record<string, number>;
  criticalRawMs: number;
  criticalWallMs: number;
}

let scriptRuns = 0;

export async function scriptDeploy(config: StewardConfig, ref: string): Promise<ScriptRun> {
  const env = config.environments[ENV]!;
  const host = env.hosts[0]!;
  const p = hostPaths(config);
  const releaseId = `bench-script-${Date.now().toString(36)}-${++scriptRuns}`;
  const key = 'file' in host.privateKey ? host.privateKey.file : undefined;
  const pwFile = env.app.smokeUsers && 'file' in env.app.smokeUsers.password ? env.app.smokeUsers.password.file : undefined;
  const dbUrlFile = 'file' in env.database.url ? env.database.url.file : undefined;
  if (!key || !pwFile || !dbUrlFile) throw new Error('the bench expects file secret references (the dev stack config)');
  const r = await shAsync('bash', [path.join(ROOT, 'bench', 'baseline', 'deploy.sh')], {
    env: {
      ...process.env,
      SSH_HOST: host.address,
      SSH_PORT: String(host.port),
      SSH_USER: host.user,
      SSH_KEY: key,
      HOST_KEY: host.hostKey,
      DEPLOY_ROOT: p.deployRoot,
      REPO: env.app.repo,
      REF: ref,
      RELEASE_ID: releaseId,
      PYTHON: env.app.python,
      BACKUP_DIR: p.backups,
      DB_URL_FILE: dbUrlFile,
      BASE_URL: env.app.baseUrl,
      SMOKE_USER: env.app.smokeUsers!.maker,
      SMOKE_PASSWORD_FILE: pwFile,
    },
  });
  if (r.code !== 0) throw new Error(`bench/baseline/deploy.sh failed (${r.code}): ${r.stderr.slice(-1500)}`);
  const steps: Record<string, number> = {};
  const at: Record<string, [number, number]> = {};
  for (const m of r.stdout.matchAll(/^STEP (\S+) (\d+) (\d+)$/gm)) {
    steps[m[1]!] = Number(m[3]) - Number(m[2]);
    at[m[1]!] = [Number(m[2]), Number(m[3])];
  }
  const raw = ['backup', 'migrate', 'restart', 'smoke'].reduce((a, s) => a + (steps[s] ?? NaN), 0);
  return { wallMs: r.ms, steps, criticalRawMs: raw, criticalWallMs: at.smoke![1] - at.backup![0] };
}

function summarizeSsh(calls: SshCall[]): { count: number; totalMs: number } {
  return { count: calls.length, totalMs: Math.round(calls.reduce((a, c) => a + c.ms, 0)) };
}

export async function benchDeploy(client: Client, config: StewardConfig, opts: Opts): Promise<{ figures: Figure[]; raw: unknown }> {
  const steward: { wallMs: number; criticalMs: number; status: string; steps: { name: string; ms?: number }[]; ssh: { count: number; totalMs: number }; sshDetail: string[] }[] = [];
  const script: ScriptRun[] = [];
  for (let i = 0; i < opts.runs; i++) {
    // Alternate which goes first, so neither always runs on a warmer host.
    const order = i % 2 === 0 ? ['steward', 'script'] : ['script', 'steward'];
    for (const who of order) {
      await resetToR02(client, config, opts);
      if (who === 'steward') {
        const { record, wallMs, sshCalls } = await stewardDeploy(client, config, 'r09-requirements');
        if (record.status !== 'deployed') throw new Error(`Steward deploy of r09 ended ${record.status}: ${record.reason ?? ''}`);
        const b = stepTimes(record, 'back up the database');
        const s = stepTimes(record, 'smoke tests');
        const run = {
          wallMs,
          criticalMs: b && s ? s.end - b.start : NaN,
          status: record.status,
          restartMode: record.restartMode,
          migrations: record.migrations?.planned.map((m) => m.name),
          steps: record.steps.map((x) => ({ name: x.name, ms: x.durationMs })),
          ssh: summarizeSsh(sshCalls),
          sshDetail: sshCalls.map((c) => `${Math.round(c.ms)} ms ${c.what}`),
        };
        steward.push(run);
        opts.log(`  run ${i + 1}/${opts.runs} Steward: ${(wallMs / 1000).toFixed(1)} s total, critical ${(run.criticalMs / 1000).toFixed(1)} s, ${run.ssh.count} SSH commands (${(run.ssh.totalMs / 1000).toFixed(1)} s in them), restart ${record.restartMode}`);
      } else {
        const r = await scriptDeploy(config, 'r09-requirements');
        script.push(r);
        opts.log(`  run ${i + 1}/${opts.runs} script:  ${(r.wallMs / 1000).toFixed(1)} s total, raw backup+migrate+restart+smoke ${(r.criticalRawMs / 1000).toFixed(1)} s`);
      }
    }
  }
  const stewardSteps = steward.flatMap((r) => r.steps);
  const why = `Steward per run: median ${stat(steward.map((r) => r.ssh.count))!.median} SSH commands (each a new channel + bash), ${(stat(steward.map((r) => r.ssh.totalMs))!.median / 1000).toFixed(1)} s inside them; ` +
    `steps it adds over the script: ${['plan migrations', 'financial invariants before', 'financial invariants after', 'tag the release', 'wait for the environment lock']
      .map((n) => `${n} ${Math.round(stat(stewardSteps.filter((s) => s.name === n).map((s) => s.ms ?? NaN))?.median ?? NaN)} ms`)
      .join(', ')}`;
  const figures = [
    ratioFigure({
      id: 'deploy.total',
      figure: 'deploy r02→r09 (code+requirement+migration): total',
      unit: 'ms',
      steward: stat(steward.map((r) => r.wallMs)),
      baseline: stat(script.map((r) => r.wallMs)),
      baselineLabel: 'deploy.sh, 1 SSH conn',
      factor: 0.9,
      why,
    }),
    ratioFigure({
      id: 'deploy.critical',
      figure: 'deploy: critical window (backup start → green smoke)',
      unit: 'ms',
      steward: stat(steward.map((r) => r.criticalMs)),
      baseline: stat(script.map((r) => r.criticalRawMs)),
      baselineLabel: 'raw pg_dump+migrate+restart+smoke',
      factor: 1.1,
      why: `Steward's window also holds backup verification (pg_restore --list, sha256), the invariants read before migrating, the switch, and waits for 3 healthz answers; ${why}`,
    }),
  ];
  return { figures, raw: { steward, script } };
}

export async function benchRollback(client: Client, config: StewardConfig, opts: Opts): Promise<{ figures: Figure[]; raw: unknown }> {
  // The previous release for the rollback: r03 (same requirements as r04, so the rollback is switch + HUP).
  const base = await stewardDeploy(client, config, 'r03-additive-migration');
  if (base.record.status !== 'deployed') throw new Error(`deploy of r03 before the rollback runs ended ${base.record.status}: ${base.record.reason ?? ''}`);
  const runs: { ms: number; smokeAfterOk: boolean; restartMode?: string; steps: { name: string; ms?: number }[] }[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const { record } = await stewardDeploy(client, config, 'r04-smoke-fails');
    const failedSmoke = stepTimes(record, 'smoke tests');
    const ok = record.status === 'rolled-back' && record.rollback?.smokeAfter?.ok === true;
    const ms = failedSmoke && record.finishedAt && ok ? Date.parse(record.finishedAt) - failedSmoke.end : NaN;
    runs.push({ ms, smokeAfterOk: ok, steps: record.steps.filter((s) => s.name.startsWith('rollback')).map((s) => ({ name: s.name, ms: s.durationMs })) });
    opts.log(`  run ${i + 1}/${opts.runs}: ${record.status}, failed smoke → previous release green in ${(ms / 1000).toFixed(2)} s`);
  }
  return {
    figures: [
      limitFigure({
        id: 'rollback',
        figure: 'rollback r04-smoke-fails: failed smoke → previous release green',
        unit: 'ms',
        steward: stat(runs.map((r) => r.ms)),
        baseline: null,
        baselineLabel: 'absolute target',
        limit: 3000,
        targetText: '≤ 3 s',
        why: 'the rollback is switch + HUP + /healthz ×3 + the full smoke checklist of the previous release (see raw.rollback for step times)',
      }),
    ],
    raw: runs,
  };
}
