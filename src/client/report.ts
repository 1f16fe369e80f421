import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { queryStatus, withCtx } from './lifecycle-client';
import { emit } from './output';
import { CliError } from './temporal';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('print the post-deployment report (§12) of a change')
    .argument('<id>', 'the change id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withCtx(program, async ({ client }) => {
        const s = await queryStatus(client, id);
        if (!s.reportPath) throw new CliError(`${id} has no report yet (phase ${s.phase}, waiting for ${s.waitingFor}); it is written after the production deployment${s.postDeploymentReportRequired ? ' and the post-deployment review (`steward review ID --as USER --post-deployment ...`)' : ''}`);
        let text: string;
        try {
          text = readFileSync(s.reportPath, 'utf8');
        } catch (err) {
          throw new CliError(`the report of ${id} is at ${s.reportPath} on the worker's machine but cannot be read here: ${(err as Error).message}`);
        }
        emit(opts, { changeId: id, path: s.reportPath, markdown: text }, () => text);
      });
    });
}
