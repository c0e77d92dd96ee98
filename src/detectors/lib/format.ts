/** Human formatting of numbers, durations and sizes for finding explanations. */
/** Human formatting for explanations: 3 significant digits, no exponent for ordinary values. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (a >= 1e6 || a < 1e-3) return x.toExponential(2);
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(3)));
}

/** About how long, for prose ("1.5h", "90s"); the exact spelling of a configured duration is lib/duration.ts's formatDuration. */
export function fmtDuration(ms: number): string {
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(ms)}ms`;
  if (a < 120_000) return `${fmt(ms / 1000)}s`;
  if (a < 2 * 3_600_000) return `${fmt(ms / 60_000)}m`;
  if (a < 2 * 86_400_000) return `${fmt(ms / 3_600_000)}h`;
  return `${fmt(ms / 86_400_000)}d`;
}

export function fmtBytes(b: number): string {
  if (b < 1024) return `${Math.round(b)} B`;
  if (b < 1024 * 1024) return `${fmt(b / 1024)} KiB`;
  if (b < 1024 * 1024 * 1024) return `${fmt(b / 1024 / 1024)} MiB`;
  return `${fmt(b / 1024 / 1024 / 1024)} GiB`;
}
