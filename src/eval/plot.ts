/**
 * Hand-drawn SVG for the backtest report: grouped horizontal bars and a device timeline with a
 * robust baseline band. No chart library and no CDN, so the report is one self-contained file
 * that a SOC can attach to a ticket or open offline.
 */

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function fmt(x: number): string {
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(x / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 1) return x.toFixed(2);
  return a === 0 ? '0' : x.toPrecision(3);
}

export interface BarGroup {
  label: string;
  /** Values in [0, 1]; null draws "n/a". */
  values: Array<number | null>;
  note?: string;
}

/** Grouped horizontal bars on a 0..1 scale with an optional target line. */
export function barsSvg(groups: BarGroup[], series: Array<{ name: string; color: string }>, opts: { target?: number; width?: number } = {}): string {
  const width = opts.width ?? 760;
  const labelW = 170;
  const noteW = 70;
  const plotW = width - labelW - noteW - 20;
  const barH = 11;
  const gap = 8;
  const groupH = series.length * barH + gap;
  const top = 26;
  const height = top + groups.length * groupH + 24;
  const x = (v: number): number => labelW + v * plotW;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`);
  // legend
  series.forEach((s, i) => {
    parts.push(`<rect x="${labelW + i * 110}" y="6" width="12" height="10" fill="${s.color}"/><text x="${labelW + i * 110 + 16}" y="15">${esc(s.name)}</text>`);
  });
  for (let t = 0; t <= 10; t += 2) {
    const xx = x(t / 10);
    parts.push(`<line x1="${xx}" y1="${top - 4}" x2="${xx}" y2="${height - 20}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${xx}" y="${height - 6}" text-anchor="middle" fill="#666">${(t / 10).toFixed(1)}</text>`);
  }
  if (opts.target !== undefined) {
    const xx = x(opts.target);
    parts.push(`<line x1="${xx}" y1="${top - 4}" x2="${xx}" y2="${height - 20}" stroke="#c0392b" stroke-dasharray="4 3"/>`);
  }
  groups.forEach((g, gi) => {
    const y0 = top + gi * groupH;
    parts.push(`<text x="${labelW - 8}" y="${y0 + (series.length * barH) / 2 + 4}" text-anchor="end">${esc(g.label)}</text>`);
    g.values.forEach((v, si) => {
      const y = y0 + si * barH;
      if (v === null) {
        parts.push(`<text x="${labelW + 4}" y="${y + barH - 2}" fill="#999">n/a</text>`);
        return;
      }
      const w = Math.max(0, Math.min(1, v)) * plotW;
      parts.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH - 1}" fill="${series[si]!.color}"><title>${esc(`${g.label} ${series[si]!.name}: ${v.toFixed(3)}`)}</title></rect>`);
      parts.push(`<text x="${labelW + w + 4}" y="${y + barH - 2}" fill="#333">${v.toFixed(2)}</text>`);
    });
    if (g.note) parts.push(`<text x="${width - noteW}" y="${y0 + (series.length * barH) / 2 + 4}" fill="#666">${esc(g.note)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Trailing rolling median and MAD over the previous `window` points (the point itself excluded,
 * as a detector would see it), so the band shows what "normal" looked like just before.
 */
function rollingBand(values: readonly number[], window: number, k: number): Array<{ lo: number; mid: number; hi: number } | null> {
  const out: Array<{ lo: number; mid: number; hi: number } | null> = [];
  for (let i = 0; i < values.length; i++) {
    const from = Math.max(0, i - window);
    if (i - from < Math.min(window, 8)) {
      out.push(null);
      continue;
    }
    const w = values.slice(from, i).sort((a, b) => a - b);
    const med = mid(w);
    const dev = w.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
    let spread = 1.4826 * mid(dev);
    // Quantised or mostly-constant signals (integer vitals, idle connection counts) have MAD 0;
    // fall back to the mean absolute deviation (×1.2533, its normal-consistency factor).
    if (spread === 0) spread = (1.2533 * dev.reduce((a, b) => a + b, 0)) / dev.length;
    out.push({ lo: med - k * spread, mid: med, hi: med + k * spread });
  }
  return out;
}

function mid(s: number[]): number {
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface TimelineMark {
  ts: number;
  label: string;
  color: string;
}

export interface TimelineInput {
  title: string;
  unit: string;
  ts: number[];
  v: number[];
  bandWindow: number;
  bandK: number;
  /** Shaded spans (incident windows, benign windows). */
  spans: Array<{ start: number; end: number; color: string; label: string; opacity?: number }>;
  marks: TimelineMark[];
  width?: number;
  height?: number;
}

export function timelineSvg(t: TimelineInput): string {
  const width = t.width ?? 1100;
  const height = t.height ?? 300;
  const left = 60;
  const right = 16;
  const top = 28;
  const bottom = 40;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const n = t.ts.length;
  if (n === 0) return `<p class="muted">No data for ${esc(t.title)}.</p>`;
  const band = rollingBand(t.v, t.bandWindow, t.bandK);
  const t0 = Math.min(t.ts[0]!, ...t.spans.map((s) => s.start));
  const t1 = Math.max(t.ts[n - 1]!, ...t.spans.map((s) => s.end));
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, t.v[i]!);
    hi = Math.max(hi, t.v[i]!);
    const b = band[i];
    if (b) {
      lo = Math.min(lo, b.lo);
      hi = Math.max(hi, b.hi);
    }
  }
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const nonNegative = t.v.every((v) => v >= 0);
  const pad = (hi - lo) * 0.06;
  lo -= pad;
  hi += pad;
  // Counts and volumes cannot go negative; neither should their axis.
  if (nonNegative && lo < 0) lo = 0;
  const X = (ts: number): number => left + ((ts - t0) / Math.max(1, t1 - t0)) * pw;
  const Y = (v: number): number => top + (1 - (v - lo) / (hi - lo)) * ph;
  const p: string[] = [];
  p.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`);
  p.push(`<text x="${left}" y="16" font-weight="600">${esc(t.title)}</text>`);
  for (const s of t.spans) {
    // Benign windows first, so the incident span stays visible on top.
    const x0 = Math.max(left, X(s.start));
    const x1 = Math.min(left + pw, X(s.end));
    p.push(`<rect x="${x0.toFixed(1)}" y="${top}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${ph}" fill="${s.color}" fill-opacity="${s.opacity ?? 1}"><title>${esc(s.label)}</title></rect>`);
  }
  // axes and grid
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    const y = Y(v);
    p.push(`<line x1="${left}" y1="${y.toFixed(1)}" x2="${left + pw}" y2="${y.toFixed(1)}" stroke="#eee"/>`);
    p.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#666">${fmt(v)}</text>`);
  }
  const ticks = 8;
  for (let i = 0; i <= ticks; i++) {
    const ts = t0 + ((t1 - t0) * i) / ticks;
    const x = X(ts);
    const d = new Date(ts).toISOString();
    p.push(`<line x1="${x.toFixed(1)}" y1="${top + ph}" x2="${x.toFixed(1)}" y2="${top + ph + 4}" stroke="#999"/>`);
    p.push(`<text x="${x.toFixed(1)}" y="${top + ph + 16}" text-anchor="middle" fill="#666">${d.slice(11, 16)}</text>`);
    if (i === 0 || d.slice(11, 16) === '00:00') p.push(`<text x="${x.toFixed(1)}" y="${top + ph + 29}" text-anchor="middle" fill="#999">${d.slice(0, 10)}</text>`);
  }
  p.push(`<text x="12" y="${top + ph / 2}" transform="rotate(-90 12 ${top + ph / 2})" text-anchor="middle" fill="#666">${esc(t.unit)}</text>`);
  // band as a polygon per contiguous run
  let run: Array<[number, number, number]> = [];
  const flush = (): void => {
    if (run.length > 1) {
      const upper = run.map(([x, , h]) => `${x.toFixed(1)},${Y(h).toFixed(1)}`);
      const lower = run.map(([x, l]) => `${x.toFixed(1)},${Y(l).toFixed(1)}`).reverse();
      p.push(`<polygon points="${upper.concat(lower).join(' ')}" fill="#3b82f6" fill-opacity="0.16" stroke="none"/>`);
    }
    run = [];
  };
  for (let i = 0; i < n; i++) {
    const b = band[i];
    if (!b) {
      flush();
      continue;
    }
    run.push([X(t.ts[i]!), nonNegative ? Math.max(lo, b.lo) : b.lo, b.hi]);
  }
  flush();
  const line = t.ts.map((ts, i) => `${i ? 'L' : 'M'}${X(ts).toFixed(1)},${Y(t.v[i]!).toFixed(1)}`).join('');
  p.push(`<path d="${line}" fill="none" stroke="#1f2937" stroke-width="1.1"/>`);
  for (let i = 0; i < n; i++) {
    const b = band[i];
    if (b && (t.v[i]! > b.hi || t.v[i]! < b.lo)) p.push(`<circle cx="${X(t.ts[i]!).toFixed(1)}" cy="${Y(t.v[i]!).toFixed(1)}" r="1.8" fill="#ea580c"/>`);
  }
  t.marks.forEach((m, i) => {
    const x = X(m.ts);
    p.push(`<line x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${top + ph}" stroke="${m.color}" stroke-width="1.5"><title>${esc(m.label)}</title></line>`);
    p.push(`<path d="M${(x - 5).toFixed(1)},${top - 9} L${(x + 5).toFixed(1)},${top - 9} L${x.toFixed(1)},${top - 1} Z" fill="${m.color}"><title>${esc(m.label)}</title></path>`);
    if (i < 6) p.push(`<text x="${(x + 4).toFixed(1)}" y="${top + 12 + i * 12}" fill="${m.color}">${esc(m.label.split(':')[0]!)}</text>`);
  });
  p.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#ccc"/>`);
  p.push('</svg>');
  return p.join('');
}
