/**
 * The findings table's move to the analyst's layout (migration 2), on a v1 table holding data,
 * in the real embedded ClickHouse engine: nothing lost, the network and baseline facts lifted
 * out of the evidence into columns, severity an ordered enum, and the layout the docs promise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { tempDir } from '../support/kafka.js';
import { openClickHouse, queryRows, type ClickHouseHandle } from '../../src/storage/clickhouse.js';
import { MIGRATIONS, migrate } from '../../src/storage/migrations.js';
import { insertFindings } from '../../src/storage/findings.js';
import { finalize } from '../../src/pipeline/engine.js';

let ch: ClickHouseHandle;
beforeAll(() => {
  ch = openClickHouse({ dataDir: join(tempDir('m2m-mig'), 'ch') });
});
afterAll(async () => {
  await ch.client.close();
});

const T = Date.UTC(2026, 2, 1, 12);

describe('findings migration v1 → v2', () => {
  it('moves a table with data to the new layout without losing a row', async () => {
    const t = { database: 'migtest', table: 'findings', ttlDays: 30 };
    await ch.client.command({ query: 'CREATE DATABASE IF NOT EXISTS migtest' });
    for (const s of MIGRATIONS[0]!.statements(t)) await ch.client.command({ query: s });
    // v1 rows as the v1 writer wrote them (no network columns), two versions of one finding.
    const v1 = (i: number, over: Record<string, unknown> = {}) => ({
      finding_id: `f${i}`, pipeline: 'p', detector: i % 2 ? 'new_peer' : 'metric_baseline', device_id: `dev-${i % 5}`, device_class: 'plc', key: `k${i}`,
      first_ts: new Date(T + i * 60_000).toISOString().replace('T', ' ').replace('Z', ''), last_ts: new Date(T + i * 60_000 + 5_000).toISOString().replace('T', ' ').replace('Z', ''),
      count: 1, score: (i % 10) / 10, severity: ['info', 'low', 'medium', 'high', 'critical'][i % 5], observed: i % 2 ? 'new peer' : String(20 + i), expected: '21 ± 1',
      explanation: `finding ${i}`,
      evidence: JSON.stringify(i % 2 ? { src_ip: '10.0.0.7', dst_ip: `203.0.113.${i % 250}`, dst_port: 4000 + i } : { metric: 'temperature_c', baseline_center: 21, baseline_sigma: 0.5 }),
      mitre: ['T0886'], version: 1, ...over,
    });
    const rows = Array.from({ length: 500 }, (_, i) => v1(i));
    await ch.client.insert({ table: 'migtest.findings', values: [...rows, v1(3, { version: 2, count: 9 })], format: 'JSONEachRow' });
    // The bookkeeping table as migrate() makes it (through another target), then v1 recorded as done.
    await migrate(ch.client, { ...t, table: 'other_findings' });
    await ch.client.insert({ table: 'migtest.schema_migrations', values: [{ target: 'findings', version: 1, name: 'findings table' }], format: 'JSONEachRow' });

    const applied = await migrate(ch.client, t);
    expect(applied).toEqual([2, 3]);
    const [n] = await queryRows<{ n: string }>(ch.client, 'SELECT count() AS n FROM migtest.findings FINAL');
    expect(Number(n!.n)).toBe(500);
    const [f3] = await queryRows<{ count: number; src_ip: string; dst_ip: string; dst_port: number; version: string }>(ch.client, "SELECT count, src_ip, dst_ip, dst_port, version FROM migtest.findings FINAL WHERE finding_id = 'f3'");
    expect(f3).toMatchObject({ count: 9, src_ip: '10.0.0.7', dst_ip: '203.0.113.3', dst_port: 4003 });
    const [f4] = await queryRows<{ metric: string; observed_value: number; expected_value: number; expected_spread: number; dst_port: number | null }>(ch.client, "SELECT metric, observed_value, expected_value, expected_spread, dst_port FROM migtest.findings FINAL WHERE finding_id = 'f4'");
    expect(f4).toEqual({ metric: 'temperature_c', observed_value: 24, expected_value: 21, expected_spread: 0.5, dst_port: null });
    // Severity is ordered: "high and above" is a comparison, and sorting by it is by rank.
    const [hi] = await queryRows<{ n: string }>(ch.client, "SELECT count() AS n FROM migtest.findings FINAL WHERE severity >= 'high'");
    expect(Number(hi!.n)).toBe(200);
    const order = await queryRows<{ severity: string }>(ch.client, 'SELECT DISTINCT severity FROM migtest.findings ORDER BY severity DESC');
    expect(order.map((r) => r.severity)).toEqual(['critical', 'high', 'medium', 'low', 'info']);
    const [ddl] = await queryRows<{ statement: string }>(ch.client, 'SHOW CREATE TABLE migtest.findings');
    expect(ddl!.statement).toMatch(/ORDER BY \(toStartOfHour\(first_ts\), finding_id\)/);
    expect(ddl!.statement).toMatch(/PARTITION BY toMonday\(ingested_at\)/);
    expect(ddl!.statement).toMatch(/TTL ingested_at \+ toIntervalDay\(30\)/);
    expect(ddl!.statement).toMatch(/ttl_only_drop_parts = 1/);
    expect(ddl!.statement).toMatch(/`severity` Enum8\('info' = 1, 'low' = 2, 'medium' = 3, 'high' = 4, 'critical' = 5\)/);
    // The v2 writer and the migrated rows live together; a second start applies nothing.
    await insertFindings(ch.client, 'migtest', 'findings', [finalize('p', { detector: 'flood', key: 'x', device_id: 'dev-9', device_class: 'plc', first_ts: T, last_ts: T, count: 1, score: 0.8, severity: 'high', observed: 1, expected: 0, explanation: 'e', evidence: { dst_ip: '10.1.1.1', dst_port: 502 }, mitre: [] })]);
    const [net] = await queryRows<{ n: string }>(ch.client, "SELECT count() AS n FROM migtest.findings FINAL WHERE dst_port = 502 AND isIPAddressInRange(dst_ip, '10.0.0.0/8')");
    expect(Number(net!.n)).toBe(1);
    expect(await migrate(ch.client, t)).toEqual([]);
    // The time-first key serves "the last hours across the fleet" from the primary index.
    const plan = await queryRows<{ explain: string }>(ch.client, `EXPLAIN indexes = 1 SELECT count() FROM migtest.findings WHERE first_ts >= toDateTime64('2026-03-01 15:00:00', 3, 'UTC') AND severity >= 'high'`);
    expect(plan.map((r) => r.explain).join('\n')).toMatch(/PrimaryKey[\s\S]*toStartOfHour\(first_ts\)/);
  });
});
