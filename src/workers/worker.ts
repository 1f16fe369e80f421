// The steward worker: one task queue, every workflow and activity.
import { NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { redactingActivityInterceptor, redactingLogger } from './redaction';
import type { StewardConfig } from '../config/schema';
import { createActivities } from '../activities';
import { SshPool } from '../activities/remote/ssh';
import { lazyClient } from '../activities/lock';
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

export async function startWorker(config: StewardConfig, opts: { identity?: string } = {}): Promise<RunningWorker> {
  installRuntime();
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
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities({ config, ssh, temporal: temporal.get }),
    ...(dataConverter ? { dataConverter } : {}),
    interceptors: { activity: [redactingActivityInterceptor] },
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
