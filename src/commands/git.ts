// Release tags (playbook §14): made in the host's mirror on the deployed commit, pushed to the origin by URL
// (the mirror's remote is configured as a mirror, and a mirror push would rewrite every ref of the origin).
import { COMMIT } from './release';
import { credentialOptions, withRepoToken, type RepoAccess } from './repo-access';
import { cmd, type RemoteCommand } from './shell';

export const SEMVER_TAG = /^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/;

export function listTags(mirror: string): RemoteCommand {
  return cmd(['git', '--git-dir', mirror, 'tag', '--list', 'v*']);
}

export function tagCommit(mirror: string, tag: string, commit: string, message: string): RemoteCommand {
  if (!SEMVER_TAG.test(tag)) throw new Error(`tag ${JSON.stringify(tag)} is not a vMAJOR.MINOR.PATCH tag`);
  if (!COMMIT.test(commit)) throw new Error(`commit ${JSON.stringify(commit)} is not a full sha`);
  return cmd(['git', '--git-dir', mirror, '-c', 'user.name=Steward', '-c', 'user.email=steward@localhost', 'tag', '--annotate', '--message', message, '--', tag, commit]);
}

export function pushTag(mirror: string, repo: string, tag: string, access?: RepoAccess): RemoteCommand {
  if (!SEMVER_TAG.test(tag)) throw new Error(`tag ${JSON.stringify(tag)} is not a vMAJOR.MINOR.PATCH tag`);
  return withRepoToken(cmd(['git', '--git-dir', mirror, ...credentialOptions(access), 'push', '--quiet', '--', repo, `refs/tags/${tag}:refs/tags/${tag}`]), access);
}

export function tagTarget(mirror: string, tag: string): RemoteCommand {
  return cmd(['git', '--git-dir', mirror, 'rev-parse', '--verify', '--quiet', '--end-of-options', `refs/tags/${tag}^{commit}`]);
}

/** Succeeds when the tag exists and names this commit. */
export function tagNames(mirror: string, tag: string, commit: string): RemoteCommand {
  if (!SEMVER_TAG.test(tag)) throw new Error(`tag ${JSON.stringify(tag)} is not a vMAJOR.MINOR.PATCH tag`);
  if (!COMMIT.test(commit)) throw new Error(`commit ${JSON.stringify(commit)} is not a full sha`);
  return cmd(['sh', '-c', 'test "$(git --git-dir "$1" rev-parse --verify --quiet --end-of-options "refs/tags/$2^{commit}")" = "$3"', 'tag-names', mirror, tag, commit]);
}
