/**
 * Print the newest version of every finding in an embedded ClickHouse directory as JSON. A
 * separate process because chdb opens one data directory per process.
 */
import { openClickHouse, queryRows } from '../../../src/storage/clickhouse.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: dump.ts <clickhouse-data-dir>');
const ch = openClickHouse({ dataDir: dir });
const rows = await queryRows<Record<string, unknown>>(
  ch.client,
  `SELECT finding_id, toString(version) AS version, pipeline, detector, device_id, device_class, key,
          toString(first_ts) AS first_ts, toString(last_ts) AS last_ts, count, score, severity,
          observed, expected, explanation, evidence, mitre
   FROM m2m.findings FINAL ORDER BY finding_id`,
).catch((e: unknown) => {
  // A run that never wrote a finding has no table yet.
  if (/UNKNOWN_DATABASE|UNKNOWN_TABLE|doesn't exist|does not exist/i.test(String(e))) return [];
  throw e;
});
await ch.client.close();
process.stdout.write(JSON.stringify(rows));
