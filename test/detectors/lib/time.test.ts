import { describe, expect, it } from 'vitest';
import { hourOfDay, isWeekend, nearHour, weekPartHour } from '../../../src/detectors/lib/time.js';
import { DAY, HOUR } from '../helpers.js';

// 1970-01-03 was a Saturday, 1970-01-05 a Monday.
const SAT = 2 * DAY;
const MON = 4 * DAY;

describe('UTC hour buckets (lib/time.ts)', () => {
  it('weekend hours follow the weekday ones', () => {
    expect(isWeekend(SAT)).toBe(true);
    expect(isWeekend(MON)).toBe(false);
    expect(weekPartHour(MON + 7 * HOUR)).toBe(7);
    expect(weekPartHour(SAT + 7 * HOUR)).toBe(31);
    expect(hourOfDay(-HOUR)).toBe(23);
  });

  it('the neighbouring hour wraps round the clock within its part of the week', () => {
    expect(nearHour(0, -1)).toBe(23);
    expect(nearHour(23, 1)).toBe(0);
    expect(nearHour(24, -1)).toBe(47);
    expect(nearHour(47, 1)).toBe(24);
    expect(nearHour(30, 1)).toBe(31);
    expect(nearHour(5, -1)).toBe(4);
  });
});
