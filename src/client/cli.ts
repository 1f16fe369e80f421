// The program every verb registers on, and how a run ends: errors become one line on stderr and an exit code, and
// the process exits only once stdout and stderr are flushed. Shared by main.ts (every verb, loaded lazily) and the
// one-verb bundles scripts/build.js makes for the read-only verbs (status, list).
import { Command, CommanderError } from 'commander';
import { CliError } from './errors';

export function newProgram(): Command {
  return new Command('steward')
    .description('Governed change management, deployment and incident response for banking systems')
    .option('--config <file>', 'steward.config.yaml to use (default: $STEWARD_CONFIG or ./steward.config.yaml)')
    .showHelpAfterError('(run `steward --help` for the verbs)')
    .exitOverride();
}

export async function runProgram(program: Command, argv: string[]): Promise<number> {
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
    // By name, not instanceof: importing config/load here would load YAML and zod into every verb, even one that
    // never reads the config file that way (src/client/read-config.ts).
    if (err instanceof Error && err.name === 'ConfigError') {
      process.stderr.write(`steward: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`steward: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}

/** Exit only once stdout and stderr are flushed: on a pipe, process.exit would cut a long --json answer short. */
export function exitWhenFlushed(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
