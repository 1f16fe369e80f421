import type { Command } from 'commander';
import { down, status, up, type PartStatus } from '../dev/stack';
import { CliError } from './temporal';
import { emit, progress } from './output';

function table(parts: PartStatus[]): string {
  return parts
    .map((p) => `${p.ready ? 'ready  ' : p.running ? 'started' : 'stopped'}  ${p.part.padEnd(16)} ${p.pid ? `pid ${p.pid}`.padEnd(10) : ''.padEnd(10)} ${p.detail}`)
    .join('\n');
}

export function registerDev(program: Command): void {
  const dev = program.command('dev').description('the local stack: Temporal dev server, PostgreSQL, two sshd hosts');
  dev
    .command('up')
    .description('start (or reuse) the local stack and write steward.config.yaml')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const parts = await up(progress);
      emit(opts, { parts }, () => table(parts));
      if (!parts.every((p) => p.ready)) throw new CliError('some parts of the stack are not ready; see .steward/logs/');
    });
  dev
    .command('down')
    .description('stop exactly the processes `dev up` started')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const results = await down(progress);
      emit(opts, { stopped: results }, () => results.map((r) => `${r.result.padEnd(12)} ${r.part}`).join('\n'));
    });
  dev
    .command('status')
    .description('report each part of the local stack')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const parts = await status();
      emit(opts, { parts }, () => table(parts));
      if (!parts.every((p) => p.ready)) process.exitCode = 3;
    });
}
