/**
 * What one insert of findings costs the embedded ClickHouse (chdb), by batch size: process CPU
 * (every thread, chdb's included) and wall time per insert, into the real findings table
 * (migrations applied) in a temporary data directory. The cost is mostly fixed per insert,
 * which is why the runner coalesces findings (src/pipeline/findings-writer.ts).
 *
 *   npm run build && node bench/clickhouse-insert.mjs [--inserts 200] [--sizes 1,10,100,1000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openClickHouse } from '../dist/storage/clickhouse.js';
import { migrate } from '../dist/storage/migrations.js';
import { insertFindings } from '../dist/storage/findings.js';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const inserts = Number(opt('--inserts', 200));
const sizes = opt('--sizes', '1,10,100,1000').split(',').map(Number);

const finding = (i) => ({
  finding_id: `f${String(i).padStart(31, '0')}`,
  pipeline: 'bench',
  detector: 'fanout',
  device_id: `plc-${i % 500}`,
  device_class: 'plc',
  key: 'vertical',
  first_ts: 1.7e12 + i,
  last_ts: 1.7e12 + i,
  count: 1 + (i % 64),
  score: 0.72,
  severity: 'high',
  observed: '40 distinct destination ports in 5m',
  expected: 'about 3 (threshold 12)',
  explanation: 'plc-17 (plc) contacted 40 distinct destination ports within 5m (it normally contacts about 3; threshold 12); treat this as a port scan: isolate the device and check which process opened the connections.',
  evidence: { kind: 'vertical', distinct: 40, threshold: 12, typical: 3, window_ms: 300000, sample: ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'], other_distinct: 1 },
  mitre: ['T0846', 'T1046'],
  version: 1 + (i % 64),
});

const dir = mkdtempSync(join(tmpdir(), 'm2m-chinsert-'));
try {
  const { client } = openClickHouse({ dataDir: dir });
  const t = { database: 'm2m', table: 'findings', ttlDays: 90 };
  await migrate(client, t);
  let next = 0;
  console.log(`embedded ClickHouse, ${inserts} inserts per size, findings table with its migrations`);
  for (const size of sizes) {
    await insertFindings(client, t.database, t.table, Array.from({ length: size }, () => finding(next++)));
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    for (let k = 0; k < inserts; k++) await insertFindings(client, t.database, t.table, Array.from({ length: size }, () => finding(next++)));
    const c = process.cpuUsage(c0);
    const cpuMs = (c.user + c.system) / 1000 / inserts;
    const wallMs = (performance.now() - w0) / inserts;
    console.log(`${String(size).padStart(6)} rows: cpu ${cpuMs.toFixed(2).padStart(6)} ms, wall ${wallMs.toFixed(2).padStart(6)} ms per insert; cpu ${((1000 * cpuMs) / size).toFixed(1).padStart(8)} µs per row`);
  }
  await client.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
