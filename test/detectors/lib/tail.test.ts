import { describe, expect, it } from 'vitest';
import { scoreFromP } from '../../../src/detectors/score.js';
import { tailNew, tailP, tailUpdate } from '../../../src/detectors/lib/tail.js';
import { gauss, rng } from '../helpers.js';

describe('tail model (POT/GPD)', () => {
  it('learns that large z are routine for a bimodal series and rare for a Gaussian one', () => {
    const r = rng(5);
    const gaussian = tailNew();
    const bimodal = tailNew();
    for (let i = 0; i < 20_000; i++) {
      tailUpdate(gaussian, gauss(r), 20_000);
      tailUpdate(bimodal, r() < 0.2 ? -15 + gauss(r) : gauss(r), 20_000);
    }
    expect(scoreFromP(tailP(gaussian, -8))).toBeGreaterThan(0.7);
    expect(scoreFromP(tailP(bimodal, -15))).toBeLessThan(0.2);
    // Beyond the routine mode it is still a tail, not an impossibility.
    expect(tailP(bimodal, -18)).toBeGreaterThan(1e-4);
  });
});
