// How git on a host reaches a repo that needs a token, without the token ever sitting in a command line (ps), a
// shell history, a log or the host's git config. The executor writes the token to the SSH channel's stdin; the remote
// shell reads it into STEWARD_GIT_TOKEN (toShell's secretStdin) and exports it to that one git process, whose
// credential helper — given with `git -c` for that command only, after an empty value that switches off every helper
// configured on the host (so no "store" helper writes it to disk) — prints it to git on a pipe when git asks.
import { UnsafeArgumentError, type RemoteCommand } from './shell';

export const GIT_TOKEN_ENV = 'STEWARD_GIT_TOKEN';
const USERNAME = /^[A-Za-z0-9._@+-]{1,128}$/;

/** The helper's text holds the variable's *name* only; git runs it through the shell when it needs a credential. */
export const CREDENTIAL_HELPER = `!f() { test "$1" = get || return 0; echo "username=$STEWARD_GIT_USERNAME"; echo "password=$${GIT_TOKEN_ENV}"; }; f`;

/** Who git signs in as; the token itself comes over stdin. */
export interface RepoAccess {
  username: string;
}

/** `git -c` options for one command: no helper from the host's config, then ours; never prompt on a terminal. */
export function credentialOptions(access: RepoAccess | undefined): string[] {
  if (!access) return [];
  return ['-c', 'credential.helper=', '-c', `credential.helper=${CREDENTIAL_HELPER}`];
}

/**
 * Wraps a git command (already built with credentialOptions) so the token is read from stdin: run it with
 * `{ stdin: token + "\n" }`. Without access the command is returned as it is.
 */
export function withRepoToken(command: RemoteCommand, access: RepoAccess | undefined): RemoteCommand {
  if (!access) return command;
  if (!USERNAME.test(access.username)) throw new UnsafeArgumentError(`repo user name ${JSON.stringify(access.username.slice(0, 40))} is not allowed`);
  const env = { STEWARD_GIT_USERNAME: access.username, GIT_TERMINAL_PROMPT: '0' };
  const inner: RemoteCommand = command.kind === 'argv' ? { ...command, env: { ...(command.env ?? {}), ...env } } : command;
  return { kind: 'secretStdin', envName: GIT_TOKEN_ENV, command: inner };
}
