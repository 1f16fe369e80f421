#!/usr/bin/env bash
# Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d):
# creates Steward's audit store, a database and a login role of its own, beside Temporal's databases.
# The password comes from the environment (STEWARD_AUDIT_DB_PASSWORD, required by docker-compose.yml);
# it is passed to psql as a variable and quoted by psql (:'pw'), never spliced into the SQL text.
set -euo pipefail

: "${STEWARD_AUDIT_DB_PASSWORD:?STEWARD_AUDIT_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=pw="$STEWARD_AUDIT_DB_PASSWORD" <<'SQL'
CREATE ROLE steward_audit LOGIN PASSWORD :'pw';
CREATE DATABASE steward_audit OWNER steward_audit;
REVOKE ALL ON DATABASE steward_audit FROM PUBLIC;
SQL
