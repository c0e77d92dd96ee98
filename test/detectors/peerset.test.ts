/** The learned-peer set, alone and as the detectors that learn peers with it (beaconing, new_peer) see it under a scan. */
import { describe, expect, it } from 'vitest';
import { beaconing } from '../../src/detectors/beaconing.js';
import { newPeer } from '../../src/detectors/new_peer.js';
import { peerSetHas, peerSetNew, peerSetSize, peerSetTouch } from '../../src/detectors/peerset.js';
import { DAY, HOUR, T0, make, meter, run, scan, sortTs } from './helpers.js';

describe('peerset', () => {
  it('keeps established keys through a flood of one-off keys', () => {
    let s = peerSetNew();
    for (let i = 0; i < 5; i++) for (const k of ['broker', 'ntp', 'dns']) s = peerSetTouch(s, k, i, 16);
    for (let i = 0; i < 5000; i++) s = peerSetTouch(s, `scan-${i}`, 10 + i, 16);
    for (const k of ['broker', 'ntp', 'dns']) expect(peerSetHas(s, k)).toBe(true);
    expect(peerSetSize(s)).toBeLessThanOrEqual(16 + 8);
  });
});

describe('scan resistance of learned peers', () => {
  it('a scan does not make the device\'s own backends look new to beaconing or new_peer', () => {
    const evs = meter(5);
    evs.push(...scan('meter-1', T0 + 2 * DAY + 3 * HOUR, 2000));
    const r = run([make(beaconing), make(newPeer)], sortTs(evs));
    // new_peer reports scan targets (low, learned as one-offs) but never the head end, NTP or DNS.
    const keys = r.latest.filter((f) => f.evidence.established !== true).map((f) => f.key);
    for (const k of ['10.1.0.10:8883', '10.1.0.123:123', '10.1.0.53:53', '10.1.0.11:443']) expect(keys).not.toContain(k);
    // Beaconing only ever sees them as established channels (low, for the fleet view), never new.
    expect(r.latest.filter((f) => f.detector === 'beaconing' && f.evidence.established !== true)).toEqual([]);
  });
});
