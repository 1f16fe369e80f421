// Commands that describe a host. Pure: values in, commands out.
import { cmd, type RemoteCommand } from './shell';

/** The ping: the host's name, the login user, and whether the deploy root exists. */
export function pingHost(deployRoot: string): RemoteCommand {
  return {
    kind: 'and',
    commands: [cmd(['uname', '-n']), cmd(['id', '-un']), cmd(['test', '-d', deployRoot]), cmd(['echo', 'deploy-root-ok'])],
  };
}
