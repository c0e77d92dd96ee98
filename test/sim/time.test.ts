import { describe, expect, it } from 'vitest';
import { HOUR, dstTransitions, localTime, utcOffsetMs, zoneByName } from '../../src/sim/time.js';

describe('simulator civil time', () => {
  const berlin = zoneByName('Europe/Berlin');
  const ny = zoneByName('America/New_York');

  it('knows the 2026 EU and US daylight-saving changes', () => {
    expect(dstTransitions(berlin, Date.parse('2026-01-01T00:00:00Z'), Date.parse('2027-01-01T00:00:00Z')).map((t) => new Date(t).toISOString())).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-10-25T01:00:00.000Z',
    ]);
    expect(dstTransitions(ny, Date.parse('2026-01-01T00:00:00Z'), Date.parse('2027-01-01T00:00:00Z')).map((t) => new Date(t).toISOString())).toEqual([
      '2026-03-08T07:00:00.000Z',
      '2026-11-01T06:00:00.000Z',
    ]);
  });

  it('moves local hours by one across the change', () => {
    expect(utcOffsetMs(berlin, Date.parse('2026-03-28T12:00:00Z'))).toBe(HOUR);
    expect(utcOffsetMs(berlin, Date.parse('2026-03-30T12:00:00Z'))).toBe(2 * HOUR);
    // 08:00 local is 07:00Z before and 06:00Z after.
    expect(localTime(berlin, Date.parse('2026-03-27T07:00:00Z')).hour).toBe(8);
    expect(localTime(berlin, Date.parse('2026-03-30T06:00:00Z')).hour).toBe(8);
    expect(localTime(berlin, Date.parse('2026-03-29T12:00:00Z')).dow).toBe(0);
  });
});
