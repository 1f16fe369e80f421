// The steward worker: one task queue, every workflow and activity.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import type { StewardConfig } from '../config/schema';
import { createActivities } from '../activities';
import { SshPool } from '../activities/remote/ssh';
import { lazyClient } from '../activities/lock';

export interface RunningWorker {
  worker: Worker;
  run: Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The compiled worker (dist/<stamp>/src, scripts/build.js) runs a workflow bundle made once per build and kept
 * beside it (dist/<stamp>/workflow-bundle.js), made in a child process: no webpack run, and none of webpack's
 * memory, in the worker itself. Under tsx (tests, development) the SDK bundles src/workflows at each start as before.
 */
/**
 * Modules evaluated once per worker and shared by every cached workflow instead of once per workflow (the SDK's
 * reusable V8 context gives each workflow its own module cache otherwise): zod, yaml and the pure, stateless
 * domain (schemas built at module scope; its only module state is a cache of Intl formatters). Measured
 * (bench/open-changes.ts): most of a cached workflow's megabytes were these modules evaluated again per workflow.
 * STEWARD_PRELOAD_MODULES=0 turns it off (for the comparison in the benchmark).
 */
function preloadModules(): string[] {
  return process.env.STEWARD_PRELOAD_MODULES === '0' ? [] : ['zod', 'yaml', require.resolve('../domain')];
}

export function prebuiltWorkflowBundle(workflowsPath: string): { codePath: string } | undefined {
  if (!workflowsPath.endsWith('.js') || process.env.STEWARD_WORKFLOW_BUNDLE === '0') return undefined;
  const preload = preloadModules();
  const codePath = path.join(path.dirname(workflowsPath), '..', '..', `workflow-bundle${preload.length ? '' : '-no-preload'}.js`);
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
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // Already installed by the host process (tests): keep theirs.
  }
}

function workflowSource(
  workflowsPath: string,
): { workflowBundle: { codePath: string } } | { workflowsPath: string; bundlerOptions: { preloadModules: string[] } } {
  const bundle = prebuiltWorkflowBundle(workflowsPath);
  return bundle ? { workflowBundle: bundle } : { workflowsPath, bundlerOptions: { preloadModules: preloadModules() } };
}

export async function startWorker(config: StewardConfig, opts: { identity?: string } = {}): Promise<RunningWorker> {
  installRuntime();
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const ssh = new SshPool();
  const temporal = lazyClient(config);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...workflowSource(require.resolve('../workflows')),
    activities: createActivities({ config, ssh, temporal: temporal.get }),
    ...(opts.identity ? { identity: opts.identity } : {}),
    // Changes wait days for people: keep a bounded number of workflow isolates in memory (each costs MBs) and
    // replay the rest from history when their next task comes (bench: 1,000 open changes).
    maxCachedWorkflows: Number(process.env.STEWARD_MAX_CACHED_WORKFLOWS ?? 150),
  });
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
