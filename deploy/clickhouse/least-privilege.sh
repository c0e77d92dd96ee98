#!/bin/bash
# Runs once, on the ClickHouse server's first start (docker-entrypoint-initdb.d), as the
# administrator. The service's own user may read and insert into its tables and nothing else:
# no DDL, no other databases, no access management. Tables are created by `m2m-sentinel migrate`
# with the administrator's URL (the migrate service of docker-compose.yml).
set -euo pipefail
: "${CLICKHOUSE_SENTINEL_PASSWORD:?set CLICKHOUSE_SENTINEL_PASSWORD}"
clickhouse client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery <<SQL
CREATE DATABASE IF NOT EXISTS m2m;
CREATE USER IF NOT EXISTS sentinel IDENTIFIED WITH sha256_password BY '${CLICKHOUSE_SENTINEL_PASSWORD}' SETTINGS PROFILE 'default';
GRANT SELECT, INSERT ON m2m.findings TO sentinel;
GRANT SELECT ON m2m.schema_migrations TO sentinel;
SQL
