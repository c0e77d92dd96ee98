/**
 * The fleet view through the default pipeline, as the backtest and the service run it: fleet
 * changes (a class moving to a new endpoint, a rollout) give one fleet finding and no device
 * alert; attacks that spread (a worm) stay an incident on every device.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPipelineText } from '../../src/config/load.js';
import { createOfflineDetection } from '../../src/eval/detect.js';
import type { Finding } from '../../src/detectors/types.js';
import type { M2MEvent } from '../../src/events/types.js';
import { FLEET_DETECTOR } from '../../src/fleet/fleet.js';
import { Rng } from '../../src/sim/prng.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 2, 2); // a Monday

function defaultPipeline() {
  const r = loadPipelineText(readFileSync('pipelines/default.yaml', 'utf8'), 'pipelines/default.yaml', {});
  if (!r.pipeline) throw new Error(JSON.stringify(r.errors));
  return r.pipeline;
}

const alertWorthy = (fs: Finding[]) => fs.filter((f) => f.severity === 'medium' || f.severity === 'high' || f.severity === 'critical');

interface Vehicle {
  id: string;
  ip: string;
  backend: (t: number) => string;
  firmware: (t: number) => string;
  /** Extra connections (an attack), as [ts, dst_ip, dst_port, extra]. */
  extra?: Array<[number, string, number, Partial<M2MEvent>]>;
}

/** A class of telematics units: a TLS check-in to the backend each minute, telemetry every five, NTP hourly. */
function fleet(n: number, days: number, make: (i: number) => Partial<Vehicle>): M2MEvent[] {
  const rng = new Rng(42);
  const out: M2MEvent[] = [];
  for (let i = 0; i < n; i++) {
    const v: Vehicle = { id: `veh-${String(i).padStart(3, '0')}`, ip: `100.64.${i >> 6}.${(i % 64) + 2}`, backend: () => '52.10.20.30', firmware: () => '2.8.4', ...make(i) };
    const phase = rng.int(0, 59_000);
    let seq = 0;
    let k = 0;
    for (let t = T0 + phase; t < T0 + days * DAY; t += MIN + rng.int(-500, 500)) {
      if (k++ % 5 === 0) out.push({ type: 'telemetry', device_id: v.id, device_class: 'vehicle', ts: t, metrics: { battery_v: 12.6 + 0.05 * rng.normal(), temp_c: 30 + rng.normal() }, firmware: v.firmware(t), seq: seq++ });
      out.push({ type: 'connection', device_id: v.id, device_class: 'vehicle', ts: t + 200, src_ip: v.ip, dst_ip: v.backend(t), dst_port: 8883, protocol: 'tcp', app_protocol: 'mqtt', tls: true, bytes_out: 300 + rng.int(0, 40), bytes_in: 120, duration_ms: 80, auth: 'ok' });
    }
    for (let t = T0 + rng.int(0, HOUR); t < T0 + days * DAY; t += HOUR) {
      out.push({ type: 'connection', device_id: v.id, device_class: 'vehicle', ts: t, src_ip: v.ip, dst_ip: '10.0.0.1', dst_port: 123, protocol: 'udp', bytes_out: 76, bytes_in: 76, duration_ms: 3 });
    }
    for (const [ts, dst, port, extra] of v.extra ?? []) out.push({ type: 'connection', device_id: v.id, device_class: 'vehicle', ts, src_ip: v.ip, dst_ip: dst, dst_port: port, protocol: 'tcp', bytes_out: 60, bytes_in: 0, duration_ms: 5, ...extra } as M2MEvent);
  }
  return out.sort((a, b) => a.ts - b.ts);
}

function detect(events: M2MEvent[]): Finding[] {
  const det = createOfflineDetection(defaultPipeline());
  for (const e of events) det.process(e);
  return det.finish(events[events.length - 1]!.ts + MIN);
}

// Each case runs two days of a 30-device class through the whole default pipeline.
describe('fleet view', { timeout: 180_000 }, () => {
  it('a whole class moving to a new cloud endpoint is one fleet finding, not an alert per vehicle', () => {
    // On day 2 every vehicle moves to the new endpoint within 40 minutes (a DNS change rolling out).
    const at = T0 + DAY + 10 * HOUR;
    const evs = fleet(30, 2, (i) => ({ backend: (t) => (t < at + i * 80_000 ? '52.10.20.30' : '18.200.5.77') }));
    const fs = detect(evs);
    expect(alertWorthy(fs.filter((f) => f.device_id.startsWith('veh-')))).toEqual([]);
    const fleetFindings = fs.filter((f) => f.detector === FLEET_DETECTOR);
    expect(fleetFindings).toHaveLength(1);
    expect(fleetFindings[0]!.key).toContain('18.200.5.0/24:8883');
    expect(fleetFindings[0]!.count).toBeGreaterThanOrEqual(20);
    // The device findings it explains are kept, folded (info), with the reason in their evidence.
    const folded = fs.filter((f) => (f.evidence.fleet as { verdict?: string } | undefined)?.verdict === 'folded');
    expect(folded.length).toBeGreaterThanOrEqual(20);
  });

  it('a firmware rollout that also brings a new update server is one fleet finding and no device alert', () => {
    const at = T0 + DAY + 8 * HOUR;
    const evs = fleet(30, 2, (i) => {
      const when = at + i * 4 * MIN;
      return {
        firmware: (t) => (t < when ? '2.8.4' : '2.9.0'),
        extra: Array.from({ length: 20 }, (_, k) => [when + 5 * MIN + k * 15 * MIN, '34.120.9.14', 443, { tls: true, bytes_out: 900, app_protocol: 'https' }] as [number, string, number, Partial<M2MEvent>]),
      };
    });
    const fs = detect(evs);
    expect(alertWorthy(fs.filter((f) => f.device_id.startsWith('veh-')))).toEqual([]);
    const fleetFindings = fs.filter((f) => f.detector === FLEET_DETECTOR);
    expect(fleetFindings).toHaveLength(1);
    const sigs = (fleetFindings[0]!.evidence.signatures as string[]).join(' ');
    expect(sigs).toContain('2.9.0');
    expect(sigs).toContain('34.120.9.0/24:443');
  });

  it('a worm (vehicles one after another scanning and calling the same rare host) is alerted on every device', () => {
    // 12 of 30: enough that its host is common in the class by the end, so only the scans keep it from folding.
    const infected = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23];
    const start = T0 + DAY + 9 * HOUR;
    const evs = fleet(30, 2, (i) => {
      const k = infected.indexOf(i);
      if (k < 0) return {};
      const t0 = start + k * 20 * MIN;
      const extra: Array<[number, string, number, Partial<M2MEvent>]> = [];
      for (let j = 0; j < 24; j++) extra.push([t0 + j * 5 * MIN, '185.220.101.4', 8080, { bytes_out: 400, bytes_in: 2_000 }]);
      for (let j = 0; j < 300; j++) extra.push([t0 + 2 * MIN + j * 800, `${41 + (j % 50)}.${(j * 7) % 250}.${(j * 13) % 250}.${(j % 200) + 1}`, 23, {}]);
      return { extra };
    });
    const fs = detect(evs);
    const alerted = new Set(alertWorthy(fs).map((f) => f.device_id));
    for (const i of infected) expect(alerted.has(`veh-${String(i).padStart(3, '0')}`)).toBe(true);
    // Its rare host is not folded on any infected device.
    const foldedWorm = fs.filter((f) => (f.evidence.fleet as { verdict?: string } | undefined)?.verdict === 'folded' && JSON.stringify(f.evidence).includes('185.220.101.4'));
    expect(foldedWorm).toEqual([]);
  });

  it('an implant beaconing from the first event is found once its window fills; the class\'s own periodic backend is not', () => {
    const rng = new Rng(7);
    const beats: Array<[number, string, number, Partial<M2MEvent>]> = [];
    for (let t = T0 + 90_000; t < T0 + 2 * DAY; t += rng.int(200_000, 350_000)) beats.push([t, '45.77.13.9', 80, { app_protocol: 'http', bytes_out: 310 + rng.int(0, 30), bytes_in: 190, tls: false }]);
    const evs = fleet(30, 2, (i) => (i === 5 ? { extra: beats } : {}));
    const fs = detect(evs);
    const implant = alertWorthy(fs).filter((f) => f.device_id === 'veh-005' && f.detector === 'beaconing' && f.key === '45.77.13.9:80');
    expect(implant).toHaveLength(1);
    // Found after the window fills (hours, not days), though the peer was there from the start.
    expect(implant[0]!.first_ts - T0).toBeLessThan(12 * HOUR);
    expect(alertWorthy(fs).filter((f) => f.key.startsWith('52.10.20.30') || f.key.startsWith('10.0.0.1'))).toEqual([]);
    const backend = fs.filter((f) => f.detector === 'beaconing' && f.key === '52.10.20.30:8883');
    expect(backend.length).toBeGreaterThan(20);
    for (const f of backend) expect((f.evidence.fleet as { verdict?: string }).verdict).toBe('service');
  });
});
