// 7. The CLI at the terminal: `steward --help` against the cheapest Node program that uses Temporal
//    (`node -e "require('@temporalio/client')"`), and `steward status <id>` against `temporal workflow describe`
//    of the same change. Both run as real processes, alternately, in this run on this machine; the compiled CLI
//    (dist/, scripts/build.js) is built before the first sample.
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { StewardConfig } from '../src/config/schema';
import { devLayout, toolsDir } from '../src/dev/paths';
import { changeWorkflowId } from '../src/workflows/lifecycle-api';
import { ratioFigure, ROOT, shAsync, sleep, stat, type Figure, type Opts } from './lib';
import { startBenchChange } from './open-changes';

async function timed(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const r = await shAsync(command, args, { env });
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-500)}`);
  return r.ms;
}

export async function benchCli(client: Client, config: StewardConfig, opts: Opts): Promise<{ figures: Figure[]; raw: unknown }> {
  const runs = opts.quick ? 3 : 10;
  const env: NodeJS.ProcessEnv = { ...process.env, STEWARD_CONFIG: devLayout().configFile };
  delete env.STEWARD_TSX;
  const steward = [path.join(ROOT, 'bin', 'steward.js')];
  const temporal = path.join(toolsDir(), 'bin', 'temporal');
  // A change waiting for its reviewer, run by this bench's worker (config.temporal.taskQueue), to ask about.
  const changeId = `BCLI-${Date.now().toString(36)}`;
  await startBenchChange(client, config, config.temporal.taskQueue, changeId);
  const handle = client.workflow.getHandle(changeWorkflowId(changeId));
  try {
    const by = Date.now() + 60_000;
    while (Date.now() < by) {
      const s = (await handle.query('status').catch(() => undefined)) as { phase?: string } | undefined;
      if (s?.phase === 'review') break;
      await sleep(200);
    }
    // Warm-up, not counted: builds dist/ if the sources changed, fills the page cache.
    await timed(process.execPath, [...steward, '--help'], env);
    await timed(process.execPath, [...steward, 'status', changeId, '--json'], env);
    const help: number[] = [];
    const requireClient: number[] = [];
    const status: number[] = [];
    const describe: number[] = [];
    for (let i = 0; i < runs; i++) {
      help.push(await timed(process.execPath, [...steward, '--help'], env));
      requireClient.push(await timed(process.execPath, ['-e', "require('@temporalio/client')"], { ...env, NODE_PATH: path.join(ROOT, 'node_modules') }));
      status.push(await timed(process.execPath, [...steward, 'status', changeId, '--json'], env));
      describe.push(
        await timed(temporal, ['workflow', 'describe', '--address', config.temporal.address, '--namespace', config.temporal.namespace, '--workflow-id', changeWorkflowId(changeId), '--output', 'json'], env),
      );
    }
    opts.log(`  --help ${help.map((x) => x.toFixed(0)).join(', ')} ms; require client ${requireClient.map((x) => x.toFixed(0)).join(', ')} ms`);
    opts.log(`  status ${status.map((x) => x.toFixed(0)).join(', ')} ms; temporal workflow describe ${describe.map((x) => x.toFixed(0)).join(', ')} ms`);
    return {
      figures: [
        ratioFigure({
          id: 'cli.help',
          figure: `steward --help (compiled CLI, process start to exit, ${runs} runs)`,
          unit: 'ms',
          steward: stat(help),
          baseline: stat(requireClient),
          baselineLabel: `node -e "require('@temporalio/client')"`,
          factor: 2,
        }),
        ratioFigure({
          id: 'cli.status',
          figure: `steward status <id> (compiled CLI, a workflow query, ${runs} runs)`,
          unit: 'ms',
          steward: stat(status),
          baseline: stat(describe),
          baselineLabel: 'temporal workflow describe, same change',
          factor: 4,
          why: 'Node start (see the --help baseline) and the query answered by the worker are most of it',
        }),
      ],
      raw: { changeId, help, requireClient, status, describe },
    };
  } finally {
    await handle.terminate('benchmark finished').catch(() => undefined);
    await client.workflowService.deleteWorkflowExecution({ namespace: config.temporal.namespace, workflowExecution: { workflowId: changeWorkflowId(changeId) } }).catch(() => undefined);
  }
}
