/**
 * lib/duration.ts: the one duration scanner and its two grammars. What people write needs a unit
 * (parseDuration); what code writes may also be a bare number of milliseconds (parseDurationOrMs).
 */
import { describe, expect, it } from 'vitest';
import { DURATION_PATTERN, formatDuration, parseDuration, parseDurationOrMs, suggestDuration } from '../../src/lib/duration.js';

describe('durations', () => {
  it('parse units and compounds the same in both grammars', () => {
    const cases: Array<[string, number]> = [
      ['500ms', 500],
      ['30s', 30_000],
      ['5m', 300_000],
      ['24h', 86_400_000],
      ['7d', 7 * 86_400_000],
      ['2w', 14 * 86_400_000],
      ['1h30m', 5_400_000],
      ['1.5h', 5_400_000],
      [' 90s ', 90_000],
    ];
    for (const [s, ms] of cases) {
      expect(parseDuration(s), s).toBe(ms);
      expect(parseDurationOrMs(s), s).toBe(ms);
    }
  });

  it('differ on a bare number: milliseconds for code, refused from people', () => {
    expect(parseDurationOrMs('5')).toBe(5);
    expect(parseDurationOrMs(250)).toBe(250);
    expect(parseDuration('250')).toBeUndefined();
    expect(parseDuration('5m30')).toBeUndefined();
    // People's durations are whole milliseconds.
    expect(parseDuration('1.5ms')).toBe(2);
    expect(parseDurationOrMs('1.5ms')).toBe(1.5);
  });

  it('refuse what is not a duration', () => {
    for (const bad of ['', 'm5', '5 m', '-5m', '5x', '5m junk', '5M', '1h30', 'constructor', '1'.repeat(65) + 's']) {
      expect(parseDuration(bad), bad).toBeUndefined();
      expect(parseDurationOrMs(bad), bad).toBeUndefined();
    }
    for (const bad of [null, {}, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(parseDurationOrMs(bad), String(bad)).toBeUndefined();
  });

  it('the schema pattern accepts exactly what parseDuration reads', () => {
    const re = new RegExp(DURATION_PATTERN);
    for (const s of ['500ms', '30s', '1h30m', '1.5h', '2w', '250', '5 m', '-5m', '5x', '1h30']) expect(re.test(s), s).toBe(parseDuration(s) !== undefined);
  });

  it('formats the shortest exact spelling, read back to the same value', () => {
    expect(formatDuration(7 * 86_400_000)).toBe('7d');
    expect(formatDuration(5_400_000)).toBe('90m');
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(1500)).toBe('1500ms');
    expect(formatDuration(0)).toBe('0s');
    for (const ms of [1, 999, 1000, 61_000, 3_600_000, 86_400_000 * 3, 604_800_000]) expect(parseDuration(formatDuration(ms)), String(ms)).toBe(ms);
  });

  it('suggests what the author meant', () => {
    expect(suggestDuration('5 minutes')).toBe('5m');
    expect(suggestDuration('2 Hours')).toBe('2h');
    expect(suggestDuration(30)).toBe('30s');
    expect(suggestDuration('30')).toBe('30s');
    expect(suggestDuration('soon')).toBeUndefined();
  });
});
