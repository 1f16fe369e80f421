// The `steward` CLI: one file per verb, a thin layer over the Temporal client and the domain.
// Each verb's module is loaded only when that verb runs (`steward status X` loads status.ts and what it imports,
// not the worker, the dev stack or the deployment code); `--help` and an unknown verb load them all.
import type { Command } from 'commander';
import { exitWhenFlushed, newProgram, runProgram } from './cli';

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
  const program = newProgram();
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
  return runProgram(buildProgram(verbOf(argv)), argv);
}

if (require.main === module || process.argv[1]?.endsWith('steward.js')) {
  main(process.argv).then(exitWhenFlushed);
}
