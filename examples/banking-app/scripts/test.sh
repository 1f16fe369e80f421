#!/usr/bin/env bash
# Run the demo bank's test suite on a bare machine.
#  - creates (or reuses, keyed on the requirements files' hash) a venv at examples/banking-app/.venv
#  - if DATABASE_URL is not set, starts a throwaway PostgreSQL cluster (stopped again on exit)
#  - runs pytest with any arguments given; the exit code is pytest's
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$HERE"
PYTHON=${PYTHON:-python3}
VENV="$HERE/.venv"

hash=$(cat requirements-dev.txt app/requirements.txt | sha256sum | cut -c1-16)-$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.requirements-hash" 2>/dev/null)" != "$hash" ]; then
  echo "test.sh: creating $VENV" >&2
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$hash" >"$VENV/.requirements-hash"
fi

PGTMP=""
cleanup() {
  if [ -n "$PGTMP" ]; then
    "$HERE/scripts/pg-throwaway.sh" stop "$PGTMP" || true
    rm -rf "$PGTMP"
  fi
}
trap cleanup EXIT

if [ -z "${DATABASE_URL:-}" ]; then
  PGTMP=$(mktemp -d /tmp/bankapp-pg.XXXXXX)
  while IFS='=' read -r key value; do
    case "$key" in DATABASE_URL|PG_PID) export "$key=$value" ;; esac
  done < <("$HERE/scripts/pg-throwaway.sh" start "$PGTMP")
  echo "test.sh: throwaway PostgreSQL (pid $PG_PID) at $DATABASE_URL" >&2
fi
unset BANKAPP_ENV_FILE

set +e
"$VENV/bin/python" -m pytest -p no:logging "$@"
rc=$?
set -e
exit $rc
