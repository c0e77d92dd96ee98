/**
 * flatline judges each metric against its own behaviour: a run that began while it was learning
 * is not a stuck sensor. (metric_baseline's and level_shift's calibration tests are in their
 * folders, test/detectors/metric_baseline/ and level_shift/.)
 */
import { describe, expect, it } from 'vitest';
import { flatline } from '../../src/detectors/flatline.js';
import type { TelemetryEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, make, rng, run, tel } from './helpers.js';

describe('flatline calibration', () => {
  it('a run that began while learning (the first closed night) does not fire', () => {
    const r = rng(2);
    const evs: TelemetryEvent[] = [];
    for (let t = T0; t < T0 + 4 * DAY; t += 5 * MIN) {
      const h = ((t - T0) % DAY) / HOUR;
      // Open 06:00-18:00 on day 0, then closed until 06:00 on day 2 (past the 24h learning).
      const open = h >= 6 && h < 18 && (t < T0 + 18 * HOUR || t >= T0 + 2 * DAY);
      evs.push(tel(t, { txn: open ? Math.floor(r() * 6) + 1 : 0 }));
    }
    expect(run([make(flatline)], evs).latest.filter((f) => f.first_ts < T0 + 2 * DAY)).toEqual([]);
  });
});
