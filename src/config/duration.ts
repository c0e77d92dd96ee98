/**
 * Durations as pipeline authors write them ("30s", "5m", "1h30m", "7d") and as the runtime uses
 * them (milliseconds). A bare number is rejected on purpose: "300" could mean seconds or
 * milliseconds, and guessing wrong silently changes what a detector does.
 */

import { parseDuration as parseAny } from '../detectors/params.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof UNIT_MS;

/**
 * JSON-Schema `pattern` for a duration; also what editors check against. Anchored, and a unit
 * must end every number, so it cannot backtrack over a long run of digits more than once.
 */
export const DURATION_PATTERN = '^(?:[0-9]+(?:\\.[0-9]+)?(?:ms|s|m|h|d|w))+$';

/** Milliseconds, or undefined when `s` is not a pipeline duration (a bare number is not one). */
export function parseDuration(s: string): number | undefined {
  const t = s.trim();
  const last = t.charCodeAt(t.length - 1);
  if (!(last >= 97 && last <= 122)) return undefined; // must end in a unit letter
  const ms = parseAny(t);
  return ms === undefined ? undefined : Math.round(ms);
}

/** The shortest exact spelling ("7d", "90s", "1500ms") for docs, schema defaults and messages. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return String(ms);
  if (ms === 0) return '0s';
  // Weeks are skipped: "7d" reads better than "1w" in a config file.
  for (const u of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[u] === 0) return `${ms / UNIT_MS[u]}${u}`;
  }
  return `${ms}ms`;
}

/** A guess at what the author meant, for the did-you-mean of a duration that does not parse. */
export function suggestDuration(raw: unknown): string | undefined {
  if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return `${raw}s`;
  if (typeof raw !== 'string') return undefined;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]+)\s*$/.exec(raw);
  if (!m) return /^[0-9]+(?:\.[0-9]+)?$/.test(raw.trim()) ? `${raw.trim()}s` : undefined;
  const unit = m[2]!.toLowerCase();
  const words: Record<string, Unit> = {
    msec: 'ms', msecs: 'ms', millis: 'ms', milliseconds: 'ms', millisecond: 'ms',
    sec: 's', secs: 's', second: 's', seconds: 's',
    min: 'm', mins: 'm', minute: 'm', minutes: 'm',
    hr: 'h', hrs: 'h', hour: 'h', hours: 'h',
    day: 'd', days: 'd', week: 'w', weeks: 'w',
    M: 'm', H: 'h', D: 'd', S: 's',
  };
  const u = (unit in UNIT_MS ? unit : words[unit]) as Unit | undefined;
  return u ? `${m[1]}${u}` : undefined;
}
