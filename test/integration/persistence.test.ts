/** Findings written by the embedded engine survive the process that wrote them. */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../support/kafka.js';
import { openClickHouse, queryRows } from '../../src/storage/clickhouse.js';

describe('embedded ClickHouse persistence', () => {
  it('keeps findings across process restarts, and a rewrite of the same finding collapses', () => {
    const dir = join(tempDir('m2m-persist'), 'data');
    const run = () => execFileSync(process.execPath, ['--import', 'tsx', 'test/support/write-finding.ts', dir, 'dev-1'], { encoding: 'utf8' }).trim();
    const id1 = run();
    const id2 = run(); // a second process writes the same finding again (a replay)
    expect(id1).toMatch(/^[0-9a-f]{32}$/);
    expect(id2).toBe(id1);
    return (async () => {
      const ch = openClickHouse({ dataDir: dir });
      try {
        const rows = await queryRows<{ finding_id: string; device_id: string; evidence: string }>(ch.client, 'SELECT finding_id, device_id, evidence FROM m2m.findings FINAL');
        expect(rows).toEqual([{ finding_id: id1, device_id: 'dev-1', evidence: '{"a":1}' }]);
        const mig = await queryRows<{ n: string }>(ch.client, "SELECT count() AS n FROM m2m.schema_migrations FINAL WHERE target = 'findings'");
        expect(Number(mig[0]!.n)).toBeGreaterThanOrEqual(1);
      } finally {
        await ch.client.close();
      }
    })();
  });
});
