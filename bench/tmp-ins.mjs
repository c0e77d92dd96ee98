import { openClickHouse } from '../dist/storage/clickhouse.js';
import { migrate } from '../dist/storage/migrations.js';
import { insertFindings } from '../dist/storage/findings.js';
const h = openClickHouse({ dataDir: '/tmp/chdb-ins-test' });
await migrate(h.client, { database: 'm2m', table: 'findings', ttlDays: 30 });
const f = (i) => ({ finding_id: 'x' + i, pipeline: 'p', version: 1, detector: 'fanout', key: 'k', device_id: 'd' + i, device_class: 'plc', first_ts: 1772323200000 + i, last_ts: 1772323200000 + i, count: 1, score: 0.5, severity: 'low', observed: 1, expected: 'e', explanation: 'x', evidence: { a: 1 }, mitre: ['T1'] });
for (const n of [1, 60, 600]) {
  const t = performance.now(); const reps = 30;
  for (let r = 0; r < reps; r++) await insertFindings(h.client, 'm2m', 'findings', Array.from({ length: n }, (_, i) => f(r * n + i)));
  console.log(`${n} findings per insert: ${((performance.now() - t) / reps).toFixed(1)} ms`);
}
