// 3. Availability: constant load on the app while a code-only release deploys (r01 ↔ r02), vs the same load for
//    the same time with no deployment. wrk on loopback (one new connection per request: "Connection: close"),
//    or a bounded-concurrency Node loop when wrk is missing.
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import type { Client } from '@temporalio/client';
import type { StewardConfig } from '../src/config/schema';
import { ENV, healthz, stewardDeploy } from './hosts';
import { limitFigure, percentile, sleep, stat, type Figure, type Opts } from './lib';

export interface LoadResult {
  tool: 'wrk' | 'node';
  requests: number;
  failed: number;
  non2xx3xx: number;
  socketErrors: number;
  p99Ms: number;
  durationMs: number;
}

const CONCURRENCY = 8;

export function haveWrk(): boolean {
  return spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;
}

/** Starts load; `stop()` ends it (or it ends after maxSeconds) and resolves with the counts. */
export function startLoad(url: string, maxSeconds: number): { stop: () => void; done: Promise<LoadResult> } {
  if (haveWrk()) {
    const t0 = performance.now();
    const child = spawn('wrk', ['-t1', `-c${CONCURRENCY}`, `-d${maxSeconds}s`, '--latency', '--timeout', '5s', '-H', 'Connection: close', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const done = new Promise<LoadResult>((resolve) =>
      child.on('close', () => {
        const num = (re: RegExp) => Number(out.match(re)?.[1] ?? 0);
        const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
        const socketErrors = sock ? sock.slice(1).reduce((a, x) => a + Number(x), 0) : 0;
        const non = num(/Non-2xx or 3xx responses: (\d+)/);
        const p99 = out.match(/^\s*99%\s+([\d.]+)(us|ms|s)\b/m);
        const p99Ms = p99 ? Number(p99[1]) * (p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1) : NaN;
        resolve({ tool: 'wrk', requests: num(/(\d+) requests in/), failed: non + socketErrors, non2xx3xx: non, socketErrors, p99Ms, durationMs: performance.now() - t0 });
      }),
    );
    return { stop: () => child.kill('SIGINT'), done };
  }
  // Fallback: CONCURRENCY loops, each request on a new connection, bounded by maxSeconds.
  let stopped = false;
  const deadline = Date.now() + maxSeconds * 1000;
  const lat: number[] = [];
  let non = 0;
  let sock = 0;
  const t0 = performance.now();
  const one = () =>
    new Promise<void>((resolve) => {
      const s = performance.now();
      const req = http.get(url, { agent: false, timeout: 5000, headers: { connection: 'close' } }, (res) => {
        res.resume();
        res.on('end', () => {
          lat.push(performance.now() - s);
          if (!res.statusCode || res.statusCode >= 400) non++;
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        sock++;
        resolve();
      });
    });
  const loop = async () => {
    while (!stopped && Date.now() < deadline) await one();
  };
  const done = Promise.all(Array.from({ length: CONCURRENCY }, loop)).then(() => ({
    tool: 'node' as const,
    requests: lat.length + sock,
    failed: non + sock,
    non2xx3xx: non,
    socketErrors: sock,
    p99Ms: percentile(lat, 99),
    durationMs: performance.now() - t0,
  }));
  return { stop: () => (stopped = true), done };
}

export async function benchAvailability(client: Client, config: StewardConfig, opts: Opts): Promise<{ figures: Figure[]; raw: unknown }> {
  const url = new URL('/healthz', config.environments[ENV]!.app.baseUrl).toString();
  const during: (LoadResult & { release: string; deployMs: number; status: string; restartMode?: string })[] = [];
  const idle: LoadResult[] = [];
  let next = (await healthz(config))?.release === 'r01-baseline' ? 'r02-cosmetic' : 'r01-baseline';
  for (let i = 0; i < opts.runs; i++) {
    const load = startLoad(url, 300);
    await sleep(1000);
    const t0 = performance.now();
    const { record } = await stewardDeploy(client, config, next);
    const deployMs = performance.now() - t0;
    await sleep(1000);
    load.stop();
    const r = await load.done;
    during.push({ ...r, release: next, deployMs, status: record.status, restartMode: record.restartMode });
    opts.log(`  run ${i + 1}/${opts.runs} deploy ${next} (${record.status}, ${record.restartMode}): ${r.requests} requests, ${r.failed} failed, p99 ${r.p99Ms.toFixed(1)} ms`);
    if (record.status !== 'deployed') throw new Error(`code-only deploy of ${next} ended ${record.status}: ${record.reason ?? ''}`);
    // The same load, for the same time, with no deployment.
    const base = startLoad(url, Math.max(1, Math.round(r.durationMs / 1000)));
    const b = await base.done;
    idle.push(b);
    opts.log(`  run ${i + 1}/${opts.runs} no deploy: ${b.requests} requests, ${b.failed} failed, p99 ${b.p99Ms.toFixed(1)} ms`);
    next = next === 'r01-baseline' ? 'r02-cosmetic' : 'r01-baseline';
  }
  const tool = during[0]?.tool ?? 'wrk';
  return {
    figures: [
      limitFigure({
        id: 'availability.failed',
        figure: `availability: failed requests during a code-only deploy (${tool}, ${CONCURRENCY} conns)`,
        unit: 'count',
        steward: stat(during.map((r) => r.failed)),
        baseline: stat(idle.map((r) => r.failed)),
        baselineLabel: 'same load, no deploy',
        limit: 0,
        targetText: '0 failed',
        why: 'see raw.availability for non-2xx/3xx vs socket errors per run',
      }),
      {
        ...limitFigure({
          id: 'availability.p99',
          figure: 'availability: p99 latency under load during the deploy',
          unit: 'ms',
          steward: stat(during.map((r) => r.p99Ms)),
          baseline: stat(idle.map((r) => r.p99Ms)),
          baselineLabel: 'same load, no deploy',
          limit: Infinity,
          targetText: 'reported',
        }),
        met: null,
      },
    ],
    raw: { during, idle },
  };
}
