import { describe, expect, it } from 'vitest';
import { beaconScore, beaconing } from '../../src/detectors/beaconing.js';
import { DAY, HOUR, T0, assertWellFormed, conn, make, mqttDevice, rng, run } from './helpers.js';

describe('beaconing', () => {
  it('scores a jittery beacon with missed beats high and random traffic low', () => {
    const r = rng(3);
    const times: number[] = [];
    let t = 0;
    for (let i = 0; i < 24; i++) {
      t += 300_000 * (r() < 0.15 ? 2 : 1) + Math.round((r() - 0.5) * 15_000);
      times.push(t);
    }
    expect(beaconScore(times, null, 0.1)!.score).toBeGreaterThan(0.85);
    const rand: number[] = [];
    t = 0;
    for (let i = 0; i < 24; i++) rand.push((t += Math.round(-Math.log(r()) * 300_000)));
    expect(beaconScore(rand, null, 0.1)!.score).toBeLessThan(0.7);
  });

  it('leaves the device\'s own broker heartbeat low for the fleet view to weigh, but fires on a new C2 beacon', () => {
    const evs = mqttDevice(3);
    const own = run([make(beaconing)], evs).latest;
    // The heartbeat is an established channel: reported low, with what it is worth if rare.
    expect(own.length).toBe(1);
    expect(own[0]!.severity).toBe('low');
    expect(own[0]!.evidence.established).toBe(true);
    expect(own[0]!.evidence.rare_score).toBeGreaterThan(0.5);
    const r0 = rng(5);
    for (let t = T0 + 2 * DAY; t < T0 + 2 * DAY + 3 * HOUR; t += 300_000 + Math.round((r0() - 0.5) * 10_000)) {
      if (r0() < 0.1) continue; // missed beats
      evs.push(conn('cam-12', t, '198.51.100.23', 443, { device_class: 'camera', bytes_out: 512 }));
    }
    const r = run([make(beaconing)], evs.sort((a, b) => a.ts - b.ts));
    const fresh = r.latest.filter((f) => f.evidence.established === false);
    expect(fresh.length).toBe(1);
    assertWellFormed(fresh[0]!);
    expect(fresh[0]!.key).toBe('198.51.100.23:443');
    expect(fresh[0]!.severity).not.toBe('low');
  });

  it('does not fire on irregular contacts to a new peer', () => {
    const evs = mqttDevice(2);
    const r0 = rng(6);
    let t = T0 + DAY + 2 * HOUR;
    for (let i = 0; i < 40; i++) evs.push(conn('cam-12', (t += Math.round(-Math.log(r0()) * 600_000)), '198.51.100.24', 443, { device_class: 'camera', bytes_out: Math.round(r0() * 50_000) }));
    expect(run([make(beaconing)], evs.sort((a, b) => a.ts - b.ts)).latest.filter((f) => f.key === '198.51.100.24:443')).toEqual([]);
  });
});
