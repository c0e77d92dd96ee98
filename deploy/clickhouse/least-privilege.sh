#!/bin/bash
# Runs once, on the ClickHouse server's first start (docker-entrypoint-initdb.d), as the
# administrator. The service's own user may read and insert into its tables and nothing else:
# no DDL, no other databases, no access management, no ALTER ... DELETE (the alert trail and the
# console's audit log are append-only to it). Tables are created by `m2m-sentinel migrate` with
# the administrator's URL (the migrate service of docker-compose.yml). One grant per table the
# migrations create (src/storage/migrations.ts; test/security/compose.test.ts keeps them equal):
# the runner writes findings, alerts and alert_events in its checkpoints, the console audit_log.
set -euo pipefail
: "${CLICKHOUSE_SENTINEL_PASSWORD:?set CLICKHOUSE_SENTINEL_PASSWORD}"
clickhouse client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery <<SQL
CREATE DATABASE IF NOT EXISTS m2m;
CREATE USER IF NOT EXISTS sentinel IDENTIFIED WITH sha256_password BY '${CLICKHOUSE_SENTINEL_PASSWORD}' SETTINGS PROFILE 'default';
GRANT SELECT, INSERT ON m2m.findings TO sentinel;
GRANT SELECT, INSERT ON m2m.alerts TO sentinel;
GRANT SELECT, INSERT ON m2m.alert_events TO sentinel;
GRANT SELECT, INSERT ON m2m.audit_log TO sentinel;
GRANT SELECT ON m2m.schema_migrations TO sentinel;
SQL
