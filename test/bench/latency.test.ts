import { describe, expect, it } from 'vitest';
import { backgroundDue } from '../../bench/latency.js';

describe('latency phase background load', () => {
  it('sends what the rate asks for, capped per request, and catches up over several requests after a stall', () => {
    expect(backgroundDue(1_000, 34_000, 33_000, 1_700)).toBe(1_000);
    expect(backgroundDue(1_000, 34_000, 34_000, 1_700)).toBe(0);
    expect(backgroundDue(1_000, 34_000, 40_000, 1_700)).toBe(0);
    // 3 s behind: one request of at most the cap, not a 100k-event request.
    let sent = 0;
    let requests = 0;
    while (backgroundDue(3_000, 34_000, sent, 1_700) > 0) {
      sent += backgroundDue(3_000, 34_000, sent, 1_700);
      requests++;
    }
    expect(sent).toBe(102_000);
    expect(requests).toBe(60);
  });
});
