/**
 * The fleet view in the service: the device stage forwards change findings, attack marks and
 * facts to the fleet topic; the fleet stage judges them and writes and alerts what it decides.
 * One run of a small fleet (fleet-scenario.ts) over two source partitions, through the real
 * broker and the embedded ClickHouse, checked against what the backtest's one-process detection
 * (createOfflineDetection) finds for the same input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createOfflineDetection } from '../../src/eval/detect.js';
import type { Finding } from '../../src/detectors/types.js';
import { FLEET_DETECTOR } from '../../src/fleet/fleet.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { fleetTopic } from '../../src/pipeline/fleet-forward.js';
import { startService, type Service } from '../../src/pipeline/service.js';
import { queryRows } from '../../src/storage/clickhouse.js';
import { registry } from '../../src/obs/metrics.js';
import type { OcsfDetectionFinding } from '../../src/alerts/ocsf.js';
import { committedToEnd, readTopic } from '../fault/support/harness.js';
import { kafka, produce, tempDir, uid, waitFor } from '../support/kafka.js';
import { fleetEvents, fleetPipeline, IMPLANT_HOST, IMPLANTED, INFECTED, toJson, VEHICLES, WORM_HOST } from '../support/fleet-scenario.js';

const k = kafka();
const events = fleetEvents();
const cfg = fleetPipeline(uid('fleetsvc'));
const topic = cfg.source.kafka.topics[0]!;
const alerts: OcsfDetectionFinding[] = [];
let svc: Service;

interface Row {
  finding_id: string;
  detector: string;
  device_id: string;
  key: string;
  severity: string;
  version: string;
  evidence: string;
}
let rows: Row[] = [];
let outbox: OcsfDetectionFinding[] = [];

const verdictOf = (evidence: Record<string, unknown>): string => (evidence.fleet as { verdict?: string } | undefined)?.verdict ?? '-';
const alertWorthy = (s: string) => s === 'medium' || s === 'high' || s === 'critical';
/** What the comparison looks at: id, version, severity and the fleet's verdict. */
const judged = (fs: Array<{ finding_id: string; version: number | string; severity: string; evidence: Record<string, unknown> }>) =>
  fs.map((f) => `${f.finding_id} v${f.version} ${f.severity} ${verdictOf(f.evidence)}`).sort();

beforeAll(async () => {
  await ensureTopics(k, [{ topic, partitions: 2 }]);
  await produce(
    k,
    topic,
    events.map((e) => ({ key: e.device_id, value: toJson(e) })),
  );
  svc = await startService([cfg], {
    clickhouse: { dataDir: join(tempDir('m2m-fleetsvc'), 'ch') },
    checkpointEveryMs: 300,
    fleetIdleMs: 500,
    deliver: false,
    onAlert: (a) => alerts.push(a),
  });
  expect(svc.failed).toEqual([]);
  expect(svc.fleets).toHaveLength(1);
  // Everything consumed and checkpointed (so every frame is published), then the end of input.
  await waitFor(() => committedToEnd(k, cfg.source.kafka.group, topic), 120_000);
  await svc.fleets[0]!.endOfInput();
  rows = await queryRows<Row>(
    svc.clickhouse.client,
    `SELECT finding_id, detector, device_id, key, severity, toString(version) AS version, evidence FROM m2m.findings FINAL WHERE pipeline = {p:String}`,
    { p: cfg.name },
  );
  outbox = (await readTopic(k, cfg.alerts.routes[0]!.options.topic as string)).map((m) => JSON.parse(m.value!.toString()) as OcsfDetectionFinding);
}, 240_000);

afterAll(async () => {
  await svc?.stop(30_000);
});

describe('fleet stage in the service', { timeout: 60_000 }, () => {
  it('a class-wide endpoint migration is one fleet_change finding in ClickHouse and no device alert on the outbox', () => {
    // Without the fleet view the same input alerts on the vehicles (so this can fail).
    const control = createOfflineDetection(fleetPipeline(cfg.name, false));
    for (const e of events) control.process(e);
    const raw = control.finish().filter((f) => f.device_id.startsWith('veh-') && alertWorthy(f.severity));
    expect(new Set(raw.map((f) => f.device_id)).size).toBe(VEHICLES.length);

    const fleetRows = rows.filter((r) => r.detector === FLEET_DETECTOR);
    expect(fleetRows.map((r) => r.device_id)).toEqual(['fleet:vehicle']);
    expect(fleetRows[0]!.key).toContain('18.200.5.0/24:8883');
    expect((JSON.parse(fleetRows[0]!.evidence) as { device_count: number }).device_count).toBe(VEHICLES.length);
    // The device findings it explains are stored, folded (info).
    const folded = rows.filter((r) => r.device_id.startsWith('veh-') && verdictOf(JSON.parse(r.evidence) as Record<string, unknown>) === 'folded');
    expect(new Set(folded.map((r) => r.device_id)).size).toBe(VEHICLES.length);
    expect(outbox.filter((a) => a.device.uid.startsWith('veh-'))).toEqual([]);
    expect(alerts.filter((a) => a.device.uid.startsWith('veh-'))).toEqual([]);
  });

  it('a worm is alerted on every infected device, and its host is never folded', () => {
    const alerted = new Set(outbox.map((a) => a.device.uid));
    for (const m of INFECTED) expect(alerted.has(m), m).toBe(true);
    const foldedWorm = rows.filter((r) => r.evidence.includes(WORM_HOST) && verdictOf(JSON.parse(r.evidence) as Record<string, unknown>) === 'folded');
    expect(foldedWorm).toEqual([]);
    // Each alert on the outbox once.
    const ids = outbox.map((a) => a.metadata.uid);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a change only one device shows (an implant calling a rare host) is passed on and alerted by the fleet stage', () => {
    const implant = rows.filter((r) => r.device_id === IMPLANTED && r.detector === 'beaconing' && r.key.startsWith(IMPLANT_HOST));
    expect(implant).toHaveLength(1);
    expect(alertWorthy(implant[0]!.severity)).toBe(true);
    const onOutbox = outbox.filter((a) => a.device.uid === IMPLANTED && a.finding_info.uid.length > 0);
    expect(onOutbox.length).toBeGreaterThan(0);
  });

  it('judges as the backtest does: the same findings, versions, severities and verdicts', () => {
    const offline = createOfflineDetection(cfg);
    for (const e of events) offline.process(e);
    const expected: Finding[] = offline.finish();
    expect(expected.some((f) => verdictOf(f.evidence) === 'folded')).toBe(true);
    expect(expected.some((f) => verdictOf(f.evidence) === 'service')).toBe(true);
    expect(judged(rows.map((r) => ({ ...r, evidence: JSON.parse(r.evidence) as Record<string, unknown> })))).toEqual(judged(expected));
  });

  it('reports the fleet stage in its metrics and leaves its topic consumed', async () => {
    await waitFor(() => committedToEnd(k, fleetTopic(cfg), fleetTopic(cfg)), 30_000);
    const text = await registry.metrics();
    const value = (name: string, labels: string) => Number(new RegExp(`^${name}\\{pipeline="${cfg.name}"${labels}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    expect(value('m2m_fleet_verdicts_total', ',verdict="folded"')).toBeGreaterThanOrEqual(VEHICLES.length);
    expect(value('m2m_fleet_verdicts_total', ',verdict="service"')).toBeGreaterThan(0);
    expect(value('m2m_fleet_verdicts_total', ',verdict="fleet_change"')).toBeGreaterThan(0);
    expect(value('m2m_fleet_inputs_total', ',kind="fact"')).toBeGreaterThan(0);
    expect(value('m2m_fleet_inputs_total', ',kind="finding"')).toBeGreaterThan(0);
    // Judged to the end: nothing held or waiting, and the fleet watermark with the newest source.
    expect(value('m2m_fleet_held_findings', '')).toBe(0);
    expect(value('m2m_fleet_queued_inputs', '')).toBe(0);
    // Both sources caught up and quiet, so declared idle: the fleet watermark is the newest.
    await waitFor(async () => Number(/^m2m_fleet_watermark_lag_seconds\{pipeline="[^"]+"\} (\S+)$/m.exec(await registry.metrics())?.[1]) === 0, 15_000);
    expect(svc.fleets[0]!.stats().inputs).toBeGreaterThan(events.length / 20);
  });
});
