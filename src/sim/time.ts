/**
 * Local civil time for simulated sites. Fleets live in time zones with daylight saving, and
 * everything people drive (load curves, opening hours, shifts, commutes) follows the wall clock,
 * so on the night of a DST change those behaviours move by an hour in UTC. That shift is one of
 * the benign changes detectors must tolerate, so the rules are implemented here explicitly rather
 * than through Intl (which depends on the host's ICU data and is slow per event).
 */

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export type DstRule = 'eu' | 'us' | 'none';

export interface Zone {
  name: string;
  /** Standard-time offset from UTC in hours. */
  baseOffsetH: number;
  dst: DstRule;
}

export const ZONES: readonly Zone[] = [
  { name: 'Europe/Berlin', baseOffsetH: 1, dst: 'eu' },
  { name: 'Europe/London', baseOffsetH: 0, dst: 'eu' },
  { name: 'America/Chicago', baseOffsetH: -6, dst: 'us' },
  { name: 'America/New_York', baseOffsetH: -5, dst: 'us' },
  { name: 'Asia/Singapore', baseOffsetH: 8, dst: 'none' },
];

export function zoneByName(name: string): Zone {
  const z = ZONES.find((x) => x.name === name);
  if (!z) throw new Error(`unknown simulator zone ${name}`);
  return z;
}

/** Day of month of the n-th (1-based; n = -1 for last) given weekday in a month (UTC calendar). */
function nthWeekday(year: number, month: number, weekday: number, n: number): number {
  if (n > 0) {
    const first = new Date(Date.UTC(year, month, 1)).getUTCDay();
    return 1 + ((weekday - first + 7) % 7) + (n - 1) * 7;
  }
  const daysIn = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const last = new Date(Date.UTC(year, month, daysIn)).getUTCDay();
  return daysIn - ((last - weekday + 7) % 7);
}

const transitionsCache = new Map<string, [number, number]>();

/** UTC instants [start, end) of daylight saving time in `year` for a zone. */
function dstWindow(zone: Zone, year: number): [number, number] | undefined {
  if (zone.dst === 'none') return undefined;
  const key = `${zone.name}:${year}`;
  const hit = transitionsCache.get(key);
  if (hit) return hit;
  let w: [number, number];
  if (zone.dst === 'eu') {
    // EU: last Sunday of March and of October, both at 01:00 UTC.
    w = [Date.UTC(year, 2, nthWeekday(year, 2, 0, -1), 1), Date.UTC(year, 9, nthWeekday(year, 9, 0, -1), 1)];
  } else {
    // US: second Sunday of March 02:00 local standard, first Sunday of November 02:00 local daylight.
    const start = Date.UTC(year, 2, nthWeekday(year, 2, 0, 2), 2) - zone.baseOffsetH * HOUR;
    const end = Date.UTC(year, 10, nthWeekday(year, 10, 0, 1), 2) - (zone.baseOffsetH + 1) * HOUR;
    w = [start, end];
  }
  transitionsCache.set(key, w);
  return w;
}

export function utcOffsetMs(zone: Zone, ts: number): number {
  const w = dstWindow(zone, new Date(ts).getUTCFullYear());
  const dst = w !== undefined && ts >= w[0] && ts < w[1];
  return (zone.baseOffsetH + (dst ? 1 : 0)) * HOUR;
}

export interface LocalTime {
  /** Fractional hour of the local day, 0 ≤ h < 24. */
  hour: number;
  /** Local weekday, 0 = Sunday. */
  dow: number;
  /** Local midnight of this day, as a UTC instant. */
  dayStartUtc: number;
}

export function localTime(zone: Zone, ts: number): LocalTime {
  const off = utcOffsetMs(zone, ts);
  const lt = ts + off;
  const dayStartLocal = Math.floor(lt / DAY) * DAY;
  return {
    hour: (lt - dayStartLocal) / HOUR,
    dow: new Date(dayStartLocal).getUTCDay(),
    dayStartUtc: dayStartLocal - off,
  };
}

/** Windows of `durH` hours from local hour `fromH` on the weekdays of `zone` that lie inside [lo, hi), in time order. */
export function weekdayWindows(zone: Zone, lo: number, hi: number, fromH: number, durH: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const seen = new Set<number>();
  for (let t = lo - DAY; t < hi + DAY; t += 6 * HOUR) {
    const lt = localTime(zone, t);
    if (lt.dow === 0 || lt.dow === 6 || seen.has(lt.dayStartUtc)) continue;
    seen.add(lt.dayStartUtc);
    const s = lt.dayStartUtc + fromH * HOUR;
    const e = s + durH * HOUR;
    if (s >= lo && e < hi) out.push([Math.round(s), Math.round(e)]);
  }
  return out;
}

/** UTC instants at which a zone changes offset within [from, to). */
export function dstTransitions(zone: Zone, from: number, to: number): number[] {
  const out: number[] = [];
  const y0 = new Date(from).getUTCFullYear();
  const y1 = new Date(to).getUTCFullYear();
  for (let y = y0; y <= y1; y++) {
    const w = dstWindow(zone, y);
    if (!w) continue;
    for (const t of w) if (t >= from && t < to) out.push(t);
  }
  return out;
}

export function iso(ts: number): string {
  return new Date(ts).toISOString();
}
