/**
 * The detector contract, for every detector in the registry: a new detector is covered by adding
 * it to src/detectors/registry.ts. On one stream that holds what each detector is for, each must
 * raise findings (determinism is shown on findings, not on silence), raise the same ones twice,
 * keep every device's state under the bound it declares, and carry on after a restore through the
 * checkpoint codec (src/state/changelog.ts) exactly as if it had never stopped.
 */
import { describe, expect, it } from 'vitest';
import { DETECTORS } from '../../src/detectors/registry.js';
import type { DetectorInstance, Finding } from '../../src/detectors/types.js';
import type { M2MEvent } from '../../src/events/types.js';
import { createEngine, type EngineSnapshot } from '../../src/pipeline/engine.js';
import { decodeDevice, encodeDevice } from '../../src/state/changelog.js';
import { DAY, HOUR, MIN, T0, TELEMETRY_CHURN_END, conn, connectionChurn, gauss, make, maxStateSize, reading, rng, run, telemetryChurn } from './helpers.js';

/** Parameters that let a detector see its pattern in the contract stream (it is short). */
const PARAMS: Record<string, Record<string, unknown>> = {
  beaconing: { only_new_peers: false },
  // Declared limits are the pipeline's; the churn's level sits at 140 ± 0.5 and sticks at 143.2.
  range_limits: { limits: { level_cm: { min: 0, max: 142 } } },
};

/**
 * A meter whose power is voltage × current for five days, then reads 0.6 of it for four hours
 * (what metric_relation is for).
 */
function meterTheft(): M2MEvent[] {
  const r = rng(21);
  const out: M2MEvent[] = [];
  for (let t = T0; t < T0 + 5 * DAY; t += 5 * MIN) {
    const h = (t / HOUR) % 24;
    const kw = (0.3 + 1.2 * Math.exp(-((h - 19) ** 2) / 4)) * Math.exp(0.25 * gauss(r));
    const v = 231 + 0.7 * gauss(r);
    const stolen = t >= T0 + 4 * DAY + 2 * HOUR && t < T0 + 4 * DAY + 6 * HOUR;
    out.push(reading(t, { voltage: Math.round(v * 10) / 10, current_a: Math.round(((kw * 1000) / (v * 0.93)) * 100) / 100, power_kw: Math.round(kw * (stolen ? 0.6 : 1) * 1000) / 1000 }, { device_id: 'meter-c' }));
  }
  return out;
}

/**
 * After the churn's weeks, on its last night: a scan of 200 hosts in a minute (fanout), admin
 * ports on a segment the device never used (lateral_movement), and plaintext to the broker a
 * second device has always reached over TLS (tls_downgrade).
 */
function connectionNight(churn: M2MEvent[]): M2MEvent[] {
  const last = churn[churn.length - 1]!.ts;
  const out: M2MEvent[] = [];
  for (let t = T0; t < last; t += 10 * MIN) out.push(conn('tls-dev', t, '203.0.113.20', 8883, { src_ip: '10.5.0.2', tls: true }));
  const night = last + HOUR;
  for (let k = 0; k < 200; k++) out.push(conn('d', night + k * 300, `10.9.${k >> 8}.${k & 255}`, 23, { src_ip: '10.1.0.1' }));
  for (let k = 0; k < 20; k++) out.push(conn('d', night + 10 * MIN + k * 30_000, `10.77.0.${5 + (k % 4)}`, [3389, 445, 5985, 22][k % 4]!, { src_ip: '10.1.0.1', auth: 'failed' }));
  for (let k = 0; k < 12; k++) out.push(conn('tls-dev', night + k * 5 * MIN, '203.0.113.20', 8883, { src_ip: '10.5.0.2', tls: false }));
  return out;
}

const byTime = (evs: M2MEvent[]): M2MEvent[] => evs.sort((a, b) => a.ts - b.ts);
const CHURN = connectionChurn();
/** What each family of detectors is for, on devices that learned first (test/detectors/helpers.ts). */
const STREAMS: Record<string, M2MEvent[]> = { telemetry: byTime([...telemetryChurn(), ...meterTheft()]), connection: byTime([...CHURN, ...connectionNight(CHURN)]) };
const streamOf = (family: string): M2MEvent[] => STREAMS[family] ?? [...STREAMS.telemetry!, ...STREAMS.connection!].sort((a, b) => a.ts - b.ts);
const endOf = (events: M2MEvent[]): number => Math.max(TELEMETRY_CHURN_END, events[events.length - 1]!.ts + DAY);

function engineOf(det: DetectorInstance) {
  return createEngine({ pipeline: 'test', detectors: [det], allowedLatenessMs: 0, idleEvictionMs: 30 * DAY, tickEveryMs: MIN });
}

/** The finding versions raised from event `from` on, by an engine restored there from the changelog codec. */
function restoredAt(name: string, from: number): Finding[] {
  const spec = DETECTORS.find((d) => d.name === name)!;
  const STREAM = streamOf(spec.family);
  const END = endOf(STREAM);
  const first = engineOf(make(spec, PARAMS[name] ?? {}));
  for (let i = 0; i < from; i++) first.process(STREAM[i]!);
  const snap = first.snapshot();
  const devices: EngineSnapshot['devices'] = {};
  for (const [id, st] of Object.entries(snap.devices)) devices[id] = decodeDevice(encodeDevice(st));
  const next = engineOf(make(spec, PARAMS[name] ?? {}));
  next.restore({ ...snap, devices });
  const out: Finding[] = [];
  for (let i = from; i < STREAM.length; i++) out.push(...next.process(STREAM[i]!));
  out.push(...next.advanceTo(END));
  return out;
}

describe('the detector contract, for every detector in the registry', () => {
  for (const spec of DETECTORS) {
    it(spec.name, () => {
      const STREAM = streamOf(spec.family);
      const END = endOf(STREAM);
      const det = make(spec, PARAMS[spec.name] ?? {});
      const a = run([det], STREAM, { endTs: END });
      expect(a.findings.length, `${spec.name} raises nothing on the contract stream: extend it (test/detectors/helpers.ts) with what ${spec.name} is for`).toBeGreaterThan(0);
      const b = run([make(spec, PARAMS[spec.name] ?? {})], STREAM, { endTs: END });
      expect(JSON.stringify(b.findings)).toBe(JSON.stringify(a.findings));
      expect(maxStateSize(a, det.id)).toBeLessThanOrEqual(det.maxStateBytes!);
      // Restored halfway: the versions raised from there on are the straight run's.
      const half = Math.floor(STREAM.length / 2);
      const straight = engineOf(make(spec, PARAMS[spec.name] ?? {}));
      const after: Finding[] = [];
      for (let i = 0; i < STREAM.length; i++) {
        const fs = straight.process(STREAM[i]!);
        if (i >= half) after.push(...fs);
      }
      after.push(...straight.advanceTo(END));
      expect(JSON.stringify(restoredAt(spec.name, half))).toBe(JSON.stringify(after));
    });
  }
});
