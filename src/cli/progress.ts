/**
 * A tiny progress bar for long CLI runs (simulate, backtest, replay): fraction, rate and ETA on
 * one stderr line. Redraws at most a few times per second, and only on a terminal, so logs and CI
 * output stay clean; `done()` always prints one summary line.
 */

export interface ProgressBar {
  /** fraction in [0, 1]; count is the number of items so far (events, lines). */
  update(fraction: number, count: number): void;
  done(summary?: string): void;
}

export interface ProgressOptions {
  label: string;
  unit?: string;
  stream?: NodeJS.WriteStream;
  /** Force drawing even when the stream is not a TTY (tests). */
  force?: boolean;
  quiet?: boolean;
  /** Injected clock, for tests. */
  now?: () => number;
}

/** A span of time as a stopwatch shows it ("01:05", "1:02:05"); "--:--" when unknown. */
export function formatClock(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '--:--';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(ss)}` : `${two(m)}:${two(ss)}`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

export function renderBar(label: string, fraction: number, count: number, rate: number, etaMs: number, unit: string, width = 28): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.floor(f * width);
  const bar = '█'.repeat(full) + (full < width ? '░'.repeat(width - full) : '');
  return `${label} ${bar} ${(f * 100).toFixed(1).padStart(5)}% ${formatCount(count)} ${unit} ${formatCount(rate)}/s ETA ${formatClock(etaMs)}`;
}

export function createProgress(opts: ProgressOptions): ProgressBar {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => performance.now());
  const draw = !opts.quiet && (opts.force || stream.isTTY === true);
  const unit = opts.unit ?? 'events';
  const t0 = now();
  let lastDraw = -Infinity;
  let lastCount = 0;
  return {
    update(fraction, count) {
      lastCount = count;
      if (!draw) return;
      const t = now();
      if (t - lastDraw < 200 && fraction < 1) return;
      lastDraw = t;
      const el = t - t0;
      const rate = el > 0 ? (count * 1000) / el : 0;
      const eta = fraction > 0 ? (el * (1 - fraction)) / fraction : Number.NaN;
      stream.write(`\r${renderBar(opts.label, fraction, count, rate, eta, unit)}\x1b[K`);
    },
    done(summary) {
      const el = now() - t0;
      if (draw) stream.write('\r\x1b[K');
      if (opts.quiet) return;
      const rate = el > 0 ? (lastCount * 1000) / el : 0;
      stream.write(`${opts.label}: ${summary ?? `${formatCount(lastCount)} ${unit}`} in ${formatClock(el)} (${formatCount(rate)} ${unit}/s)\n`);
    },
  };
}
