/** The fleet view's judgement of single findings, on hand-made facts (src/fleet/fleet.ts). */
import { describe, expect, it } from 'vitest';
import { createFleet } from '../../src/fleet/fleet.js';
import { beaconing } from '../../src/detectors/beaconing.js';
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
  it('judges one to the class\'s shared gateway a fleet service', () => {
    const f = judge(channel('52.1.2.3', 443));
    expect(f.severity).toBe('info');
    expect((f.evidence.fleet as { verdict: string }).verdict).toBe('service');
  });
});
