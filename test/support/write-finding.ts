// Child process for the persistence test: writes one finding into an embedded data dir and exits.
import { openClickHouse } from '../../src/storage/clickhouse.js';
import { migrate } from '../../src/storage/migrations.js';
import { insertFindings } from '../../src/storage/findings.js';
import { finalize } from '../../src/pipeline/engine.js';

const [dir, device] = process.argv.slice(2) as [string, string];
const ch = openClickHouse({ dataDir: dir });
await migrate(ch.client, { database: 'm2m', table: 'findings', ttlDays: 30 });
const f = finalize('persist', {
  detector: 'metric_baseline', key: 'v', device_id: device, device_class: 'sensor', first_ts: Date.UTC(2026, 2, 1), last_ts: Date.UTC(2026, 2, 1),
  count: 1, score: 0.8, severity: 'high', observed: 99, expected: '10 ± 1', explanation: 'test', evidence: { a: 1 }, mitre: ['T0831'],
});
await insertFindings(ch.client, 'm2m', 'findings', [f]);
await ch.client.close();
process.stdout.write(f.finding_id);
