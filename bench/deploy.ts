// 1. A production deploy (code + new requirement + additive migration: r02 on schema 0002 → r09) by Steward vs
//    bench/baseline/deploy.sh, every run from the same reset state. 2. Rollback of r04-smoke-fails.
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { StewardConfig } from '../src/config/schema';
import { startWorker } from '../src/workers/worker';
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

function summarizeSsh(calls: SshCall[]): { count: number; commands: number; totalMs: number } {
  return { count: calls.length, commands: calls.reduce((a, c) => a + c.commands, 0), totalMs: Math.round(calls.reduce((a, c) => a + c.ms, 0)) };
}

type StewardRun = {
  wallMs: number;
  criticalMs: number;
  status: string;
  restartMode?: string;
  migrations?: string[];
  steps: { name: string; ms?: number }[];
  ssh: { count: number; commands: number; totalMs: number };
  sshDetail: string[];
};

async function timedStewardDeploy(client: Client, config: StewardConfig): Promise<StewardRun> {
  const { record, wallMs, sshCalls } = await stewardDeploy(client, config, 'r09-requirements');
  if (record.status !== 'deployed') throw new Error(`Steward deploy of r09 ended ${record.status}: ${record.reason ?? ''}`);
  const b = stepTimes(record, 'back up the database');
  // The window ends with the last host's green smoke (one host: "smoke tests"; a fleet: "smoke tests on <host>").
  const smokeEnds = record.steps.filter((x) => x.name.startsWith('smoke tests') && x.finishedAt).map((x) => Date.parse(x.finishedAt!));
  return {
    wallMs,
    criticalMs: b && smokeEnds.length ? Math.max(...smokeEnds) - b.start : NaN,
    status: record.status,
    restartMode: record.restartMode,
    migrations: record.migrations?.planned.map((m) => m.name),
    steps: record.steps.map((x) => ({ name: x.name, ms: x.durationMs })),
    ssh: summarizeSsh(sshCalls),
    sshDetail: sshCalls.map((c) => `${Math.round(c.ms)} ms ${c.what}`),
  };
}

export async function benchDeploy(client: Client, config: StewardConfig, opts: Opts, fleetConfig?: StewardConfig): Promise<{ figures: Figure[]; raw: unknown }> {
  const steward: StewardRun[] = [];
  const fleet: StewardRun[] = [];
  const script: ScriptRun[] = [];
  const who = fleetConfig ? (['steward', 'script', 'fleet'] as const) : (['steward', 'script'] as const);
  for (let i = 0; i < opts.runs; i++) {
    // Rotate which goes first, so none always runs on a warmer host.
    const order = [...who.slice(i % who.length), ...who.slice(0, i % who.length)];
    for (const w of order) {
      if (w === 'fleet') {
        await resetToR02(client, fleetConfig!, opts);
        const run = await timedStewardDeploy(client, fleetConfig!);
        fleet.push(run);
        opts.log(`  run ${i + 1}/${opts.runs} Steward, 2 hosts: ${(run.wallMs / 1000).toFixed(1)} s total, critical ${(run.criticalMs / 1000).toFixed(1)} s, ${run.ssh.count} SSH execs (${run.ssh.commands} commands)`);
        continue;
      }
      await resetToR02(client, config, opts);
      if (w === 'steward') {
        const run = await timedStewardDeploy(client, config);
        steward.push(run);
        opts.log(`  run ${i + 1}/${opts.runs} Steward: ${(run.wallMs / 1000).toFixed(1)} s total, critical ${(run.criticalMs / 1000).toFixed(1)} s, ${run.ssh.count} SSH execs (${run.ssh.commands} commands, ${(run.ssh.totalMs / 1000).toFixed(1)} s in them), restart ${run.restartMode}`);
      } else {
        const r = await scriptDeploy(config, 'r09-requirements');
        script.push(r);
        opts.log(`  run ${i + 1}/${opts.runs} script:  ${(r.wallMs / 1000).toFixed(1)} s total, raw backup+migrate+restart+smoke ${(r.criticalRawMs / 1000).toFixed(1)} s`);
      }
    }
  }
  const stewardSteps = steward.flatMap((r) => r.steps);
  const why = `Steward per run: median ${stat(steward.map((r) => r.ssh.count))!.median} SSH execs (one channel each) running ${stat(steward.map((r) => r.ssh.commands))!.median} commands, ${(stat(steward.map((r) => r.ssh.totalMs))!.median / 1000).toFixed(1)} s inside them; ` +
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
  if (fleetConfig) {
    figures.push(
      ratioFigure({
        id: 'deploy.fleet.total',
        figure: 'deploy r02→r09 to 2 hosts (prepared in parallel, rolled host by host): total',
        unit: 'ms',
        steward: stat(fleet.map((r) => r.wallMs)),
        baseline: stat(steward.map((r) => r.wallMs)),
        baselineLabel: 'Steward, 1 host, same run',
        factor: 1.2,
        why: `2 hosts per run: median ${stat(fleet.map((r) => r.ssh.count))?.median} SSH execs running ${stat(fleet.map((r) => r.ssh.commands))?.median} commands; both "hosts" are sshd on this one 2-core machine, so the two venv builds (pip, CPU-bound) share the same cores, which separate hosts would not`,
      }),
      { ...ratioFigure({
        id: 'deploy.fleet.critical',
        figure: 'deploy to 2 hosts: critical window (backup start → last green smoke)',
        unit: 'ms',
        steward: stat(fleet.map((r) => r.criticalMs)),
        baseline: stat(steward.map((r) => r.criticalMs)),
        baselineLabel: 'Steward, 1 host, same run',
        factor: Number.POSITIVE_INFINITY,
        targetText: 'reported',
        why: 'the second host is switched, restarted and smoke-tested after the first is green (rollout batch size 1)',
      }), met: null },
    );
  }
  return { figures, raw: { steward, script, fleet } };
}

async function rollbackRuns(client: Client, config: StewardConfig, opts: Opts, label: string) {
  // The previous release for the rollback: r03 (same requirements as r04, so the rollback is switch + HUP).
  const base = await stewardDeploy(client, config, 'r03-additive-migration');
  if (base.record.status !== 'deployed') throw new Error(`deploy of r03 before the rollback runs ended ${base.record.status}: ${base.record.reason ?? ''}`);
  const runs: { ms: number; smokeAfterOk: boolean; hostsRolledBack: string[]; steps: { name: string; ms?: number }[] }[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const { record } = await stewardDeploy(client, config, 'r04-smoke-fails');
    // From the failed smoke (the last batch's smoke steps: a red smoke is a result, the step itself is "ok") to the
    // record's end: every switched host back and the smoke of the previous release green on every host.
    const smokes = record.steps.filter((x) => x.name.startsWith('smoke tests') && !x.name.includes('previous') && x.finishedAt);
    const failedEnd = smokes.length ? Math.max(...smokes.map((x) => Date.parse(x.finishedAt!))) : NaN;
    const ok = record.status === 'rolled-back' && record.rollback?.smokeAfter?.ok === true;
    const ms = ok && record.finishedAt ? Date.parse(record.finishedAt) - failedEnd : NaN;
    const hostsRolledBack = (record.hosts ?? []).filter((h) => h.status === 'rolled-back').map((h) => h.name);
    runs.push({ ms, smokeAfterOk: ok, hostsRolledBack, steps: record.steps.filter((x) => x.name.startsWith('rollback')).map((x) => ({ name: x.name, ms: x.durationMs })) });
    opts.log(`  run ${i + 1}/${opts.runs} ${label}: ${record.status}, rolled back on ${hostsRolledBack.join(', ') || '(record has no hosts)'}, failed smoke → previous release green in ${(ms / 1000).toFixed(2)} s`);
  }
  return runs;
}

export async function benchRollback(client: Client, config: StewardConfig, opts: Opts, fleetConfig?: StewardConfig): Promise<{ figures: Figure[]; raw: unknown }> {
  const runs = await rollbackRuns(client, config, opts, '1 host');
  const figures: Figure[] = [
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
  ];
  let fleetRuns: Awaited<ReturnType<typeof rollbackRuns>> = [];
  if (fleetConfig) {
    // Both hosts in one batch, so both are switched to r04 before its smoke fails: the rollback is on every host.
    // The batch size is the worker's config: a worker of its own for this figure.
    const both = structuredClone(fleetConfig);
    both.temporal.taskQueue = `${fleetConfig.temporal.taskQueue}-both`;
    both.environments[ENV]!.rollout.batchSize = both.environments[ENV]!.hosts.length;
    const worker = await startWorker(both, { identity: `bench-both-${process.pid}` });
    try {
      fleetRuns = await rollbackRuns(client, both, opts, '2 hosts');
    } finally {
      await worker.shutdown();
    }
    figures.push(
      limitFigure({
        id: 'rollback.fleet',
        figure: 'rollback on 2 hosts (both switched): failed smoke → previous release green on every host',
        unit: 'ms',
        steward: stat(fleetRuns.map((r) => r.ms)),
        baseline: null,
        baselineLabel: 'absolute target',
        limit: 3000,
        targetText: '≤ 3 s',
        why: 'both hosts switched back and restarted in parallel, then the smoke checklist of the previous release on each host in parallel',
      }),
    );
  }
  return { figures, raw: { oneHost: runs, fleet: fleetRuns } };
}
