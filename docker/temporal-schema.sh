#!/bin/sh
# Creates, or upgrades to the server's version, Temporal's two databases on Postgres with the server's own
# SQL tool (temporal-sql-tool: in the temporalio/admin-tools image, or built from go.temporal.io/server).
# Every step is idempotent, so it runs before each start of the server:
#   create          CREATE DATABASE unless it exists
#   setup-schema    the version tables, at version 0.0 unless a later version is recorded
#   update-schema   every versioned migration past the recorded version (the schema embedded in the tool)
# The compose stack runs it in the temporal-schema service; `npm run stack:production-check` runs it here.
set -eu
: "${POSTGRES_SEEDS:?host of Postgres}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}"
port="${DB_PORT:-5432}"

for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  db="${pair%%:*}"
  schema="${pair##*:}"
  echo "temporal-schema: $db (postgresql/v12/$schema)"
  for step in "create" "setup-schema -v 0.0" "update-schema --schema-name postgresql/v12/$schema"; do
    # shellcheck disable=SC2086 # $step is a command and its flags
    temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$port" -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" --db "$db" $step
  done
done
echo "temporal-schema: done"
