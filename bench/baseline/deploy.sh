#!/usr/bin/env bash
# The baseline a careful operator would script by hand: the same production deploy steps Steward runs, over ONE
# multiplexed SSH connection (ControlMaster), strict host-key checking against the pinned key, smoke via curl.
# No governance: no lock, no migration plan/classification, no invariants, no verification of the backup, no tag.
#
# Input (environment): SSH_HOST SSH_PORT SSH_USER SSH_KEY HOST_KEY (the pinned "ssh-ed25519 AAAA…" key),
# DEPLOY_ROOT REPO REF RELEASE_ID PYTHON BACKUP_DIR DB_URL_FILE (local file holding postgres://…),
# BASE_URL SMOKE_USER SMOKE_PASSWORD_FILE.
# Output: one line per step on stdout, "STEP <name> <start ms> <end ms>", then "OK <release>" (exit 0) or a
# message on stderr (exit non-zero).
set -euo pipefail

: "${SSH_HOST:?}" "${SSH_PORT:?}" "${SSH_USER:?}" "${SSH_KEY:?}" "${HOST_KEY:?}" "${DEPLOY_ROOT:?}" "${REPO:?}" "${REF:?}"
: "${RELEASE_ID:?}" "${BACKUP_DIR:?}" "${DB_URL_FILE:?}" "${BASE_URL:?}" "${SMOKE_USER:?}" "${SMOKE_PASSWORD_FILE:?}"
PYTHON=${PYTHON:-python3}

WORK=$(mktemp -d)
KNOWN_HOSTS="$WORK/known_hosts"
CONTROL="$WORK/cm"
JAR="$WORK/cookies"
printf '[%s]:%s %s\n' "$SSH_HOST" "$SSH_PORT" "$HOST_KEY" >"$KNOWN_HOSTS"
SSH=(ssh -p "$SSH_PORT" -i "$SSH_KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes
  -o UserKnownHostsFile="$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null -o ControlPath="$CONTROL" -o LogLevel=ERROR)
MASTER_PID=
cleanup() {
  "${SSH[@]}" -O exit "$SSH_USER@$SSH_HOST" >/dev/null 2>&1 || true
  [ -n "$MASTER_PID" ] && kill "$MASTER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s%3N; }
step() { # step NAME COMMAND...  — runs a local command, prints its start/end
  local name=$1 t0 t1
  shift
  t0=$(now)
  "$@"
  t1=$(now)
  echo "STEP $name $t0 $t1"
}
# Remote commands: one bash per step over the shared connection, arguments quoted with printf %q.
remote() {
  local script=$1
  shift
  "${SSH[@]}" "$SSH_USER@$SSH_HOST" "bash -s -- $(printf '%q ' "$@")" <<<"set -euo pipefail; $script"
}

# One connection for the whole deployment: a master in the background (its pid kept, so it always ends with us).
"${SSH[@]}" -o ControlMaster=yes -MN "$SSH_USER@$SSH_HOST" </dev/null &
MASTER_PID=$!
for _ in $(seq 1 100); do
  "${SSH[@]}" -O check "$SSH_USER@$SSH_HOST" >/dev/null 2>&1 && break
  kill -0 "$MASTER_PID" 2>/dev/null || { echo "ssh to $SSH_HOST:$SSH_PORT failed" >&2; exit 1; }
  sleep 0.05
done

REL="$DEPLOY_ROOT/releases/$RELEASE_ID"
VENV="$DEPLOY_ROOT/venvs/script-$RELEASE_ID"
MIRROR="$DEPLOY_ROOT/repo.git"

fetch() {
  remote '
    mirror=$1 repo=$2 ref=$3 rel=$4
    test -d "$mirror" || git clone --quiet --mirror -- "$repo" "$mirror"
    git --git-dir "$mirror" fetch --quiet --prune origin "+refs/heads/*:refs/heads/*" "+refs/tags/*:refs/tags/*"
    commit=$(git --git-dir "$mirror" rev-parse --verify --quiet --end-of-options "$ref^{commit}")
    rm -rf -- "$rel" && mkdir -p -- "$rel"
    git --git-dir "$mirror" archive --format=tar "$commit" | tar -x -C "$rel"
  ' "$MIRROR" "$REPO" "$REF" "$REL"
}
venv() {
  remote 'rm -rf -- "$2" && mkdir -p -- "$(dirname "$2")" && "$1" -m venv "$2" && ln -sfn -- "$2" "$3/.venv"' "$PYTHON" "$VENV" "$REL"
}
requirements() {
  remote '"$1/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$2/requirements.txt"' "$VENV" "$REL"
}
backup() {
  # The password travels on stdin inside the URL, never on a command line.
  "${SSH[@]}" "$SSH_USER@$SSH_HOST" "bash -c $(printf '%q' 'set -euo pipefail; IFS= read -r url; mkdir -p -- "$1"; pg_dump --format=custom --file "$1/$2.dump" --dbname "$url"') bk $(printf '%q ' "$BACKUP_DIR" "$RELEASE_ID")" <"$DB_URL_FILE"
}
migrate() { remote 'cd "$1" && .venv/bin/python manage.py migrate --noinput >/dev/null' "$REL"; }
collectstatic() { remote 'cd "$1" && .venv/bin/python manage.py collectstatic --noinput >/dev/null' "$REL"; }
switch() { remote 'ln -sfn -- "$2" "$1/current.next" && mv -T -- "$1/current.next" "$1/current"' "$DEPLOY_ROOT" "$REL"; }
restart() {
  # New requirements: a HUP keeps the master's interpreter, so stop the master and start a new one (as Steward does).
  remote '
    root=$1 venv=$2 bind=$3
    pid=$(cat -- "$root/shared/gunicorn.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    mkdir -p -- "$root/shared/logs"
    cd "$root/current"
    PWD="$root/current" STEWARD_VENV="$venv" "$root/current/.venv/bin/gunicorn" bankapp.wsgi:application --chdir "$root/current" \
      --bind "$bind" --workers 2 --pid "$root/shared/gunicorn.pid" --daemon --graceful-timeout 20 \
      --access-logfile "$root/shared/logs/gunicorn-access.log" --error-logfile "$root/shared/logs/gunicorn-error.log"
  ' "$DEPLOY_ROOT" "$VENV" "${BASE_URL#http://}"
  # Serving the new release: /healthz names its release dir three times in a row.
  local streak=0 deadline=$(($(now) + 45000))
  while [ "$(now)" -lt "$deadline" ]; do
    if curl -fsS --max-time 2 "$BASE_URL/healthz" 2>/dev/null | grep -q "\"release_dir\": *\"$RELEASE_ID\""; then
      streak=$((streak + 1))
      [ $streak -ge 3 ] && return 0
      continue
    fi
    streak=0
    sleep 0.1
  done
  echo "the app did not serve $RELEASE_ID in time" >&2
  return 1
}
smoke() {
  local pw c body acct
  pw=$(head -n1 "$SMOKE_PASSWORD_FILE")
  c=(curl -sS --max-time 10 -b "$JAR" -c "$JAR" -o "$WORK/body" -w '%{http_code}')
  [ "$("${c[@]}" "$BASE_URL/healthz")" = 200 ] || { echo "smoke: /healthz" >&2; return 1; }
  "${c[@]}" "$BASE_URL/login/" >/dev/null
  local csrf
  csrf=$(awk '$6 == "csrftoken" {print $7}' "$JAR")
  [ "$("${c[@]}" -H "Referer: $BASE_URL/login/" --data-urlencode "csrfmiddlewaretoken=$csrf" --data-urlencode "username=$SMOKE_USER" \
    --data-urlencode "password=$pw" "$BASE_URL/login/")" = 302 ] || { echo "smoke: login" >&2; return 1; }
  for p in dashboard loans deposits approvals journal reports/trial-balance; do
    [ "$("${c[@]}" "$BASE_URL/$p/")" = 200 ] || { echo "smoke: /$p/" >&2; return 1; }
  done
  # One static asset referenced by the last page.
  local asset
  asset=$(grep -o '/static/[^"]*\.css' "$WORK/body" | head -n1)
  [ -n "$asset" ] && [ "$("${c[@]}" "$BASE_URL$asset")" = 200 ] || { echo "smoke: static $asset" >&2; return 1; }
  # A deposit posting (as Steward's smoke does).
  "${c[@]}" "$BASE_URL/deposits/new/" >/dev/null
  body=$(cat "$WORK/body")
  acct=$(grep -o 'value="2000-[0-9]*"' <<<"$body" | head -n1 | cut -d'"' -f2)
  csrf=$(awk '$6 == "csrftoken" {print $7}' "$JAR")
  [ "$("${c[@]}" -H "Referer: $BASE_URL/deposits/new/" --data-urlencode "csrfmiddlewaretoken=$csrf" --data-urlencode "account=$acct" \
    --data-urlencode "amount=10.55" --data-urlencode "reference=script-smoke-$RELEASE_ID" "$BASE_URL/deposits/new/")" = 302 ] || { echo "smoke: deposit" >&2; return 1; }
}

step fetch fetch
step venv venv
step requirements requirements
step backup backup
step migrate migrate
step collectstatic collectstatic
step switch switch
step restart restart
step smoke smoke
echo "OK $RELEASE_ID"
