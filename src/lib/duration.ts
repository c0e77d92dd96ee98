/**
 * Durations: "500ms", "30s", "5m", "24h", "7d", "2w" and compounds such as "1h30m", in
 * milliseconds. One scanner, and two grammars on it whose names say the difference:
 * - parseDuration: what people write (pipeline YAML, CLI flags, the HTTP API). A unit is
 *   required: "300" could mean seconds or milliseconds, and guessing wrong silently changes what
 *   a detector does.
 * - parseDurationOrMs: what code writes (detector params built in tests and the backtest,
 *   ParamSpec defaults, values already validated): also a bare number, taken as milliseconds.
 * formatDuration is the exact spelling both read back; prose that only needs about how long
 * (finding explanations) uses detectors/lib/format.ts's fmtDuration ("1.5h") instead.
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof UNIT_MS;

/**
 * JSON-Schema `pattern` for a duration; also what editors check against. Anchored, and a unit
 * must end every number, so it cannot backtrack over a long run of digits more than once.
 */
export const DURATION_PATTERN = '^(?:[0-9]+(?:\\.[0-9]+)?(?:ms|s|m|h|d|w))+$';

/** What a duration looks like, for messages about one that is not. */
export const DURATION_HINT = 'a duration like 30s, 5m, 24h or 7d';

/** Longer text is not a duration (no real one is; the bound keeps parsing cheap). */
const MAX_DURATION_CHARS = 64;

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Milliseconds of a duration with units, or of a bare number (taken as milliseconds); a number
 * passes through if finite and not negative. Anything else (negative, empty, unknown unit) is
 * undefined so the caller can report it as a user error with its location.
 *
 * A hand-written scanner, one pass: the regular expressions it replaces backtracked
 * quadratically (a 100,000-digit "duration" took 4.3 s to refuse).
 */
export function parseDurationOrMs(s: unknown): number | undefined {
  if (typeof s === 'number') return Number.isFinite(s) && s >= 0 ? s : undefined;
  if (typeof s !== 'string') return undefined;
  const t = s.trim();
  if (t === '' || t.length > MAX_DURATION_CHARS) return undefined;
  let total = 0;
  let i = 0;
  let parts = 0;
  while (i < t.length) {
    const start = i;
    while (i < t.length && isDigit(t.charCodeAt(i))) i++;
    if (i === start) return undefined;
    if (t[i] === '.') {
      i++;
      const frac = i;
      while (i < t.length && isDigit(t.charCodeAt(i))) i++;
      if (i === frac) return undefined;
    }
    const num = Number(t.slice(start, i));
    if (i === t.length) return parts === 0 ? num : undefined; // a bare number: milliseconds
    const unit = t[i] === 'm' && t[i + 1] === 's' ? 'ms' : t[i]!;
    const f = (UNIT_MS as Record<string, number>)[unit];
    if (f === undefined) return undefined;
    i += unit.length;
    total += num * f;
    parts++;
  }
  return total;
}

/** Whole milliseconds of a duration as people write it, or undefined (a bare number is not one). */
export function parseDuration(s: string): number | undefined {
  const t = s.trim();
  const last = t.charCodeAt(t.length - 1);
  if (!(last >= 97 && last <= 122)) return undefined; // must end in a unit letter
  const ms = parseDurationOrMs(t);
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
