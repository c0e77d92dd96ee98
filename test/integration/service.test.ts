/**
 * The service as operators see it, over HTTP: health, readiness and Prometheus metrics against
 * the real broker and embedded ClickHouse; then two faults it must ride out by itself — the
 * embedded engine failing writes (consumption pauses, memory stays flat, it catches up) and the
 * SOC webhook down (alerts wait in the outbox, health says so, all are delivered afterwards).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { kafka, produce, tempDir, testPipeline, uid, waitFor } from '../support/kafka.js';
import { threadCpuTimes } from '../../src/obs/proc.js';
import { defaultDetectWorkers } from '../../src/pipeline/detection-host.js';
import { startService, type Service } from '../../src/pipeline/service.js';
import { parseAccess } from '../../src/server/access.js';
import { queryRows } from '../../src/storage/clickhouse.js';
import { fleet } from '../fault/support/fleet.js';
import { committedToEnd, readTopic } from '../fault/support/harness.js';
import type { PipelineConfig } from '../../src/config/types.js';

const k = kafka();
const events = fleet();
const bad = events.filter((e) => e.bad).length;
const good = events.length - bad;
const detectors: Array<[string, Record<string, unknown>]> = [
  ['metric_baseline', { min_samples: 30, min_learning: '45m', incident_gap: '10m' }],
  ['new_peer', { learning: '45m', min_connections: 20 }],
  ['fanout', { window: '5m', min_distinct_dst: 40 }],
];

// The SOC's webhook: a real HTTP endpoint that the test can take down and bring back.
let webhookUp = false;
const delivered: string[] = [];
let webhook: Server;

let svc: Service;
const TOKEN = 'prometheus-scrape-token-0123456789';
let base = '';
const cfgs: Record<'obs' | 'bp' | 'ref', PipelineConfig> = {} as Record<'obs' | 'bp' | 'ref', PipelineConfig>;

beforeAll(async () => {
  webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (!webhookUp) {
        res.writeHead(503).end();
        return;
      }
      delivered.push((JSON.parse(body) as { finding_info: { uid: string } }).finding_info.uid + '|' + String(req.headers['x-m2m-alert-id'] ?? ''));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/soc`;

  for (const [n, table] of [['obs', 'findings'], ['bp', 'findings_bp'], ['ref', 'findings_ref']] as const) {
    const name = uid(`svc-${n}`);
    const routes: PipelineConfig['alerts']['routes'] = [{ type: 'kafka', name: 'kafka', options: { topic: `${name}.alerts` } }];
    if (n === 'obs') routes.push({ type: 'webhook', name: `hook-${name}`, options: { url: hookUrl, timeout: 2_000 } });
    cfgs[n] = testPipeline(name, detectors, {
      findings: { clickhouse: { database: 'm2m', table, ttl_days: 30 } },
      alerts: { min_severity: 'medium', suppress_ms: 5 * 60_000, routes },
    });
  }
  svc = await startService(Object.values(cfgs), {
    clickhouse: { dataDir: join(tempDir('m2m-svc'), 'ch') },
    httpPort: 0,
    access: parseAccess('tokens: [{ name: prometheus, role: viewer, token_env: T }]', 'access.yaml', { T: TOKEN }).access!,
    deliver: true,
    checkpointEveryMs: 300,
  });
  expect(svc.failed).toEqual([]);
  base = `http://127.0.0.1:${(svc.http!.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await svc?.stop(30_000);
  await new Promise<void>((r) => webhook.close(() => r()));
});

const get = async (path: string) => {
  const r = await fetch(base + path, { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: r.status, text: await r.text() };
};

/** Parse the Prometheus text format into (name{labels} → value) for one metric family. */
async function scrape(): Promise<Array<{ name: string; labels: Record<string, string>; value: number }>> {
  const { status, text } = await get('/metrics');
  expect(status).toBe(200);
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$/i.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}
const pick = (rows: Awaited<ReturnType<typeof scrape>>, name: string, pipeline?: string) =>
  rows.filter((r) => r.name === name && (pipeline === undefined || r.labels.pipeline === pipeline));
const sum = (rows: Array<{ value: number }>) => rows.reduce((n, r) => n + r.value, 0);

const topicOf = (c: PipelineConfig) => c.source.kafka.topics[0]!;
const toMessages = (evs: typeof events) => evs.map((e) => ({ key: e.key, value: e.value }));

/** Every event checkpointed (so counters, outputs and state are final for what was produced). */
async function caughtUp(c: PipelineConfig): Promise<void> {
  await waitFor(() => committedToEnd(k, c.source.kafka.group, topicOf(c)), 90_000);
}

async function findingRows(table: string, pipeline: string) {
  // Everything but the pipeline-derived id, so two pipelines' runs of one input compare.
  return queryRows<Record<string, unknown>>(
    svc.clickhouse.client,
    `SELECT detector, device_id, key, toString(first_ts) AS f, toString(last_ts) AS l, count, score, severity, observed, expected, explanation, evidence, version
     FROM m2m.${table} FINAL WHERE pipeline = {p:String} ORDER BY device_id, detector, key, f`,
    { p: pipeline },
  );
}

describe('service over HTTP', () => {
  it('serves /healthz, /readyz and /metrics with lag per partition, events/s, findings, dead letters, outbox depth and a checkpoint age that ages', async () => {
    webhookUp = true;
    const obs = cfgs.obs;
    await produce(k, topicOf(obs), toMessages(events));
    await caughtUp(obs);

    const hz = await get('/healthz');
    expect(hz.status).toBe(200);
    const rz = await get('/readyz');
    expect(rz.status).toBe(200);
    expect(JSON.parse(rz.text).ready).toBe(true);

    const m = await scrape();
    const lag = pick(m, 'm2m_consumer_lag', obs.name);
    expect(lag.map((r) => r.labels.partition).sort()).toEqual(['0', '1', '2', '3']);
    for (const r of lag) expect(r.value).toBe(0);
    expect(sum(pick(m, 'm2m_events_decoded_total', obs.name))).toBe(good);
    expect(sum(pick(m, 'm2m_dead_letters_total', obs.name))).toBe(bad);
    expect(sum(pick(m, 'm2m_findings_total', obs.name))).toBeGreaterThan(0);
    expect(pick(m, 'm2m_events_per_second', obs.name)[0]?.value).toBeGreaterThan(0);
    expect(pick(m, 'm2m_active_devices', obs.name)[0]?.value).toBe(9);
    // Each detection worker tells its heap: used within total, a live isolate's worth at least.
    const heaps = pick(m, 'm2m_detection_worker_heap_bytes', obs.name);
    const used = heaps.filter((r) => r.labels.kind === 'used');
    expect(used.length).toBe(defaultDetectWorkers());
    for (const u of used) {
      expect(u.value).toBeGreaterThan(1_048_576);
      expect(heaps.find((r) => r.labels.kind === 'total' && r.labels.worker === u.labels.worker)!.value).toBeGreaterThanOrEqual(u.value);
    }
    // CPU by kind of thread (Linux): the main thread and the detection workers both did work, and
    // the counters only grow.
    if (threadCpuTimes() !== undefined) {
      const cpu = (rows: Awaited<ReturnType<typeof scrape>>, role: string) => pick(rows, 'm2m_thread_cpu_seconds_total').find((r) => r.labels.role === role)?.value ?? 0;
      expect(cpu(m, 'main')).toBeGreaterThan(0);
      expect(cpu(m, 'detection_workers')).toBeGreaterThan(0);
      const later = await scrape();
      for (const role of ['main', 'detection_workers', 'node_helpers']) expect(cpu(later, role)).toBeGreaterThanOrEqual(cpu(m, role));
    }

    // Every alert reaches the webhook, and the outbox then reads as drained.
    const alerts = svc.pipelines.find((p) => p.name === obs.name)!.stats().alerts;
    expect(alerts).toBeGreaterThan(0);
    await waitFor(async () => delivered.length >= alerts, 60_000);
    await waitFor(async () => pick(await scrape(), 'm2m_outbox_depth').find((r) => r.labels.route === `hook-${obs.name}`)?.value === 0, 30_000);

    // Idle now: no checkpoint is due, so its age must grow between scrapes.
    const age1 = pick(await scrape(), 'm2m_checkpoint_age_seconds', obs.name);
    expect(age1.length).toBe(4);
    await new Promise((r) => setTimeout(r, 1_500));
    const age2 = pick(await scrape(), 'm2m_checkpoint_age_seconds', obs.name);
    for (const a of age2) expect(a.value).toBeGreaterThanOrEqual(age1.find((b) => b.labels.partition === a.labels.partition)!.value + 1);
  });

  it('pauses consumption while ClickHouse fails, keeps memory flat, reports degraded, then catches up with the same findings', async () => {
    const { bp, ref } = cfgs;
    // Reference: the same input through a pipeline with no faults.
    await produce(k, topicOf(ref), toMessages(events));
    await caughtUp(ref);

    // The embedded engine loses the findings table (a real engine error on every insert).
    await svc.clickhouse.client.command({ query: 'DETACH TABLE m2m.findings_bp' });
    const h = svc.pipelines.find((p) => p.name === bp.name)!;
    const heap0 = process.memoryUsage().heapUsed;
    await produce(k, topicOf(bp), toMessages(events));
    await waitFor(async () => JSON.parse((await get('/healthz')).text).components[`pipeline:${bp.name}`]?.status === 'degraded', 30_000);

    // More input arrives while writes fail: blocked partitions neither advance nor buffer it
    // (kafkajs does not fetch for a partition whose batch is still being processed), so their
    // lag grows and memory holds at most one fetch per partition.
    const more = fleet({ seed: 7 }).map((e) => ({ key: `x-${e.key}`, value: e.value.replaceAll('"device_id":"', '"device_id":"x-') }));
    await produce(k, topicOf(bp), [...more, ...more]);
    await new Promise((r) => setTimeout(r, 3_000));
    const blocked = pick(await scrape(), 'm2m_consumer_lag', bp.name).filter((r) => r.value > 0);
    expect(blocked.length).toBeGreaterThan(0);
    const pos = new Map(h.positions());
    await new Promise((r) => setTimeout(r, 2_000));
    const lagNow = pick(await scrape(), 'm2m_consumer_lag', bp.name);
    for (const b of blocked) {
      const key = `${topicOf(bp)}:${b.labels.partition}`;
      expect(h.positions().get(key)).toBe(pos.get(key));
      expect(lagNow.find((r) => r.labels.partition === b.labels.partition)?.value).toBe(b.value);
    }
    expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(64 * 1_048_576);
    // The findings that cannot be written are counted, not dropped.
    expect(pick(await scrape(), 'm2m_findings_pending', bp.name)[0]?.value).toBeGreaterThan(0);

    // The engine recovers: the runner resumes by itself and catches up.
    await svc.clickhouse.client.command({ query: 'ATTACH TABLE m2m.findings_bp' });
    await caughtUp(bp);
    await waitFor(async () => JSON.parse((await get('/healthz')).text).components[`pipeline:${bp.name}`]?.status === 'ok', 30_000);
    await waitFor(async () => pick(await scrape(), 'm2m_findings_pending', bp.name)[0]?.value === 0, 30_000);

    // The fleet's findings equal the reference run's, row for row (ids differ by pipeline name).
    const got = (await findingRows('findings_bp', bp.name)).filter((r) => !String(r.device_id).startsWith('x-'));
    const want = await findingRows('findings_ref', ref.name);
    expect(want.length).toBeGreaterThan(5);
    expect(got).toEqual(want);
  });

  it('keeps alerts in the outbox while the webhook is down, reports the route degraded, and delivers them all when it is back', async () => {
    const obs = cfgs.obs;
    webhookUp = false;
    const route = `hook-${obs.name}`;
    const before = delivered.length;
    const h = svc.pipelines.find((p) => p.name === obs.name)!;
    const alerts0 = h.stats().alerts;
    // New devices, so new incidents and new alerts.
    const later = fleet({ seed: 99 }).map((e) => ({ key: `b-${e.key}`, value: e.value.replaceAll('"device_id":"', '"device_id":"b-') }));
    await produce(k, topicOf(obs), later);
    await caughtUp(obs);
    const newAlerts = h.stats().alerts - alerts0;
    expect(newAlerts).toBeGreaterThan(0);

    await waitFor(async () => JSON.parse((await get('/healthz')).text).components[`route:${obs.name}/${route}`]?.status === 'degraded', 30_000);
    expect((await get('/readyz')).status).toBe(200); // degraded is still serving
    await waitFor(async () => (pick(await scrape(), 'm2m_outbox_depth').find((r) => r.labels.route === route)?.value ?? 0) >= newAlerts, 30_000);
    expect(delivered.length).toBe(before);

    webhookUp = true;
    await waitFor(async () => delivered.length >= before + newAlerts, 90_000);
    await waitFor(async () => JSON.parse((await get('/healthz')).text).components[`route:${obs.name}/${route}`]?.status === 'ok', 30_000);
    await waitFor(async () => pick(await scrape(), 'm2m_outbox_depth').find((r) => r.labels.route === route)?.value === 0, 30_000);
    // Nothing skipped: what reached the SOC is what the outbox holds (a resend after a failure
    // may repeat an alert, never lose one; the router may re-raise one finding after its window).
    const outbox = await readTopic(k, `${obs.name}.alerts`);
    const ids = (xs: string[]) => [...new Set(xs)].sort();
    const outboxIds = outbox.map((m) => `${(JSON.parse(m.value!.toString()) as { finding_info: { uid: string } }).finding_info.uid}|${m.headers['x-m2m-alert-id']}`);
    expect(ids(delivered)).toEqual(ids(outboxIds));
  });
});
