// 5. Many open changes: N changeLifecycle workflows waiting for a sign-off on one worker (a separate
//    `steward worker` process, so its RSS can be read from /proc), their start rate, and `steward list` (the real
//    CLI). Baselines: the same worker idle; starting N trivial waiting workflows; `temporal workflow list`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { stringify } from 'yaml';
import type { StewardConfig } from '../src/config/schema';
import { devLayout, toolsDir } from '../src/dev/paths';
import { parsePolicyConfig, parseProposal } from '../src/domain';
import { policyDigest } from '../src/domain/policy';
import { proposalDigest } from '../src/domain/proposal';
import { signAction } from '../src/client/signing';
import { keyringDir } from '../src/dev/stack';
import { changeWorkflowId, SA, type ChangeLifecycleInput } from '../src/workflows/lifecycle-api';
import { classifyRisk } from '../src/domain/classification';
import { listQuery, signerAndRoles } from '../src/client/list';
import { limitFigure, ratioFigure, ROOT, shAsync, sleep, stat, type Figure, type Opts } from './lib';

function rssMb(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

async function pool<T>(items: T[], concurrency: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

async function count(client: Client, query: string): Promise<number> {
  return (await client.workflow.count(query)).count;
}

/** The bench's proposal: a medium-risk feature that waits in `review` for its reviewer sign-off. */
export function benchProposal() {
  return parseProposal({
    title: 'Bench: record the deposit channel',
    type: 'feature',
    affectedModules: ['deposits'],
    description: 'An open change for the many-open-changes benchmark; it waits for its reviewer and is terminated afterwards.',
    reason: 'benchmark',
    financialImpact: false,
    complianceImpact: false,
    dataMigrationRequired: false,
    rollbackComplexity: 'low',
    proposer: 'alice',
    gitRef: 'r03-additive-migration',
    tests: 'written',
  });
}

/** Starts one change as `steward propose` does (input, summary, search attributes). */
export async function startBenchChange(client: Client, config: StewardConfig, taskQueue: string, changeId: string): Promise<void> {
  const proposal = benchProposal();
  const policy = parsePolicyConfig(config.policy ?? {});
  const { risk } = classifyRisk(proposal);
  // Signed by alice's demo key, as `steward propose` does.
  const aliceKey = path.join(keyringDir(devLayout()), 'alice', 'id_ed25519');
  const signedProposal = signAction(aliceKey, 'alice', { action: 'propose', subject: changeId, workflowId: changeWorkflowId(changeId), decision: {}, commit: null, proposalDigest: proposalDigest(proposal), policyDigest: policyDigest(policy) });
  const input: ChangeLifecycleInput = { changeId, proposal, proposedAtMs: Date.now(), signedProposal };
  // A loaded dev server (SQLite, 2 shared cores) sometimes fails a start with a transient error (seen: "Namespace not
  // found: 'default'" from its namespace cache, deadlines): try again, a few times; a start that did land is kept.
  for (let attempt = 1; ; attempt++) {
    try {
      await startOnce();
      return;
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'WorkflowExecutionAlreadyStartedError' && attempt > 1) return;
      if (attempt >= 5 || !/NamespaceNotFoundError|ServiceError|DEADLINE|UNAVAILABLE|deadline|unavailable/i.test(`${name} ${(err as Error).message}`)) throw err;
      await sleep(500 * attempt);
    }
  }
  async function startOnce(): Promise<void> {
    await client.workflow.start('changeLifecycle', {
      taskQueue,
      workflowId: changeWorkflowId(changeId),
      args: [input],
      staticSummary: proposal.title,
      typedSearchAttributes: [
        { key: SA.changeId, value: changeId },
        { key: SA.changeType, value: proposal.type },
        { key: SA.riskLevel, value: risk },
        { key: SA.changePhase, value: 'proposal' },
        { key: SA.targetEnvironment, value: 'production' },
      ],
    });
  }
}

export async function benchOpenChanges(client: Client, config: StewardConfig, opts: Opts): Promise<{ figures: Figure[]; raw: unknown }> {
  const n = opts.quick ? 50 : 1000;
  const tag = Date.now().toString(36);
  const taskQueue = `bench-open-${tag}`;
  const dir = path.join(devLayout().home, 'bench');
  mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, `open-changes-${tag}.yaml`);
  writeFileSync(configFile, stringify({ ...config, temporal: { ...config.temporal, taskQueue } }), { mode: 0o600 });
  const env = { ...process.env, STEWARD_CONFIG: configFile, STEWARD_LOG_LEVEL: 'ERROR' };
  const worker: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'bin', 'steward.js'), 'worker'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  worker.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => worker.once('exit', r));
  const ids = Array.from({ length: n }, (_, i) => `BOPEN-${tag}-${i}`);
  const waitingQuery = `WorkflowType = "changeLifecycle" AND TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running" AND ChangePhase = "review"`;
  const raw: Record<string, unknown> = { n, taskQueue };
  const idleIds: string[] = [];
  const listOnlyIds: string[] = [];
  const maxCached = Number(process.env.STEWARD_MAX_CACHED_WORKFLOWS ?? 60); // the worker's default (src/workers/worker.ts)
  // Leftovers of an interrupted earlier run would be listed too: terminate and delete them first.
  const leftovers: string[] = [];
  for await (const w of client.workflow.list({ query: 'WorkflowType = "changeLifecycle" OR WorkflowType = "idleWait"' })) {
    if (/^(change-BOPEN-|bench-idle-)/.test(w.workflowId)) leftovers.push(w.workflowId);
  }
  await pool(leftovers, 20, async (id) => {
    await client.workflow.getHandle(id).terminate('leftover of an earlier benchmark').catch(() => undefined);
    await client.workflowService.deleteWorkflowExecution({ namespace: config.temporal.namespace, workflowExecution: { workflowId: id } }).catch(() => undefined);
  });
  if (leftovers.length) opts.log(`  removed ${leftovers.length} leftover workflows of an earlier run`);
  try {
    // The worker is up when it says it polls; then a few seconds for its start-up garbage to settle.
    const upBy = Date.now() + 60_000;
    while (!stderr.includes('polling') && Date.now() < upBy && worker.exitCode === null) await sleep(100);
    if (!stderr.includes('polling')) throw new Error(`the worker did not start: ${stderr.slice(-1000)}`);
    await sleep(3000);
    const idle: number[] = [];
    for (let i = 0; i < 5; i++) {
      idle.push(rssMb(worker.pid!));
      await sleep(200);
    }
    // Start N changes (20 starts in flight), as `steward propose` does.
    const t0 = performance.now();
    await pool(ids, 20, (changeId) => startBenchChange(client, config, taskQueue, changeId));
    const startMs = performance.now() - t0;
    // Until every change waits for its reviewer (its audit events appended, phase `review`).
    let waiting = 0;
    const deadline = Date.now() + (opts.quick ? 120_000 : 900_000);
    while (Date.now() < deadline) {
      waiting = await count(client, waitingQuery).catch(() => 0);
      if (waiting >= n) break;
      await sleep(1000);
    }
    const settleMs = performance.now() - t0;
    opts.log(`  ${n} changes started in ${(startMs / 1000).toFixed(1)} s (${(n / (startMs / 1000)).toFixed(0)}/s); ${waiting} waiting for review after ${(settleMs / 1000).toFixed(1)} s`);
    await sleep(2000);
    const loaded: number[] = [];
    for (let i = 0; i < 5; i++) {
      loaded.push(rssMb(worker.pid!));
      await sleep(200);
    }
    const hwm = Number(readFileSync(`/proc/${worker.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/)?.[1] ?? NaN) / 1024;
    // Start rate baseline: the same number of trivial waiting workflows, same concurrency, same server.
    idleIds.push(...Array.from({ length: n }, (_, i) => `bench-idle-${tag}-${i}`));
    const t1 = performance.now();
    await pool(idleIds, 20, async (id) => {
      await client.workflow.start('idleWait', { taskQueue: `${taskQueue}-idle`, workflowId: id, args: [] });
    });
    const idleStartMs = performance.now() - t1;
    // As many changes again that no worker runs (a task queue nobody polls): they are listed like the others
    // (same type and search attributes), so `steward list` reads 2n changes.
    listOnlyIds.push(...Array.from({ length: n }, (_, i) => `BOPEN-${tag}-list-${i}`));
    await pool(listOnlyIds, 20, (changeId) => startBenchChange(client, config, `${taskQueue}-unpolled`, changeId));
    // `steward list` (the real CLI) listing every change, vs `temporal workflow list` with the same query.
    const list: number[] = [];
    const temporalList: number[] = [];
    const mine: number[] = [];
    const temporalMine: number[] = [];
    let listed = 0;
    let listedMine = 0;
    // `--awaiting-me` as bob (a reviewer: every polled change waits for a reviewer), and the same query by hand.
    const mineQuery = listQuery({ awaitingAnyOf: signerAndRoles(parsePolicyConfig(config.policy ?? {}), 'bob') });
    const temporalArgs = (query: string) => ['workflow', 'list', '--address', config.temporal.address, '--namespace', config.temporal.namespace, '--query', query, '--limit', '1000000', '--output', 'json'];
    const stewardList = async (args: string[]): Promise<{ ms: number; rows: number }> => {
      const out = path.join(dir, `list-${tag}.json`);
      const r = await shAsync('sh', ['-c', '"$1" "$2" list --limit 1000000 --json "$@" > "$3"'.replace('"$@"', args.map((_, i) => `"$${i + 4}"`).join(' ')), 'list', process.execPath, path.join(ROOT, 'bin', 'steward.js'), out, ...args], { env });
      if (r.code !== 0) throw new Error(`steward list ${args.join(' ')} failed: ${r.stderr.slice(-500)}`);
      const rows = (JSON.parse(readFileSync(out, 'utf8')) as { changes: unknown[] }).changes.length;
      rmSync(out, { force: true });
      return { ms: r.ms, rows };
    };
    const temporalCli = async (query: string): Promise<number> => {
      const t = await shAsync(path.join(toolsDir(), 'bin', 'temporal'), temporalArgs(query));
      if (t.code !== 0) throw new Error(`temporal workflow list failed: ${t.stderr.slice(-500)}`);
      return t.ms;
    };
    for (let i = 0; i < opts.runs; i++) {
      const all = await stewardList([]);
      listed = all.rows;
      list.push(all.ms);
      temporalList.push(await temporalCli('WorkflowType = "changeLifecycle"'));
      const me = await stewardList(['--awaiting-me', '--as', 'bob']);
      listedMine = me.rows;
      mine.push(me.ms);
      temporalMine.push(await temporalCli(mineQuery));
    }
    opts.log(`  steward list --awaiting-me --as bob (${listedMine} changes): ${mine.map((x) => x.toFixed(0)).join(', ')} ms; temporal workflow list, same query: ${temporalMine.map((x) => x.toFixed(0)).join(', ')} ms`);
    opts.log(`  steward list (${listed} changes): ${list.map((x) => x.toFixed(0)).join(', ')} ms; temporal workflow list: ${temporalList.map((x) => x.toFixed(0)).join(', ')} ms`);
    Object.assign(raw, { startMs, settleMs, waiting, idleRssMb: idle, loadedRssMb: loaded, hwmMb: hwm, idleStartMs, listMs: list, temporalListMs: temporalList, listed, mineQuery, awaitingMeMs: mine, temporalAwaitingMeMs: temporalMine, listedMine });
    const perRun = (x: number) => [x];
    return {
      figures: [
        limitFigure({
          id: 'open.rss',
          figure: `${n} open changes on one worker: worker RSS`,
          unit: 'MB',
          steward: stat(loaded),
          baseline: stat(idle),
          baselineLabel: 'same worker, idle',
          limit: 400,
          targetText: '≤ 400 MB',
        }),
        {
          ...ratioFigure({
            id: 'open.startRate',
            figure: `${n} open changes: start rate (20 starts in flight)`,
            unit: '/s',
            steward: stat(perRun(n / (startMs / 1000))),
            baseline: stat(perRun(n / (idleStartMs / 1000))),
            baselineLabel: 'trivial waiting workflow',
            factor: Infinity,
          }),
          target: 'reported',
          met: null,
          note: `all ${waiting} waiting for review ${(settleMs / 1000).toFixed(1)} s after the first start (${(n / (settleMs / 1000)).toFixed(1)} changes/s through proposal → review with their audit events)`,
        },
        {
          ...ratioFigure({ id: 'open.perChange', figure: `${n} open changes: RSS per open change, (loaded − idle) / ${n}`, unit: 'MB', steward: stat(loaded.map((x, i) => (x - idle[i]!) / n)), baseline: null, baselineLabel: 'no baseline', factor: Infinity }),
          target: 'reported',
          met: null,
        },
        {
          ...ratioFigure({
            id: 'open.perCached',
            figure: `${n} open changes: RSS per cached workflow, (loaded − idle) / ${Math.min(n, maxCached)}`,
            unit: 'MB',
            steward: stat(loaded.map((x, i) => (x - idle[i]!) / Math.min(n, maxCached))),
            baseline: null,
            baselineLabel: `workflow cache ${maxCached}`,
            factor: Infinity,
          }),
          target: 'reported',
          met: null,
        },
        ratioFigure({
          id: 'open.list',
          figure: `steward list (all ${listed} changes, real CLI incl. Node start)`,
          unit: 'ms',
          steward: stat(list),
          baseline: stat(temporalList),
          baselineLabel: 'temporal workflow list, same query',
          factor: 1.1,
          why: 'Node start is in it (see the CLI start rows)',
        }),
        ratioFigure({
          id: 'open.listAwaitingMe',
          figure: `steward list --awaiting-me as bob (${listedMine} of ${listed} changes wait for him or a reviewer)`,
          unit: 'ms',
          steward: stat(mine),
          baseline: stat(temporalMine),
          baselineLabel: 'temporal workflow list, same query',
          factor: 1.1,
          why: 'it also validates the policy and reads the key (ssh-keygen -y when there is no .pub)',
        }),
      ],
      raw,
    };
  } finally {
    // Terminate (and delete) everything this bench started, so the next run lists the same number.
    const t2 = performance.now();
    await pool([...ids.map(changeWorkflowId), ...listOnlyIds.map(changeWorkflowId), ...idleIds], 20, async (id) => {
      await client.workflow.getHandle(id).terminate('benchmark finished').catch(() => undefined);
      await client.workflowService.deleteWorkflowExecution({ namespace: config.temporal.namespace, workflowExecution: { workflowId: id } }).catch(() => undefined);
    });
    opts.log(`  terminated and deleted ${ids.length + listOnlyIds.length + idleIds.length} workflows in ${((performance.now() - t2) / 1000).toFixed(1)} s`);
    worker.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (worker.exitCode === null) worker.kill('SIGKILL');
    if (stderr.trim()) raw.workerStderr = stderr.slice(-2000);
  }
}
