// A systemd unit as the app's restart hook: `reload` when only the code changed, `restart` when the venv changed.
import { cmd, type RemoteCommand } from './shell';

export const UNIT = /^[A-Za-z0-9@._-]{1,200}\.service$/;

/** Through `sudo -n` (never a password prompt) unless the SSH user is root or the config says otherwise. */
export function systemctl(unit: string, action: 'reload' | 'restart', opts: { sudo: boolean }): RemoteCommand {
  if (!UNIT.test(unit)) throw new Error(`unit ${JSON.stringify(unit)} is not a .service unit name`);
  return cmd([...(opts.sudo ? ['sudo', '-n'] : []), 'systemctl', action, '--', unit]);
}
