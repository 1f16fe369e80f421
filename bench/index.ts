// `npm run bench [-- --quick] [-- --only deploy,rollback,availability,latency,open,backup,cli]`
// Starts or reuses the dev stack (STEWARD_HOME / STEWARD_PORT_OFFSET / STEWARD_CONFIG choose which), runs each
// benchmark against its baseline in the same run on the same hosts and data, prints one table and writes the
// same as JSON to bench/results/<timestamp>.json. Stops the stack only if it started it. Never asserts on time.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { devLayout } from '../src/dev/paths';
import { down, status, up } from '../src/dev/stack';
import { startWorker } from '../src/workers/worker';
import { benchAvailability, haveWrk } from './availability';
import { benchBackup } from './backup';
import { benchCli } from './cli';
import { benchDeploy, benchRollback } from './deploy';
import { healthz, resetToR02 } from './hosts';
import { benchLatency } from './latency';
import { benchConfig, connect, renderTable, ROOT, type Figure, type Opts } from './lib';
import { benchOpenChanges } from './open-changes';

const BENCHES = ['availability', 'deploy', 'rollback', 'latency', 'open', 'backup', 'cli'] as const;

function parseArgs(argv: string[]): Opts {
  const quick = argv.includes('--quick');
  const runsArg = argv.find((a) => a.startsWith('--runs='));
  const onlyIdx = argv.indexOf('--only');
  const only = onlyIdx >= 0 ? new Set((argv[onlyIdx + 1] ?? '').split(',')) : undefined;
  for (const name of only ?? []) {
    if (!(BENCHES as readonly string[]).includes(name)) {
      process.stderr.write(`bench: --only ${JSON.stringify(name)} is not a benchmark; choose from ${BENCHES.join(', ')}\n`);
      process.exit(2);
    }
  }
  const runs = runsArg ? Math.max(1, Number(runsArg.split('=')[1])) : quick ? 1 : 5;
  const t0 = Date.now();
  return { quick, runs, only, log: (l) => process.stderr.write(`[bench +${((Date.now() - t0) / 1000).toFixed(0)}s] ${l}\n`) };
}

function ensureLoadTools(log: (l: string) => void): void {
  if (haveWrk()) return;
  if (process.getuid?.() === 0) {
    log('installing wrk and hyperfine (apt-get)');
    const r = spawnSync('sh', ['-c', 'apt-get install -y --no-install-recommends wrk hyperfine || (apt-get update && apt-get install -y --no-install-recommends wrk hyperfine)'], { stdio: 'ignore' });
    if (r.status === 0 && haveWrk()) return;
  }
  log('wrk is not available: the availability load is a bounded Node loop instead');
}

function machine() {
  const mem = readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+) kB/)?.[1];
  return {
    nproc: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: mem ? Math.round((Number(mem) / 1024 / 1024) * 10) / 10 : null,
    kernel: os.release(),
    os: (() => {
      try {
        return readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="([^"]+)"/)?.[1] ?? os.type();
      } catch {
        return os.type();
      }
    })(),
    node: process.version,
  };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const log = opts.log;
  const env = process.env;
  const startedAt = new Date();
  const before = await status(env);
  const startedStack = !before.every((p) => p.ready);
  log(startedStack ? 'starting the dev stack' : 'reusing the running dev stack');
  try {
    await benchOnStack(opts, startedAt);
  } finally {
    // Stopped whatever happened (a stack that came up half, a worker that did not start, a failed figure).
    if (startedStack) {
      log('stopping the dev stack this run started');
      await down((l) => log(`  ${l}`), env);
    }
  }
}

async function benchOnStack(opts: ReturnType<typeof parseArgs>, startedAt: Date): Promise<void> {
  const log = opts.log;
  const env = process.env;
  const parts = await up((l) => log(`  ${l}`), env);
  if (!parts.every((p) => p.ready)) throw new Error(`the dev stack did not come up: ${JSON.stringify(parts)}`);
  ensureLoadTools(log);

  const config = benchConfig(`steward-bench-${process.pid}`);
  const worker = await startWorker(config, { identity: `bench-${process.pid}` });
  // The two-host figures: every production host of the dev stack, on a worker of their own.
  const fleetConfig = benchConfig(`steward-bench-fleet-${process.pid}`, { fleet: true });
  const fleetWorker = fleetConfig.environments.production!.hosts.length > 1 ? await startWorker(fleetConfig, { identity: `bench-fleet-${process.pid}` }) : undefined;
  const client = await connect(config);
  const figures: Figure[] = [];
  const raw: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const want = (b: string) => !opts.only || opts.only.has(b);
  try {
    // Production serving r02 on schema 0002 first (the first deployment of a fresh stack starts Gunicorn).
    if (want('availability') || want('deploy') || want('rollback')) {
      log('preparing production: r02-cosmetic on schema 0002');
      await resetToR02(client, config, opts);
      log(`production serves ${(await healthz(config))?.release}`);
    }
    const run = async (name: (typeof BENCHES)[number], fn: () => Promise<{ figures: Figure[]; raw: unknown }>) => {
      if (!want(name)) return;
      log(`== ${name}`);
      const t0 = Date.now();
      try {
        const r = await fn();
        figures.push(...r.figures);
        raw[name] = r.raw;
      } catch (err) {
        errors[name] = (err as Error).stack ?? String(err);
        log(`!! ${name} failed: ${(err as Error).message}`);
      }
      log(`   ${name} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    };
    await run('availability', () => benchAvailability(client, config, opts));
    await run('deploy', () => benchDeploy(client, config, opts, fleetWorker ? fleetConfig : undefined));
    await run('rollback', () => benchRollback(client, config, opts, fleetWorker ? fleetConfig : undefined));
    await run('latency', () => benchLatency(client, config, opts));
    await run('open', () => benchOpenChanges(client, config, opts));
    await run('backup', () => benchBackup(config, opts));
    await run('cli', () => benchCli(client, config, opts));
  } finally {
    await client.connection.close();
    await worker.shutdown();
    await fleetWorker?.shutdown();
  }

  const result = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    mode: opts.quick ? 'quick' : 'full',
    runsPerFigure: opts.runs,
    machine: machine(),
    stack: { home: devLayout().home, temporal: config.temporal.address },
    figures,
    errors,
    raw,
  };
  const table = renderTable(figures);
  const m = result.machine;
  process.stdout.write(`\nSteward benchmarks (${result.mode}, ${opts.runs} run${opts.runs > 1 ? 's' : ''} per figure) on ${m.nproc} × ${m.cpu}, ${m.memoryGiB} GiB, Linux ${m.kernel}, ${m.os}, Node ${m.node}\n\n${table}\n`);
  if (Object.keys(errors).length) process.stdout.write(`\nFAILED: ${Object.keys(errors).join(', ')} (see the JSON "errors")\n`);
  const dir = path.join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${startedAt.toISOString().replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify({ ...result, table }, null, 2)}\n`);
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), file)}\n`);

  process.exitCode = Object.keys(errors).length ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
