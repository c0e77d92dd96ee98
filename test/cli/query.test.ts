/**
 * `m2m-sentinel query` on the embedded engine, as a user of the demo runs it: table, CSV and
 * NDJSON output rendered by ClickHouse, read-only by default, and bad SQL as a one-line error.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bin, STACK_FRAME } from '../support/bin.js';
import { statement } from '../../src/cli/commands/query.js';

const dataDir = mkdtempSync(join(tmpdir(), 'm2m-query-'));
const env = { CLICKHOUSE_URL: undefined, CLICKHOUSE_DATA_DIR: dataDir };

describe('m2m-sentinel query (embedded)', () => {
  beforeAll(async () => {
    for (const sql of [
      'CREATE DATABASE IF NOT EXISTS m2m',
      'CREATE TABLE m2m.f (device_id String, detector LowCardinality(String), score Float64) ENGINE = MergeTree ORDER BY device_id',
      `INSERT INTO m2m.f VALUES ('plc-07', 'fanout', 0.91), ('meter-1', 'new_peer', 0.55), ('plc-07', 'beaconing', 0.7)`,
    ]) {
      const r = await bin(['query', '--allow-writes', sql], { env });
      expect(r.code, r.stderr).toBe(0);
    }
  }, 120_000);

  it('prints a table, CSV with a header, and NDJSON', async () => {
    const sql = 'SELECT device_id, count() AS n, max(score) AS top FROM m2m.f GROUP BY device_id ORDER BY device_id';
    const table = await bin(['query', sql], { env });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/device_id.*n.*top/);
    expect(table.stdout).toMatch(/│ plc-07\s+│ 2 │ 0\.91 │/);
    const csv = await bin(['query', '--format', 'csv', sql], { env });
    expect(csv.stdout.trim().split('\n')).toEqual(['"device_id","n","top"', '"meter-1",1,0.55', '"plc-07",2,0.91']);
    const nd = await bin(['query', '--format', 'ndjson', '-p', 'd=plc-07', 'SELECT detector FROM m2m.f WHERE device_id = {d:String} ORDER BY detector;'], { env });
    expect(nd.stdout.trim().split('\n').map((l) => JSON.parse(l).detector)).toEqual(['beaconing', 'fanout']);
  }, 60_000);

  it('reads the statement from stdin', async () => {
    const r = await bin(['query', '--format', 'csv'], { env, input: 'SELECT count() AS n FROM m2m.f\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('"n"\n3\n');
  }, 60_000);

  it('refuses writes unless asked, and reports bad SQL in one line with exit 2', async () => {
    const w = await bin(['query', "INSERT INTO m2m.f VALUES ('x', 'y', 1)"], { env });
    expect(w.code).toBe(2);
    expect(w.stderr).toContain('--allow-writes');
    expect(w.stderr).not.toMatch(STACK_FRAME);
    const bad = await bin(['query', 'SELEC 1'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^m2m-sentinel: ClickHouse refused the statement: Syntax error: failed at position \d+/);
    expect(bad.stderr).not.toContain('Expected one of');
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const none = await bin(['query', 'SELECT * FROM m2m.nosuch'], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nosuch/);
  }, 60_000);

  it('a ClickHouse server that is not there is exit 3', async () => {
    const r = await bin(['query', 'SELECT 1'], { env: { CLICKHOUSE_URL: 'http://127.0.0.1:9/' } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/ClickHouse at http:\/\/127\.0\.0\.1:9/);
    expect(r.stderr).not.toMatch(STACK_FRAME);
  }, 60_000);
});

describe('statement', () => {
  it('adds the FORMAT clause unless one is written, drops a trailing ";", refuses two statements', () => {
    expect(statement('SELECT 1;', 'csv')).toBe('SELECT 1\nFORMAT CSVWithNames');
    expect(statement('SELECT 1 FORMAT Vertical', 'csv')).toBe('SELECT 1 FORMAT Vertical');
    expect(statement("SELECT ';' AS s", 'table')).toContain('PrettyCompactMonoBlock');
    expect(() => statement('SELECT 1; DROP TABLE x', 'table')).toThrow(/one statement/);
    expect(() => statement('  ;', 'table')).toThrow(/empty/);
    expect(statement("INSERT INTO t VALUES (1)", 'table')).toBe('INSERT INTO t VALUES (1)');
  });
});
