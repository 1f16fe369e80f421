// The `steward` CLI: one file per verb, a thin layer over the Temporal client and the domain.
// Each verb's module is loaded only when that verb runs (`steward status X` loads status.ts and what it imports,
// not the worker, the dev stack or the deployment code); `--help` and an unknown verb load them all.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load';
import { CliError } from './temporal';

type Register = (program: Command) => void;

/** Every verb, in the order `--help` lists them, and how to load its module. */
const VERBS: [string, () => Register][] = [
  ['dev', () => require('./dev').registerDev],
  ['worker', () => require('./worker').registerWorker],
  ['codec-server', () => require('./codec-server').registerCodecServer],
  ['ping', () => require('./ping').registerPing],
  ['demo', () => require('./demo').registerDemo],
  ['propose', () => require('./propose').registerPropose],
  ['approve', () => require('./approve').registerApprove],
  ['reject', () => require('./reject').registerReject],
  ['review', () => require('./review').registerReview],
  ['withdraw', () => require('./withdraw').registerWithdraw],
  ['status', () => require('./status').registerStatus],
  ['list', () => require('./list').registerList],
  ['watch', () => require('./watch').registerWatch],
  ['report', () => require('./report').registerReport],
  ['hotfix', () => require('./hotfix').registerHotfix],
  ['incident', () => require('./incident').registerIncident],
  ['migration', () => require('./decisions').registerMigration],
  ['deployment', () => require('./decisions').registerDeploymentDecisions],
  ['whoami', () => require('./decisions').registerWhoami],
  ['audit', () => require('./audit').registerAudit],
];

/** The program with every verb, or only `only` (the verb about to run). */
export function buildProgram(only?: string): Command {
  const program = new Command('steward')
    .description('Governed change management, deployment and incident response for banking systems')
    .option('--config <file>', 'steward.config.yaml to use (default: $STEWARD_CONFIG or ./steward.config.yaml)')
    .showHelpAfterError('(run `steward --help` for the verbs)')
    .exitOverride();
  for (const [name, load] of VERBS) if (!only || name === only) load()(program);
  return program;
}

/** The verb named on the command line (the first word that is not a global option or its value), if it is one. */
export function verbOf(argv: string[]): string | undefined {
  const words = argv.slice(2);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--config') {
      i++;
      continue;
    }
    if (w.startsWith('-')) return undefined; // --help, --version or an option commander will judge
    return VERBS.some(([name]) => name === w) ? w : undefined;
  }
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(verbOf(argv));
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
