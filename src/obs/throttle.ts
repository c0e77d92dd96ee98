/**
 * Bounded warnings for bad input. Every undecodable message used to log a WARN line with up to
 * 60 KB of attacker-chosen text, so a flood of junk became a flood of log volume (disk, the log
 * pipeline's licence, the one line that mattered scrolled away). Now each kind of warning logs at
 * most BURST lines per WINDOW_MS; the rest are counted (m2m_log_lines_throttled_total) and the
 * next line logged says how many were left out. Metrics still count every occurrence.
 */
import { metrics } from './metrics.js';

const WINDOW_MS = 10_000;
const BURST = 20;
/** Longest excerpt of untrusted text a log line carries. */
export const MAX_DETAIL = 200;

interface Bucket {
  start: number;
  logged: number;
  skipped: number;
}

const buckets = new Map<string, Bucket>();

/** Whether to log this occurrence of `event` now; if not, it is counted. */
export function throttle(event: string, now: number = Date.now()): boolean {
  let b = buckets.get(event);
  if (!b || now - b.start >= WINDOW_MS) {
    b = { start: now, logged: 0, skipped: b?.skipped ?? 0 };
    buckets.set(event, b);
  }
  if (b.logged < BURST) {
    b.logged++;
    return true;
  }
  b.skipped++;
  metrics.logsThrottled.inc({ event });
  return false;
}

/** Occurrences of `event` left out since its last logged line (then reset): for that line's fields. */
export function skippedSince(event: string): number {
  const b = buckets.get(event);
  if (!b) return 0;
  const n = b.skipped;
  b.skipped = 0;
  return n;
}

/** Untrusted text for a log field: at most MAX_DETAIL characters. */
export function excerpt(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  return s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL)}… (${s.length} chars)` : s;
}
