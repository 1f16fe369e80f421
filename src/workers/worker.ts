// The steward worker: one task queue, every workflow and activity.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { redactingActivityInterceptor, redactingLogger } from './redaction';
import type { StewardConfig } from '../config/schema';
import { createActivities } from '../activities';
import { SshPool } from '../activities/remote/ssh';
import { lazyClient } from '../activities/lock';
import { createAuditActivities } from '../activities/audit/store';
import { loadWorkerPolicy, POLICY_SUBJECT, recordPolicy } from '../activities/policy';
import { loadConfig } from '../config/load';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { AUDIT_CHECKPOINT_SCHEDULE_ID } from '../contracts/audit';
import {
  connectFailureMessage,
  stewardDataConverter,
  TemporalConnectionError,
  temporalConnectionOptions,
} from '../temporal/connection';

export interface RunningWorker {
  worker: Worker;
  run: Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The compiled worker (dist/<stamp>/src, scripts/build.js) runs a workflow bundle made once per build and kept
 * beside it (dist/<stamp>/workflow-bundle-<preload>.js), made in a child process: no webpack run, and none of
 * webpack's memory, in the worker itself. Under tsx (tests, development) the SDK bundles src/workflows at each start.
 */
/**
 * Modules evaluated once per worker and shared by every cached workflow instead of once per workflow (the SDK's
 * reusable V8 context gives each workflow its own module cache otherwise). ON by default: ./workflow-preload, which
 * loads zod and yaml and primes zod's lazily written module state before the SDK freezes the shared modules (see
 * that file for why src/domain, whose zod schemas are objects zod extends at first parse, stays per workflow).
 * STEWARD_PRELOAD_MODULES=0 turns it off (the benchmark's comparison).
 */
export function preloadModules(env: NodeJS.ProcessEnv = process.env): string[] {
  return env.STEWARD_PRELOAD_MODULES === '0' ? [] : [require.resolve('./workflow-preload')];
}

export function prebuiltWorkflowBundle(workflowsPath: string): { codePath: string } | undefined {
  if (!workflowsPath.endsWith('.js') || process.env.STEWARD_WORKFLOW_BUNDLE === '0') return undefined;
  const preload = preloadModules();
  const codePath = path.join(path.dirname(workflowsPath), '..', '..', `workflow-bundle-${preload.length ? 'preload' : 'no-preload'}.js`);
  if (!existsSync(codePath)) {
    const script = [
      `const { bundleWorkflowCode } = require(${JSON.stringify(require.resolve('@temporalio/worker'))});`,
      'const fs = require("node:fs");',
      'const [, src, out, preload] = process.argv;',
      'bundleWorkflowCode({ workflowsPath: src, preloadModules: JSON.parse(preload) }).then(({ code }) => {',
      '  const tmp = `${out}.${process.pid}.tmp`;',
      '  fs.writeFileSync(tmp, code);',
      '  fs.renameSync(tmp, out);',
      '}).catch((e) => { console.error(e); process.exit(1); });',
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', script, workflowsPath, codePath, JSON.stringify(preload)], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) return undefined; // the SDK bundles in-process instead
  }
  return existsSync(codePath) ? { codePath } : undefined;
}

let runtimeInstalled = false;
/** The SDK logs at INFO by default (a webpack report per start); STEWARD_LOG_LEVEL chooses. */
function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level = (process.env.STEWARD_LOG_LEVEL ?? 'WARN').toUpperCase() as LogLevel;
  try {
    Runtime.install({ logger: redactingLogger(level) });
  } catch {
    // Already installed by the host process (tests): keep theirs.
  }
}

/**
 * §15 "no silent permission change": a worker that starts with another policy than the last one recorded appends
 * "policy-changed" with both digests (idempotent by event id, so two workers starting together record it once).
 */
export async function recordStartupPolicy(config: StewardConfig): Promise<{ digest: string; previous?: string } | undefined> {
  if (!config.audit) return undefined;
  const audit = createAuditActivities({ config });
  const loaded = loadWorkerPolicy(config);
  const rows = await audit.listAuditEvents({ subject: POLICY_SUBJECT });
  const previous = [...rows].reverse().find((r) => r.kind === 'policy-loaded')?.details.digest as string | undefined;
  await recordPolicy(audit, loaded, previous, new Date().toISOString());
  return { digest: loaded.digest, previous };
}

/**
 * The Schedule that signs the audit chain head at intervals (audit.checkpoints.everyMinutes). Idempotent: several
 * workers starting together leave one schedule. Its id names the task queue unless it is the standard one.
 */
export async function ensureCheckpointSchedule(config: StewardConfig, client: Client): Promise<string | undefined> {
  const cp = config.audit?.checkpoints;
  if (!cp) return undefined;
  const scheduleId = config.temporal.taskQueue === 'steward' ? AUDIT_CHECKPOINT_SCHEDULE_ID : `${AUDIT_CHECKPOINT_SCHEDULE_ID}@${config.temporal.taskQueue}`;
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: `${cp.everyMinutes}m` }] },
      action: { type: 'startWorkflow', workflowType: 'auditCheckpoint', taskQueue: config.temporal.taskQueue, args: [], workflowId: `audit-checkpoint-${config.temporal.taskQueue}` },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    // Another worker (or an earlier start) made it: keep it, but follow this config's interval when it changed, and
    // say so (two workers with different intervals would otherwise leave whichever started first, silently).
    const handle = client.schedule.getHandle(scheduleId);
    const every = (await handle.describe()).spec.intervals?.[0]?.every;
    const want = cp.everyMinutes * 60_000;
    const have = typeof every === 'number' ? every : every === undefined ? undefined : Number(every);
    if (have !== want) {
      console.warn(`steward worker: the audit checkpoint schedule ran every ${have === undefined ? '?' : have / 60_000} min; now every ${cp.everyMinutes} min (audit.checkpoints.everyMinutes)`);
      await handle.update((prev) => ({ ...prev, spec: { ...prev.spec, intervals: [{ every: `${cp.everyMinutes}m` }] } }));
    }
  }
  return scheduleId;
}

function workflowSource(
  workflowsPath: string,
): { workflowBundle: { codePath: string } } | { workflowsPath: string; bundlerOptions: { preloadModules: string[] } } {
  const bundle = prebuiltWorkflowBundle(workflowsPath);
  return bundle ? { workflowBundle: bundle } : { workflowsPath, bundlerOptions: { preloadModules: preloadModules() } };
}

export async function startWorker(config: StewardConfig, opts: { identity?: string; configFile?: string; checkpointSchedule?: boolean } = {}): Promise<RunningWorker> {
  installRuntime();
  // Fail at start on a policy that does not parse: no workflow may run on an unknown policy.
  loadWorkerPolicy(config);
  try {
    await recordStartupPolicy(config);
  } catch (err) {
    console.warn(`steward worker: could not record the policy in the audit log yet: ${(err as Error).message}`);
  }
  const dataConverter = stewardDataConverter(config);
  let connection: NativeConnection;
  const options = temporalConnectionOptions(config);
  try {
    connection = await NativeConnection.connect(options);
  } catch (err) {
    throw new TemporalConnectionError(await connectFailureMessage(config, err, options));
  }
  const ssh = new SshPool();
  const temporal = lazyClient(config);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...workflowSource(require.resolve('../workflows')),
    // The policy is read afresh from the worker's own config file at every gate (a freeze added counts at once).
    activities: createActivities({ config, ssh, temporal: temporal.get, ...(opts.configFile ? { currentConfig: () => loadConfig(opts.configFile) } : {}) }),
    ...(dataConverter ? { dataConverter } : {}),
    interceptors: { activity: [redactingActivityInterceptor] },
    ...(opts.identity ? { identity: opts.identity } : {}),
    // Changes wait days for people: keep a bounded number of workflow isolates in memory (each costs MBs) and
    // replay the rest from history when their next task comes (bench: 1,000 open changes rest in 316 MB with 60,
    // 515 MB with 150: a change waiting for people costs history, not memory).
    maxCachedWorkflows: Number(process.env.STEWARD_MAX_CACHED_WORKFLOWS ?? 60),
  });
  if (opts.checkpointSchedule) {
    await ensureCheckpointSchedule(config, await temporal.get()).catch((err: unknown) => console.warn(`steward worker: could not create the audit checkpoint schedule: ${(err as Error).message}`));
  }
  const run = worker.run().finally(async () => {
    ssh.close();
    await temporal.close();
    await connection.close();
  });
  return {
    worker,
    run,
    async shutdown() {
      worker.shutdown();
      await run;
    },
  };
}
