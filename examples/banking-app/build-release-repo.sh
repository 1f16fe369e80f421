#!/usr/bin/env bash
# Build the demo bank's release history as a bare git repository.
#   build-release-repo.sh DEST      (e.g. .../origin/banking-app.git; DEST is recreated)
# Sources: app/ is the baseline tree (r01-baseline); releases/<tag>/ holds each later release:
#   parent   the tag it is built on        branch   the branch it is committed to
#   message  the commit message            files/   files copied over the parent's tree
#   delete   (optional) paths to delete, one per line
# Commits use fixed authors and dates, so the commit ids are the same on every build.
set -euo pipefail

DEST=${1:?usage: build-release-repo.sh DEST}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RELEASES=(r01-baseline r02-cosmetic r03-additive-migration r04-smoke-fails r05-silent-balance
          r06-drop-financial-column r07-drop-audit-log r08-irreversible r09-requirements)

case "$DEST" in /*) ;; *) DEST="$PWD/$DEST" ;; esac
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
git init -q --bare -b main "$DEST"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
W="$WORK/repo"
git init -q -b main "$W"
g() { git -C "$W" "$@"; }
g config user.name "Demo Bank Developer"
g config user.email "dev@demo-bank.example"
g config commit.gpgsign false
g config tag.gpgsign false

copy_tree() { # copy $1/. into the work tree, skipping build junk
  # -m: files get the time of the copy, not the source's. A fresh checkout gives every source file the same
  # mtime, so an overlay file of the same size (version.py: "r01-baseline" -> "r02-cosmetic") would look
  # unchanged to git's stat cache and the release would be committed without it.
  tar -C "$1" --exclude='__pycache__' --exclude='*.pyc' --exclude='staticfiles' --exclude='.venv' -cf - . \
    | tar -C "$W" -xmf -
}

i=0
for tag in "${RELEASES[@]}"; do
  i=$((i + 1))
  export GIT_AUTHOR_DATE="2026-01-$(printf %02d "$i")T10:00:00+0000" GIT_COMMITTER_DATE="2026-01-$(printf %02d "$i")T10:00:00+0000"
  if [ "$tag" = r01-baseline ]; then
    copy_tree "$HERE/app"
    msg="Baseline release of the demo bank"
  else
    dir="$HERE/releases/$tag"
    parent=$(cat "$dir/parent"); branch=$(cat "$dir/branch"); msg=$(cat "$dir/message")
    if [ "$branch" = main ]; then
      g checkout -q main
      [ "$(g rev-parse HEAD)" = "$(g rev-parse "$parent^{commit}")" ] \
        || { echo "$tag: main is not at its parent $parent" >&2; exit 1; }
    else
      g checkout -q -B "$branch" "$parent"
    fi
    copy_tree "$dir/files"
    # Forget the index's stat cache as well, so `git add` compares every file by content.
    g read-tree HEAD
    if [ -f "$dir/delete" ]; then
      while IFS= read -r path; do
        [ -n "$path" ] && [ "${path#\#}" = "$path" ] && g rm -q -r --ignore-unmatch -- "$path"
      done <"$dir/delete"
    fi
  fi
  g add -A
  g commit -q -m "$tag: $msg"
  g tag -a "$tag" -m "$tag: $msg"
done

g push -q "$DEST" --all
g push -q "$DEST" --tags
echo "built $DEST:"
git -C "$DEST" for-each-ref --format='  %(refname:short) %(objectname:short)' refs/tags refs/heads
