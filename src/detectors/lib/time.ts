/** UTC time buckets (hour of day, weekend) for the detectors' per-hour and per-week profiles. */
const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

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
