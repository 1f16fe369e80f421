#!/usr/bin/env bash
# Start the app under real Gunicorn from a deploy-layout release dir, check /healthz, log in,
# load /dashboard/ and its static files over HTTP, reload by HUP, and stop it by pid
# (tests/test_gunicorn.py). Uses test.sh's venv and throwaway PostgreSQL.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/test.sh" tests/test_gunicorn.py "$@"
