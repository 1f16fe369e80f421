#!/usr/bin/env bash
# Build the real Docker Compose CLI (v5.6.0) from the Go module proxy into <repo>/.tools/bin/docker-compose,
# so docker-compose.yml can be checked with `docker-compose config --quiet` on a machine without a Docker engine.
# Idempotent: does nothing when the binary already exists (set FORCE=1 to rebuild).
# See /work/shared/STACK.md: `go install` refuses github.com/docker/compose/v5 (exclude directives in its go.mod),
# so we build it from a throwaway module of our own; v5.7.0 needs a newer Go than 1.26.
set -euo pipefail

COMPOSE_VERSION="${COMPOSE_VERSION:-v5.6.0}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${STEWARD_TOOLS_DIR:-$REPO_ROOT/.tools}"
OUT="$TOOLS_DIR/bin/docker-compose"

if [[ -x "$OUT" && "${FORCE:-0}" != "1" ]]; then
  echo "build-compose: $OUT already exists; skipping (FORCE=1 to rebuild)"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "build-compose: 'go' is not on PATH; install Go (>= 1.25) to build the Compose CLI" >&2
  exit 1
fi

mkdir -p "$TOOLS_DIR/bin"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/steward-build-compose.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
cat > go.mod <<GOMOD
module steward.local/build-compose

go 1.25

require github.com/docker/compose/v5 $COMPOSE_VERSION
GOMOD

echo "build-compose: resolving github.com/docker/compose/v5@$COMPOSE_VERSION (module proxy) ..."
# -mod=mod lets go resolve and record the full dependency graph in our throwaway go.mod/go.sum.
export GOFLAGS="-mod=mod ${GOFLAGS:-}"
go mod download github.com/docker/compose/v5
echo "build-compose: building (about a minute on 2 cores) ..."
go build -o "$OUT.tmp" github.com/docker/compose/v5/cmd
mv -f "$OUT.tmp" "$OUT"
"$OUT" version
echo "build-compose: built $OUT"
