/** The fleet view's judgement of single findings, on hand-made facts (src/fleet/fleet.ts). */
import { describe, expect, it } from 'vitest';
import { createFleet } from '../../src/fleet/fleet.js';
import { beaconing } from '../../src/detectors/beaconing.js';
import { metricBaseline } from '../../src/detectors/metric_baseline/detector.js';
import { reporting } from '../../src/detectors/reporting.js';
import { finalize } from '../../src/pipeline/engine.js';
import type { FleetFact, Finding } from '../../src/detectors/types.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 2, 2);

function fleet() {
  return createFleet({ pipeline: 'p', hold: HOUR, window: 6 * HOUR, minDevices: 5, minShare: 0.2, commonShare: 0.25, memory: 7 * 24 * HOUR, roleOf: (d) => (d === 'beaconing' ? beaconing.fleet : undefined) });
}

/** 40 tills, two per store except pos-7 alone in store 99, each using its store router and the shared gateway. */
function stores(): FleetFact[] {
  const out: FleetFact[] = [];
  for (let i = 0; i < 40; i++) {
    const d = `pos-${i}`;
    const store = i === 7 ? 99 : i >> 1;
    out.push({ k: 'seen', d, c: 'pos', ts: T0 });
    out.push({ k: 'peer', d, c: 'pos', ts: T0, ip: `10.40.${store}.1`, port: 123 });
    out.push({ k: 'peer', d, c: 'pos', ts: T0, ip: '52.1.2.3', port: 443 });
  }
  out.push({ k: 'peer', d: 'pos-7', c: 'pos', ts: T0, ip: '45.77.13.9', port: 80 });
  return out;
}

/** An established regular channel from pos-7, as beaconing reports it. */
function channel(dst: string, port: number): Finding {
  return finalize('p', {
    detector: 'beaconing', key: `${dst}:${port}`, device_id: 'pos-7', device_class: 'pos', first_ts: T0 + HOUR, last_ts: T0 + HOUR, count: 1, score: 0.35, severity: 'low',
    observed: 'every 5m', expected: 'shared', explanation: 'pos-7 (pos) has contacted it regularly.', mitre: [],
    evidence: { dst_ip: dst, dst_port: port, src_ip: '10.40.99.11', established: true, rare_score: 0.8 },
  });
}

function judge(f: Finding): Finding {
  const fl = fleet();
  fl.facts(stores());
  expect(fl.offer(f)).toEqual([]);
  return fl.advanceTo(T0 + 3 * HOUR).find((x) => x.finding_id === f.finding_id)!;
}

describe('fleet verdicts on established channels', () => {
  it('raises a regular channel to an internet host no other device uses', () => {
    const f = judge(channel('45.77.13.9', 80));
    expect(f.severity).toBe('high');
    expect((f.evidence.fleet as { verdict: string }).verdict).toBe('raised');
  });
  it('does not raise one to the device\'s own store router, rare in the class as every store\'s is', () => {
    const f = judge(channel('10.40.99.1', 123));
    expect(f.severity).toBe('low');
  });
  it('nor one to a private server of another network (a regional time server), private addresses being planned per site', () => {
    const f = judge(channel('10.41.0.9', 123));
    expect(f.severity).toBe('low');
    expect(f.evidence.fleet).toBeUndefined();
  });
  it('judges one to the class\'s shared gateway a fleet service', () => {
    const f = judge(channel('52.1.2.3', 443));
    expect(f.severity).toBe('info');
    expect((f.evidence.fleet as { verdict: string }).verdict).toBe('service');
  });
});

/** A new-peer beaconing finding (not established) from `d` to `dst` at `t`, with its peer fact. */
function moved(fl: ReturnType<typeof fleet>, d: string, dst: string, t: number): Finding[] {
  fl.facts([{ k: 'peer', d, c: 'pos', ts: t, ip: dst, port: 8883 }]);
  const f = finalize('p', {
    detector: 'beaconing', key: `${dst}:8883`, device_id: d, device_class: 'pos', first_ts: t, last_ts: t, count: 1, score: 0.7, severity: 'high',
    observed: 'every 60s', expected: 'known peers', explanation: `${d} (pos) has contacted a new peer regularly.`, mitre: [],
    evidence: { dst_ip: dst, dst_port: 8883, src_ip: '10.40.1.11', established: false },
  });
  return [...fl.offer(f), ...fl.advanceTo(t)];
}

describe('fleet view on a change that spreads slowly', () => {
  const severities = (out: Finding[]) => out.filter((f) => f.detector === 'beaconing').map((f) => [f.device_id, f.severity]);

  it('folds a migration that reaches the class over three hours, its first devices too', () => {
    const fl = fleet();
    fl.facts(stores());
    const out: Finding[] = [];
    // One till every 9 minutes: 20 of 40 after 3 h, far slower than the hold.
    for (let i = 0; i < 20; i++) out.push(...moved(fl, `pos-${i}`, '52.9.9.9', T0 + HOUR + i * 9 * 60_000));
    out.push(...fl.flush());
    const judged = severities(out);
    expect(judged).toHaveLength(20);
    expect(judged.filter(([, s]) => s !== 'info')).toEqual([]);
    expect(out.filter((f) => f.detector === 'fleet_change').length).toBeGreaterThan(0);
  });

  it('passes a change on a few devices that stops spreading after one more hold', () => {
    const fl = fleet();
    fl.facts(stores());
    const out: Finding[] = [];
    out.push(...moved(fl, 'pos-1', '45.9.9.9', T0 + HOUR));
    out.push(...moved(fl, 'pos-2', '45.9.9.9', T0 + HOUR + 30 * 60_000));
    out.push(...fl.advanceTo(T0 + 3 * HOUR + 1));
    // The second is judged after its own hold (nothing joined since), the first after its hold
    // and one more (a second device had joined during it), so after the second.
    expect(severities(out)).toEqual([['pos-2', 'high'], ['pos-1', 'high']]);
    expect(fl.held()).toBe(0);
  });
});

describe('fleet view on devices that upload in batches', () => {
  it('gives a finding that arrives hours after its event time a full hold, so its class can arrive too', () => {
    const fl = createFleet({ pipeline: 'p', hold: HOUR, window: 6 * HOUR, minDevices: 5, minShare: 0.2, commonShare: 0.25, memory: 7 * 24 * HOUR, roleOf: (d) => (d === 'metric_baseline' ? metricBaseline.fleet : undefined) });
    const meters = Array.from({ length: 20 }, (_, i) => `meter-${i}`);
    fl.facts(meters.map((d) => ({ k: 'seen', d, c: 'meter', ts: T0 })));
    const out: Finding[] = [];
    // Every meter's load rose at 06:00; each uploads its readings every 4 h at its own minute, so
    // the findings reach the fleet view one by one, 3–7 h after 06:00 of event time: each is past
    // a hold counted from its event time when it arrives.
    meters.forEach((d, i) => {
      const upload = T0 + 9 * HOUR + (i * 4 * HOUR) / meters.length;
      out.push(...fl.advanceTo(upload));
      const f = finalize('p', {
        detector: 'metric_baseline', key: 'power_kw', device_id: d, device_class: 'meter', first_ts: T0 + 6 * HOUR + i * 1000, last_ts: T0 + 6 * HOUR + i * 1000, count: 1, score: 0.9, severity: 'critical',
        observed: 'power_kw=1.3', expected: '0.7 ± 0.1', explanation: `${d} (meter) reported power_kw above its usual.`, mitre: [], evidence: { metric: 'power_kw', direction: 'above' },
      });
      out.push(...fl.offer(f));
    });
    out.push(...fl.advanceTo(T0 + 16 * HOUR));
    const judged = out.filter((f) => f.detector === 'metric_baseline');
    expect(judged).toHaveLength(20);
    expect(judged.filter((f) => f.severity !== 'info').map((f) => f.device_id)).toEqual([]);
  });
});

describe('fleet view on a change that recurs', () => {
  it('folds the second weekend stop of a whole line as it folded the first', () => {
    const fl = createFleet({ pipeline: 'p', hold: HOUR, window: 6 * HOUR, minDevices: 5, minShare: 0.2, commonShare: 0.25, memory: 7 * 24 * HOUR, roleOf: (d) => (d === 'reporting' ? reporting.fleet : undefined) });
    const plcs = Array.from({ length: 12 }, (_, i) => `plc-${i}`);
    fl.facts(plcs.map((d) => ({ k: 'seen', d, c: 'plc', ts: T0 })));
    const silence = (d: string, t: number) =>
      finalize('p', {
        detector: 'reporting', key: 'silence', device_id: d, device_class: 'plc', first_ts: t, last_ts: t, count: 1, score: 0.55, severity: 'medium',
        observed: 'silent for 6h', expected: 'a report every 60s', explanation: `${d} (plc) has sent nothing for 6h.`, mitre: [], evidence: {},
      });
    const out: Finding[] = [];
    for (const week of [0, 1]) {
      const stop = T0 + week * 7 * 24 * HOUR + 5 * 24 * HOUR;
      out.push(...fl.advanceTo(stop));
      for (const [i, d] of plcs.entries()) out.push(...fl.offer(silence(d, stop + i * 1000)));
      out.push(...fl.advanceTo(stop + 3 * HOUR));
    }
    const judged = out.filter((f) => f.detector === 'reporting');
    expect(judged).toHaveLength(24);
    expect(judged.filter((f) => f.severity !== 'info').map((f) => new Date(f.first_ts).toISOString().slice(0, 10))).toEqual([]);
  });
});
