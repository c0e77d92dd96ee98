/**
 * A small fleet for the fleet stage's service tests, with one fleet change and one attack that
 * spreads, each in its own class, over eight hours of event time (a few thousand events):
 * - 12 vehicles check in with their cloud backend every five minutes; three hours in they move
 *   to a new endpoint one after another, three minutes apart (a DNS change rolling out);
 * - 12 meters check in with their head-end; four hours in a worm reaches four of them twenty
 *   minutes apart: each scans 40 hosts on telnet, then calls the same rare host every 5 minutes;
 * - from 2.5 hours in, one more meter calls a host no other device uses every 5 minutes (an
 *   implant): a change only its device shows, which the fleet stage passes on and alerts.
 * Seeded, no clock: every run produces the same events.
 */
import type { PipelineConfig } from '../../src/config/types.js';
import { defaultFleet } from '../../src/config/fleet.js';
import type { M2MEvent } from '../../src/events/types.js';
import { testPipeline } from './kafka.js';

export const T0 = Date.UTC(2026, 2, 2, 6);
const MIN = 60_000;
const HOUR = 60 * MIN;

export const VEHICLES = Array.from({ length: 12 }, (_, i) => `veh-${String(i).padStart(2, '0')}`);
export const METERS = Array.from({ length: 12 }, (_, i) => `meter-${String(i).padStart(2, '0')}`);
export const INFECTED = ['meter-01', 'meter-04', 'meter-07', 'meter-10'];
export const NEW_ENDPOINT = '18.200.5.77';
export const WORM_HOST = '185.220.101.4';
export const IMPLANTED = 'meter-05';
export const IMPLANT_HOST = '45.77.13.9';

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

export function fleetEvents(hours = 8): M2MEvent[] {
  const r = rng(20260302);
  const out: M2MEvent[] = [];
  const conn = (device: string, cls: string, i: number, ts: number, dst: string, port: number, extra: Partial<M2MEvent> = {}): M2MEvent =>
    ({ type: 'connection', device_id: device, device_class: cls, ts, src_ip: `100.64.${cls === 'vehicle' ? 1 : 2}.${i + 10}`, dst_ip: dst, dst_port: port, protocol: 'tcp', tls: true, bytes_out: 300 + Math.floor(r() * 40), bytes_in: 120, duration_ms: 80, auth: 'ok', ...extra }) as M2MEvent;
  VEHICLES.forEach((v, i) => {
    const moves = T0 + 3 * HOUR + i * 3 * MIN;
    const phase = Math.floor(r() * 4 * MIN);
    for (let t = T0 + phase; t < T0 + hours * HOUR; t += 5 * MIN + Math.floor((r() - 0.5) * 10_000)) out.push(conn(v, 'vehicle', i, t, t < moves ? '52.10.20.30' : NEW_ENDPOINT, 8883, { app_protocol: 'mqtt' }));
  });
  METERS.forEach((m, i) => {
    const phase = Math.floor(r() * 4 * MIN);
    for (let t = T0 + phase; t < T0 + hours * HOUR; t += 5 * MIN + Math.floor((r() - 0.5) * 10_000)) out.push(conn(m, 'meter', i, t, '10.50.0.1', 443, { app_protocol: 'https' }));
    if (m === IMPLANTED) for (let t = T0 + 150 * MIN; t < T0 + hours * HOUR; t += 5 * MIN + Math.floor((r() - 0.5) * 4_000)) out.push(conn(m, 'meter', i, t, IMPLANT_HOST, 80, { tls: false, app_protocol: 'http', bytes_out: 310, bytes_in: 190 }));
    const k = INFECTED.indexOf(m);
    if (k < 0) return;
    const at = T0 + 4 * HOUR + k * 20 * MIN;
    for (let j = 0; j < 40; j++) out.push(conn(m, 'meter', i, at + j * 2_000, `${41 + j}.${(j * 7) % 250}.${(j * 13) % 250}.${j + 1}`, 23, { tls: false, bytes_out: 60, bytes_in: 0, duration_ms: 5 }));
    for (let t = at + 2 * MIN; t < at + 100 * MIN; t += 5 * MIN) out.push(conn(m, 'meter', i, t, WORM_HOST, 8080, { tls: false, bytes_out: 400, bytes_in: 2_000 }));
  });
  return out.sort((a, b) => a.ts - b.ts || (a.device_id < b.device_id ? -1 : 1));
}

/** The detectors these cases need, with learning short enough for an eight-hour fleet. */
export const FLEET_DETECTORS: Array<[string, Record<string, unknown>]> = [
  ['new_peer', { learning: '2h', min_connections: 10 }],
  ['beaconing', { learning: '2h', min_events: 8 }],
  ['fanout', { window: '5m', min_distinct_dst: 30 }],
];

/** The pipeline with the fleet view on (its default keys), or off for a control run. */
export function fleetPipeline(name: string, enabled = true, over: Partial<PipelineConfig> = {}): PipelineConfig {
  return testPipeline(name, FLEET_DETECTORS, { fleet: defaultFleet(enabled), ...over });
}

/** The wire form of an event (as devices send it: ISO time). */
export const toJson = (e: M2MEvent): string => JSON.stringify({ ...e, ts: new Date(e.ts).toISOString() });
