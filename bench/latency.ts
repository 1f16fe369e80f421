// 4. Human action latency: an accepted `approve` Update → the start of the next activity, vs a plain Signal →
//    activity on the same server. One bench workflow per mode runs `n` approvals; the activity (in this
//    process) records Date.now() when it starts.
import { Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { StewardConfig } from '../src/config/schema';
import { NativeConnection } from '@temporalio/worker';
import { percentile, stat, type Figure, type Opts } from './lib';

type Waiter = (startedAt: number) => void;
const waiters = new Map<number, Waiter>();

export async function startBenchWorker(config: StewardConfig, taskQueue: string) {
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities: {
      async mark(seq: number): Promise<number> {
        const now = Date.now();
        waiters.get(seq)?.(now);
        return now;
      },
    },
  });
  const run = worker.run();
  return {
    async shutdown() {
      worker.shutdown();
      await run;
      await connection.close();
    },
  };
}

let seq = 0;

async function series(client: Client, taskQueue: string, mode: 'update' | 'signal', n: number) {
  const handle = await client.workflow.start('approvalLatency', { taskQueue, workflowId: `bench-latency-${mode}-${Date.now()}`, args: [n + 3] });
  const fromReturn: number[] = [];
  const fromCall: number[] = [];
  for (let i = 0; i < n + 3; i++) {
    const s = ++seq;
    const started = new Promise<number>((resolve) => waiters.set(s, resolve));
    const tCall = Date.now();
    if (mode === 'update') await handle.executeUpdate('approve', { args: [{ by: 'carol', seq: s }] });
    else await handle.signal('approveSignal', { by: 'carol', seq: s });
    const tReturn = Date.now();
    const at = await started;
    waiters.delete(s);
    if (i >= 3) {
      // The first three warm the worker's cache and connections.
      fromReturn.push(at - tReturn);
      fromCall.push(at - tCall);
    }
  }
  await handle.signal('stop').catch(() => undefined);
  return { fromReturn, fromCall };
}

export async function benchLatency(client: Client, config: StewardConfig, opts: Opts): Promise<{ figures: Figure[]; raw: unknown }> {
  const taskQueue = `bench-latency-${process.pid}`;
  const worker = await startBenchWorker(config, taskQueue);
  const n = opts.quick ? 5 : 200;
  const runs: { update: { p50: number; p99: number; callP50: number; callP99: number }; signal: { p50: number; p99: number; callP50: number; callP99: number } }[] = [];
  try {
    for (let i = 0; i < opts.runs; i++) {
      const u = await series(client, taskQueue, 'update', n);
      const s = await series(client, taskQueue, 'signal', n);
      const sum = (x: { fromReturn: number[]; fromCall: number[] }) => ({
        p50: percentile(x.fromReturn, 50),
        p99: percentile(x.fromReturn, 99),
        callP50: percentile(x.fromCall, 50),
        callP99: percentile(x.fromCall, 99),
      });
      runs.push({ update: sum(u), signal: sum(s) });
      opts.log(`  run ${i + 1}/${opts.runs} (${n} each): update return→activity p50 ${runs[i]!.update.p50} ms p99 ${runs[i]!.update.p99} ms (call→activity p99 ${runs[i]!.update.callP99} ms); signal p50 ${runs[i]!.signal.p50} ms p99 ${runs[i]!.signal.p99} ms`);
    }
  } finally {
    await worker.shutdown();
  }
  const fig = (id: string, label: string, key: 'p50' | 'p99' | 'callP99', limit: number, target: string): Figure => {
    const steward = stat(runs.map((r) => r.update[key]));
    const baseline = stat(runs.map((r) => r.signal[key]));
    const met = limit === Infinity || !steward ? null : steward.median <= limit;
    return {
      id,
      figure: label,
      unit: 'ms',
      steward,
      baseline,
      baselineLabel: 'Signal → activity',
      ratio: steward && baseline && baseline.median > 0 ? steward.median / baseline.median : null,
      target,
      met,
      ...(met === false ? { note: `missed by ${(steward!.median - limit).toFixed(0)} ms` } : {}),
    };
  };
  return {
    figures: [
      fig('latency.p50', `approve Update accepted → next activity starts: p50 over ${n}`, 'p50', Infinity, 'reported'),
      fig('latency.p99', `approve Update accepted → next activity starts: p99 over ${n}`, 'p99', 100, '≤ 100 ms'),
      fig('latency.callP99', `approve Update sent → next activity starts: p99 over ${n}`, 'callP99', Infinity, 'reported'),
    ],
    raw: runs,
  };
}
