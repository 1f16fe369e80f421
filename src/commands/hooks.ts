// The app contract's command hooks: an argv from the config, run in the release dir, with named placeholders.
import { MODULE } from './python';
import { cmd, type RemoteCommand } from './shell';

/**
 * Replaces whole-argument placeholders ("{module}") with validated values; any other argument is passed as written.
 * A placeholder inside a longer argument is not replaced, so a value can never be spliced into an option.
 */
export function hookCommand(argv: readonly string[], values: { module?: string }, cwd: string): RemoteCommand {
  const out = argv.map((a) => {
    if (a !== '{module}') return a;
    if (values.module === undefined || !MODULE.test(values.module)) throw new Error(`module ${JSON.stringify(values.module)} is not a safe name`);
    return values.module;
  });
  return cmd(out, { cwd });
}
