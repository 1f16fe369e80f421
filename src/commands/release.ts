// Release directories on a host: <deployRoot>/releases/<id>, a shared/ dir, venvs/ keyed by the
// requirements' hash, a git mirror, and the `current` symlink that is switched atomically.
import { credentialOptions, withRepoToken, type RepoAccess } from './repo-access';
import { cmd, type RemoteCommand } from './shell';

export const RELEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const COMMIT = /^[0-9a-f]{40}$/;

export interface ReleasePaths {
  deployRoot: string;
  mirror: string;
  releases: string;
  release: string;
  staging: string;
  current: string;
  shared: string;
  venvs: string;
  marker: string;
}

export function releasePaths(deployRoot: string, releaseId: string): ReleasePaths {
  if (!RELEASE_ID.test(releaseId)) throw new Error(`release id ${JSON.stringify(releaseId)} is not allowed`);
  return {
    deployRoot,
    mirror: `${deployRoot}/repo.git`,
    releases: `${deployRoot}/releases`,
    release: `${deployRoot}/releases/${releaseId}`,
    staging: `${deployRoot}/releases/.${releaseId}.partial`,
    current: `${deployRoot}/current`,
    shared: `${deployRoot}/shared`,
    venvs: `${deployRoot}/venvs`,
    marker: `${deployRoot}/releases/${releaseId}/.steward-release`,
  };
}

/**
 * A bare mirror of the origin on the host: cloned once, fetched on every deployment. With repo access the token comes
 * over stdin (src/commands/repo-access.ts); the clone's own config keeps only the plain URL.
 */
export function ensureMirror(p: ReleasePaths, repo: string, access?: RepoAccess): RemoteCommand {
  if (!access) return cmd(['sh', '-c', 'test -d "$1" || git clone --quiet --mirror -- "$2" "$1"', 'ensure-mirror', p.mirror, repo]);
  return withRepoToken(
    cmd(['sh', '-c', 'test -d "$1" && exit 0; shift; exec "$@"', 'ensure-mirror', p.mirror, 'git', ...credentialOptions(access), 'clone', '--quiet', '--mirror', '--', repo, p.mirror]),
    access,
  );
}

/**
 * Fetches every branch and tag from the configured URL itself (the mirror's own remote may be an older URL); with
 * repo access the token comes over stdin.
 */
export function fetchMirror(p: ReleasePaths, repo: string, access?: RepoAccess): RemoteCommand {
  return withRepoToken(
    cmd(['git', '--git-dir', p.mirror, ...credentialOptions(access), 'fetch', '--quiet', '--prune', '--', repo, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']),
    access,
  );
}

/**
 * Fetches unless the mirror already holds the commit: a deployment's ref is the commit its gate resolved, and the
 * gate's fetch brought it into the primary's mirror, so the deployment does not fetch it a second time there.
 */
export function fetchMirrorUnlessHas(p: ReleasePaths, commit: string, repo: string, access?: RepoAccess): RemoteCommand {
  if (!COMMIT.test(commit)) throw new Error(`commit ${JSON.stringify(commit)} is not a full sha`);
  // With repo access the fetch reads the token only when it runs (the check first needs none).
  return { kind: 'or', commands: [cmd(['git', '--git-dir', p.mirror, 'cat-file', '-e', `${commit}^{commit}`]), fetchMirror(p, repo, access)] };
}

/** Resolves a ref to a commit; `--end-of-options` keeps a ref from ever being read as an option. */
export function resolveCommit(p: ReleasePaths, ref: string): RemoteCommand {
  return cmd(['git', '--git-dir', p.mirror, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
}

/**
 * Extracts the commit into a partial dir, then renames it into place: a release dir is whole or absent. Under an
 * exclusive flock on `<deploy root>/.release-<id>.lock`: a killed worker's extraction keeps running on the host (its
 * SSH session is gone, its processes are not), and a retry from another worker must wait for it rather than delete
 * the partial dir under it; after the wait a whole release of this commit is found and kept. The lock sits in the
 * deploy root, not in releases/ (which holds release dirs and their partial dirs only).
 */
export function extractRelease(p: ReleasePaths, commit: string): RemoteCommand {
  if (!COMMIT.test(commit)) throw new Error(`commit ${JSON.stringify(commit)} is not a full sha`);
  return cmd([
    'flock',
    `${p.deployRoot}/.release-${p.release.slice(p.releases.length + 1)}.lock`,
    'bash',
    '-c',
    'set -eo pipefail; if [ -f "$3/.steward-release" ] && [ "$(cat -- "$3/.steward-release")" = "$4" ]; then exit 0; fi; ' +
      'rm -rf -- "$2"; mkdir -p -- "$2"; git --git-dir "$1" archive --format=tar "$4" | tar -x -C "$2"; echo "$4" > "$2/.steward-release"; mv -T -- "$2" "$3"',
    'extract-release',
    p.mirror,
    p.staging,
    p.release,
    commit,
  ]);
}

/** Prints "reused" when the release dir is whole and of this commit; extracts it otherwise (and prints "extracted"). */
export function extractUnlessMarked(p: ReleasePaths, commit: string): RemoteCommand {
  if (!COMMIT.test(commit)) throw new Error(`commit ${JSON.stringify(commit)} is not a full sha`);
  return {
    kind: 'or',
    commands: [
      cmd(['sh', '-c', 'test "$(cat -- "$1" 2>/dev/null)" = "$2" && echo reused', 'release-marked', p.marker, commit]),
      { kind: 'and', commands: [extractRelease(p, commit), cmd(['echo', 'extracted'])] },
    ],
  };
}

export function readMarker(p: ReleasePaths): RemoteCommand {
  return cmd(['cat', '--', p.marker]);
}

export function sha256OfFile(file: string): RemoteCommand {
  return cmd(['sha256sum', '--', file]);
}

/** Reads where `current` points (empty when there is no current release yet). */
export function readCurrent(p: ReleasePaths): RemoteCommand {
  return cmd(['sh', '-c', 'readlink -- "$1" || true', 'read-current', p.current]);
}

/** Atomic switch: a new symlink beside the old, renamed over it (rename(2) is atomic). */
export function switchCurrent(p: ReleasePaths, targetRelease: string): RemoteCommand {
  const tmp = `${p.current}.next`;
  return { kind: 'and', commands: [cmd(['ln', '-sfn', '--', targetRelease, tmp]), cmd(['mv', '-T', '--', tmp, p.current])] };
}

/** Old releases beyond the newest `keep` (never the ones named in `protect`). */
export function pruneReleases(p: ReleasePaths, keep: number, protect: string[]): RemoteCommand {
  return cmd([
    'sh',
    '-c',
    'cd "$1" && shift && keep=$1 && shift && ls -1t | grep -v "^\\." | tail -n +$((keep + 1)) | while read -r r; do skip=; for k in "$@"; do [ "$r" = "$k" ] && skip=1; done; [ -n "$skip" ] || rm -rf -- "$r"; done',
    'prune',
    p.releases,
    String(keep),
    ...protect,
  ]);
}

export function removeRelease(p: ReleasePaths): RemoteCommand {
  return cmd(['rm', '-rf', '--', p.release, p.staging]);
}
