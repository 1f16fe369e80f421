// The `steward` CLI: one file per verb, a thin layer over the Temporal client and the domain.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load';
import { registerAudit } from './audit';
import { registerDemo } from './demo';
import { registerDev } from './dev';
import { registerPing } from './ping';
import { registerWorker } from './worker';
import { registerCodecServer } from './codec-server';
import { registerPropose } from './propose';
import { registerApprove } from './approve';
import { registerReject } from './reject';
import { registerReview } from './review';
import { registerWithdraw } from './withdraw';
import { registerStatus } from './status';
import { registerList } from './list';
import { registerWatch } from './watch';
import { registerReport } from './report';
import { registerHotfix } from './hotfix';
import { registerIncident } from './incident';
import { CliError } from './temporal';

export function buildProgram(): Command {
  const program = new Command('steward')
    .description('Governed change management, deployment and incident response for banking systems')
    .option('--config <file>', 'steward.config.yaml to use (default: $STEWARD_CONFIG or ./steward.config.yaml)')
    .showHelpAfterError('(run `steward --help` for the verbs)')
    .exitOverride();
  registerDev(program);
  registerWorker(program);
  registerCodecServer(program);
  registerPing(program);
  registerDemo(program);
  registerPropose(program);
  registerApprove(program);
  registerReject(program);
  registerReview(program);
  registerWithdraw(program);
  registerStatus(program);
  registerList(program);
  registerWatch(program);
  registerReport(program);
  registerHotfix(program);
  registerIncident(program);
  registerAudit(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CliError) {
      process.stderr.write(`steward: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`steward: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`steward: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}

if (require.main === module || process.argv[1]?.endsWith('steward.js')) {
  // Exit only once stdout and stderr are flushed: on a pipe, process.exit would cut a long --json answer short.
  main(process.argv).then((code) => {
    process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  });
}
