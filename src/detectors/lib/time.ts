/** UTC time buckets (hour of day, weekend) for the detectors' per-hour and per-week profiles. */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Readings an hour-of-day bucket needs before it is trusted. */
export const HOUR_BUCKET_MIN_N = 8;

/** UTC hour of day 0..23. */
export function hourOfDay(ts: number): number {
  const h = Math.floor(ts / HOUR_MS) % 24;
  return h < 0 ? h + 24 : h;
}

/** UTC day of week, 0 = Sunday. */
function dayOfWeek(ts: number): number {
  // 1970-01-01 was a Thursday.
  const d = (Math.floor(ts / DAY_MS) + 4) % 7;
  return d < 0 ? d + 7 : d;
}

export function isWeekend(ts: number): boolean {
  const d = dayOfWeek(ts);
  return d === 0 || d === 6;
}

/** The hour of the week's part: weekday hours 0..23, weekend hours 24..47. */
export function weekPartHour(ts: number): number {
  return hourOfDay(ts) + (isWeekend(ts) ? 24 : 0);
}

/** The hour `d` hours from `h` (a weekPartHour, or an hourOfDay), round the clock within its part of the week. */
export function nearHour(h: number, d: number): number {
  const base = h >= 24 ? 24 : 0;
  return base + ((((h - base + d) % 24) + 24) % 24);
}
