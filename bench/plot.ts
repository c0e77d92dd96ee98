/**
 * The bench's results drawn as one self-contained SVG (bench/results.svg beside results.json):
 * throughput over time against the ceiling, CPU per event by thread against the budget that
 * 70% of the ceiling leaves, each detector's cost against the 300k events/s budget, the peak
 * memory against 1 GiB, and the latency distribution against 1 s. Each panel names its target
 * and whether this run met it, so the picture answers "how far, and where does it go" at a look.
 *
 * Pure: results in, markup out. Panels whose figures a results file lacks (a phase not run, an
 * older file) say so instead of drawing.
 */
import { esc, fmt } from '../src/eval/plot.js';
import { targets, type ProgressPoint, type Target } from './results.js';

type Json = Record<string, unknown>;

const W = 960;
const LEFT = 200;
const RIGHT = 110;
const PW = W - LEFT - RIGHT;
const RED = '#c0392b';
const GRID = '#e5e7eb';
const MUTED = '#6b7280';

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) && !(v as Json).error ? (v as Json) : undefined);

/** The well-formed [number, number] points of a series read from a file. */
const points = (v: unknown): ProgressPoint[] =>
  Array.isArray(v) ? (v.filter((x) => Array.isArray(x) && x.length === 2 && num(x[0]) !== null && num(x[1]) !== null) as ProgressPoint[]) : [];

/** Why a phase has nothing to draw: it failed (its first error line), or it is not in the file. */
function missing(r: Json, phase: string, what: string): string {
  const e = (r[phase] as Json | undefined)?.error;
  // Control characters are not allowed in XML text, even escaped.
  if (typeof e === 'string') return `The ${phase} phase failed: ${e.split('\n')[0]!.replace(/[\u0000-\u001f]/g, ' ').slice(0, 160)}`;
  return what;
}

/**
 * Events per second over time from cumulative progress points: the rate over each step of
 * `windowS` seconds, placed at the step's end. What is left after the last whole step is a step
 * of its own if it is at least half a window long, else it extends the step before: a last batch
 * landing a few ms after a step boundary would otherwise draw as a spike that rescales the axis.
 */
export function rateSeries(points: readonly ProgressPoint[], windowS = 1): ProgressPoint[] {
  if (points.length < 2) return [];
  /** Step boundaries, as indices into points. */
  const ends: number[] = [0];
  const lastEnd = (): ProgressPoint => points[ends[ends.length - 1]!]!;
  for (let i = 1; i < points.length; i++) if (points[i]![0] - lastEnd()[0] >= windowS) ends.push(i);
  const lastI = points.length - 1;
  const tail = points[lastI]![0] - lastEnd()[0];
  if (tail > 0) {
    if (tail < windowS / 2 && ends.length > 1) ends[ends.length - 1] = lastI;
    else ends.push(lastI);
  }
  const out: ProgressPoint[] = [];
  for (let k = 1; k < ends.length; k++) {
    const a = points[ends[k - 1]!]!;
    const b = points[ends[k]!]!;
    out.push([b[0], (b[1] - a[1]) / (b[0] - a[0])]);
  }
  return out;
}

/** A round axis maximum at or above `v` (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k). */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * e >= v - 1e-9 * e) return m * e;
  return 10 * e;
}

interface Panel {
  height: number;
  body: string;
}

function status(met: boolean | null | undefined): string {
  return met === true ? '✓ met' : met === false ? '✗ not met' : '· not judged';
}

function title(text: string, target: string | undefined, met: boolean | null | undefined): string {
  const t = `<text x="16" y="20" font-size="14" font-weight="600">${esc(text)}</text>`;
  if (target === undefined) return t;
  const colour = met === true ? '#15803d' : met === false ? RED : MUTED;
  return t + `<text x="${W - 16}" y="20" text-anchor="end" fill="${colour}">${esc(`target: ${target} — ${status(met)}`)}</text>`;
}

function note(y: number, text: string): string {
  return `<text x="${LEFT}" y="${y}" fill="${MUTED}">${esc(text)}</text>`;
}

/** A vertical dashed limit line across [y0, y1] at x, labelled just above y0. */
function limitLine(x: number, y0: number, y1: number, label: string): string {
  // Near the right edge the label runs leftwards from the line instead of off the picture.
  const right = x > LEFT + PW * 0.6;
  return (
    `<line x1="${x.toFixed(1)}" y1="${y0}" x2="${x.toFixed(1)}" y2="${y1}" stroke="${RED}" stroke-dasharray="5 3" stroke-width="1.4"/>` +
    `<text x="${(right ? x - 4 : x + 4).toFixed(1)}" y="${y0 - 3}" text-anchor="${right ? 'end' : 'start'}" fill="${RED}">${esc(label)}</text>`
  );
}

/** Legend entries laid out in as many columns as their longest label allows; returns its height. */
function legend(p: string[], items: Array<{ label: string; colour: string }>, top: number, swatch: 'box' | 'line' = 'box'): number {
  const colW = Math.max(120, Math.max(...items.map((i) => i.label.length)) * 6 + 30);
  const cols = Math.max(1, Math.floor((PW + RIGHT) / colW));
  items.forEach((s, i) => {
    const lx = LEFT + (i % cols) * colW;
    const ly = top + Math.floor(i / cols) * 16;
    const mark = swatch === 'box' ? `<rect x="${lx}" y="${ly}" width="12" height="10" fill="${s.colour}"/>` : `<rect x="${lx}" y="${ly + 4}" width="12" height="3" fill="${s.colour}"/>`;
    p.push(`${mark}<text x="${lx + 16}" y="${ly + 9}">${esc(s.label)}</text>`);
  });
  return Math.ceil(items.length / cols) * 16;
}

/** X-axis grid and tick labels for a 0..max scale over the plot width. */
function xAxis(max: number, y0: number, y1: number, unit: string): string {
  const p: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    const x = LEFT + (PW * i) / 5;
    p.push(`<line x1="${x.toFixed(1)}" y1="${y0}" x2="${x.toFixed(1)}" y2="${y1}" stroke="${GRID}"/>`);
    p.push(`<text x="${x.toFixed(1)}" y="${y1 + 14}" text-anchor="middle" fill="${MUTED}">${fmt(v)}</text>`);
  }
  p.push(`<text x="${LEFT + PW}" y="${y1 + 28}" text-anchor="end" fill="${MUTED}">${esc(unit)}</text>`);
  return p.join('');
}

interface Segment {
  label: string;
  value: number;
  colour: string;
}

/**
 * Horizontal stacked bars (one row each), a legend of the segments, and an optional limit line.
 * Values are in one unit; the axis runs to a round maximum above the largest row and the limit.
 */
function stackedRows(rows: Array<{ label: string; segments: Segment[]; right?: string }>, unit: string, limit?: { value: number; label: string }): Panel {
  const top = 34;
  const barH = 18;
  const gap = 12;
  const kinds: Segment[] = [];
  for (const r of rows) for (const s of r.segments) if (!kinds.some((l) => l.label === s.label)) kinds.push(s);
  const p: string[] = [];
  // Room under the legend for the limit line's label.
  const y0 = top + legend(p, kinds, top) + 22;
  const y1 = y0 + rows.length * (barH + gap);
  const total = (r: { segments: Segment[] }) => r.segments.reduce((a, s) => a + s.value, 0);
  const max = niceMax(Math.max(...rows.map(total), limit?.value ?? 0) * 1.05);
  const X = (v: number) => LEFT + (v / max) * PW;
  p.push(xAxis(max, y0 - 4, y1, unit));
  rows.forEach((r, i) => {
    const y = y0 + i * (barH + gap);
    p.push(`<text x="${LEFT - 8}" y="${y + 13}" text-anchor="end">${esc(r.label)}</text>`);
    let at = 0;
    for (const s of r.segments) {
      if (!(s.value > 0)) continue;
      p.push(`<rect x="${X(at).toFixed(1)}" y="${y}" width="${(X(at + s.value) - X(at)).toFixed(1)}" height="${barH}" fill="${s.colour}"><title>${esc(`${r.label} · ${s.label}: ${fmt(s.value)} ${unit}`)}</title></rect>`);
      at += s.value;
    }
    p.push(`<text x="${(X(at) + 6).toFixed(1)}" y="${y + 13}" fill="#111">${esc(r.right ?? fmt(at))}</text>`);
  });
  if (limit) p.push(limitLine(X(limit.value), y0 - 10, y1, limit.label));
  return { height: y1 + 36, body: p.join('') };
}

/** Line chart of series over a shared x range, with optional limits: horizontal, vertical, and a fixed y maximum. */
function lines(
  series: Array<{ label: string; colour: string; points: ProgressPoint[] }>,
  xUnit: string,
  yUnit: string,
  opts: { limit?: { value: number; label: string }; xLimit?: { value: number; label: string }; yMax?: number } = {},
): Panel {
  const { limit, xLimit } = opts;
  const p: string[] = [];
  const top = 34 + legend(p, series, 30, 'line') + 14;
  const ph = 190;
  const xMax = niceMax(Math.max(...series.flatMap((s) => s.points.map((q) => q[0])), xLimit ? xLimit.value * 1.05 : 0));
  const yMax = opts.yMax ?? niceMax(Math.max(...series.flatMap((s) => s.points.map((q) => q[1])), limit?.value ?? 0) * 1.05);
  const X = (v: number) => LEFT + (v / xMax) * PW;
  const Y = (v: number) => top + (1 - v / yMax) * ph;
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    p.push(`<line x1="${LEFT}" y1="${Y(v).toFixed(1)}" x2="${LEFT + PW}" y2="${Y(v).toFixed(1)}" stroke="${GRID}"/>`);
    p.push(`<text x="${LEFT - 6}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end" fill="${MUTED}">${fmt(v)}</text>`);
  }
  p.push(`<text x="${LEFT - 50}" y="${top + ph / 2}" transform="rotate(-90 ${LEFT - 50} ${top + ph / 2})" text-anchor="middle" fill="${MUTED}">${esc(yUnit)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (xMax * i) / 5;
    p.push(`<text x="${X(v).toFixed(1)}" y="${top + ph + 14}" text-anchor="middle" fill="${MUTED}">${fmt(v)}</text>`);
  }
  p.push(`<text x="${LEFT + PW}" y="${top + ph + 28}" text-anchor="end" fill="${MUTED}">${esc(xUnit)}</text>`);
  p.push(`<rect x="${LEFT}" y="${top}" width="${PW}" height="${ph}" fill="none" stroke="#d1d5db"/>`);
  if (limit) {
    const y = Y(limit.value);
    p.push(`<line x1="${LEFT}" y1="${y.toFixed(1)}" x2="${LEFT + PW}" y2="${y.toFixed(1)}" stroke="${RED}" stroke-dasharray="5 3" stroke-width="1.4"/>`);
    p.push(`<text x="${LEFT + PW + 4}" y="${(y + 4).toFixed(1)}" fill="${RED}">${esc(limit.label)}</text>`);
  }
  if (xLimit) p.push(limitLine(X(xLimit.value), top, top + ph, xLimit.label));
  for (const s of series) {
    if (!s.points.length) continue;
    const d = s.points.map((pt, i) => `${i ? 'L' : 'M'}${X(pt[0]).toFixed(1)},${Y(pt[1]).toFixed(1)}`).join('');
    p.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="1.8"><title>${esc(s.label)}</title></path>`);
  }
  return { height: top + ph + 40, body: p.join('') };
}

/** A target judged from the file's figures (not its `targets` list: older files lack ids). */
function targetOf(r: Json, id: Target['id']): Target | undefined {
  return targets(r).find((t) => t.id === id);
}

function throughputPanel(r: Json): Panel {
  const c = obj(r.ceiling);
  const p = obj(r.pipeline);
  const t = targetOf(r, 'pipeline');
  const head = title('Throughput: the full pipeline against the raw kafkajs ceiling (same run, same topic)', '≥ 70% of the ceiling', t?.met);
  const series: Array<{ label: string; colour: string; points: ProgressPoint[] }> = [];
  const cEps = num(c?.eventsPerSec);
  const pEps = num(p?.eventsPerSec);
  if (Array.isArray(c?.progress)) series.push({ label: `ceiling, ${fmt(cEps ?? 0)} events/s overall`, colour: '#9ca3af', points: rateSeries(points(c!.progress)) });
  if (Array.isArray(p?.progress)) series.push({ label: `pipeline, ${fmt(pEps ?? 0)} events/s overall`, colour: '#2563eb', points: rateSeries(points(p!.progress)) });
  if (!series.some((s) => s.points.length)) {
    // Older results carry no progress series: the averages alone, as bars.
    if (cEps === null && pEps === null) return { height: 56, body: head + note(44, missing(r, 'pipeline', missing(r, 'ceiling', 'No ceiling or pipeline phase in this results file.'))) };
    const rows = [
      ...(cEps !== null ? [{ label: 'ceiling', segments: [{ label: 'events/s', value: cEps, colour: '#9ca3af' }] }] : []),
      ...(pEps !== null ? [{ label: 'full pipeline', segments: [{ label: 'events/s', value: pEps, colour: '#2563eb' }] }] : []),
    ];
    const b = stackedRows(rows, 'events/s', cEps !== null ? { value: 0.7 * cEps, label: '70% of the ceiling' } : undefined);
    return { height: b.height, body: head + b.body };
  }
  const l = lines(series, 'seconds since the first event', 'events/s (1 s steps)', cEps !== null ? { limit: { value: 0.7 * cEps, label: '70% of ceiling' } } : {});
  return { height: l.height, body: head + l.body };
}

const ROLES: Array<{ key: string; label: string; colour: string }> = [
  { key: 'main', label: 'main thread', colour: '#2563eb' },
  { key: 'workers', label: 'detection workers', colour: '#f59e0b' },
  { key: 'helpers', label: 'Node helpers (GC, libuv)', colour: '#10b981' },
  { key: 'clickhouse', label: "ClickHouse's threads", colour: '#8b5cf6' },
  { key: 'broker', label: 'broker (JVM)', colour: '#9ca3af' },
];

function cpuPanel(r: Json): Panel {
  const head = title('CPU per event, by thread', undefined, undefined);
  const rows: Array<{ label: string; segments: Segment[]; right?: string }> = [];
  for (const [label, phase] of [
    ['ceiling', obj(r.ceiling)],
    ['full pipeline', obj(r.pipeline)],
  ] as const) {
    const u = obj(obj(phase?.cpu)?.usPerEvent);
    if (!u) continue;
    const segments = ROLES.map((role) => ({ label: role.label, value: num(u[role.key]) ?? 0, colour: role.colour }));
    rows.push({ label, segments, right: `${fmt(segments.reduce((a, s) => a + s.value, 0))} µs` });
  }
  if (!rows.length) return { height: 56, body: head + note(44, 'No CPU figures in this results file (they need Linux /proc, and a ceiling or pipeline phase).') };
  const cores = num(obj(r.machine)?.cores);
  const cEps = num(obj(r.ceiling)?.eventsPerSec);
  // What 70% of the ceiling allows: every core of the machine (the broker's included) over that rate.
  const budget = cores !== null && cEps !== null ? (cores * 1e6) / (0.7 * cEps) : undefined;
  const b = stackedRows(rows, 'µs of CPU per event', budget !== undefined ? { value: budget, label: `${fmt(budget)} µs: all ${cores} cores at 70% of the ceiling` } : undefined);
  return { height: b.height, body: head + b.body };
}

function detectorPanel(r: Json): Panel {
  const t = targetOf(r, 'detectors');
  const d = obj(r.detect);
  const fleet = obj(d?.fleet);
  const head = title('Detection on one core: each detector alone, over the engine with none', '≥ 300k events/s (3.33 µs per event)', t?.met);
  const rows = Array.isArray(d?.breakdown) ? (d!.breakdown as Array<{ detector: string; usPerEvent: number }>) : [];
  const engine = rows.find((x) => x.detector === '(engine only)');
  const all = rows.find((x) => x.detector === '(pipeline detectors)');
  const each = rows.filter((x) => !x.detector.startsWith('('));
  if (!engine || !each.length) return { height: 56, body: head + note(44, missing(r, 'detect', 'No per-detector breakdown in this results file.')) };
  const whole = num(fleet?.detectEventsPerSec);
  const mature = num(obj(d?.mature)?.detectEventsPerSec);
  const together = (label: string, us: number) => ({ label, segments: [{ label: 'all detectors together', value: us, colour: '#f59e0b' }] });
  const alone = each.map((x) => ({ label: x.detector, v: Math.max(0, x.usPerEvent - engine.usPerEvent) })).sort((a, b) => b.v - a.v);
  // Detectors within timing noise of the engine alone get one row, not a column of zeros.
  const small = alone.filter((x) => x.v < 0.1);
  const shown = alone.filter((x) => x.v >= 0.1);
  const one = (label: string, v: number) => ({ label, segments: [{ label: 'one detector alone, less the engine (breakdown sample)', value: v, colour: '#2563eb' }] });
  const bars = [
    ...(whole !== null ? [together('all, young fleet', 1e6 / whole)] : []),
    ...(mature !== null ? [together('all, mature devices', 1e6 / mature)] : []),
    ...(all ? [together('all, breakdown sample', all.usPerEvent)] : []),
    { label: 'engine, no detector', segments: [{ label: 'engine (device state, dispatch)', value: engine.usPerEvent, colour: '#9ca3af' }] },
    ...shown.map((x) => one(x.label, x.v)),
    ...(small.length ? [{ ...one(`${small.length} more, each < 0.1`, small.reduce((a, x) => a + x.v, 0)), right: small.map((x) => x.label).join(', ') }] : []),
  ];
  const b = stackedRows(bars, 'µs per event, one core', { value: 1e6 / 300_000, label: '3.33 µs = 300k/s' });
  const foot = note(b.height + 6, 'Alone, each detector runs with only its own state; together they share caches and the heap, so the parts do not add up to the whole.');
  return { height: b.height + 14, body: head + b.body + foot };
}

const MIB = 2 ** 20;

function memoryPanel(r: Json): Panel {
  const p = obj(r.pipeline);
  const t = targetOf(r, 'memory');
  const devices = num(p?.devices);
  const head = title(`Peak memory of the full pipeline${devices !== null ? ` with ${fmt(devices)} devices` : ''}`, '≤ 1 GiB with 100k devices', t?.met);
  const peak = num(p?.peakRssBytes);
  const m = obj(p?.memoryAtPeak);
  if (peak === null || !m) return { height: 56, body: head + note(44, missing(r, 'pipeline', 'No pipeline memory figures in this results file.')) };
  const workers = Array.isArray(m.workers) ? (m.workers as Array<{ total?: number; used?: number }>) : [];
  const wTotal = workers.reduce((a, w) => a + (w.total ?? 0), 0);
  const wUsed = workers.reduce((a, w) => a + (w.used ?? 0), 0);
  const main = num(m.heapTotal) ?? 0;
  const file = num(m.rssFile);
  const anon = num(m.rssAnon);
  // RSS by kind when /proc had it; else everything outside the heaps in one segment. The parts
  // are read near the peak, not at it (worker heaps as last reported, ≤ 1 s old), and a heap
  // held is not all resident: when they disagree with the peak the panel says by how much.
  const rest = (anon ?? peak - (file ?? 0)) - wTotal - main;
  const outside = Math.max(0, rest);
  const segments: Segment[] = [
    { label: 'detection workers: heap used', value: wUsed / MIB, colour: '#f59e0b' },
    { label: 'worker heaps: reserved, not used', value: (wTotal - wUsed) / MIB, colour: '#fcd34d' },
    { label: 'main thread heap', value: main / MIB, colour: '#2563eb' },
    { label: 'other anonymous (Buffers, ClickHouse, stacks)', value: outside / MIB, colour: '#10b981' },
    ...(file !== null ? [{ label: 'mapped files (code, mostly ClickHouse)', value: file / MIB, colour: '#9ca3af' }] : []),
  ];
  const b = stackedRows([{ label: 'at the peak', segments, right: `peak ${fmt(peak / MIB)} MiB` }], 'MiB', { value: 1024, label: '1 GiB' });
  const drawn = segments.reduce((a, x) => a + x.value, 0);
  if (Math.abs(drawn - peak / MIB) <= Math.max(8, 0.01 * (peak / MIB))) return { height: b.height, body: head + b.body };
  const why = rest < 0 ? `the heaps held exceed the RSS sampled with them by ${fmt(-rest / MIB)} MiB (held is not all resident)` : 'its parts were sampled a moment before the peak';
  return { height: b.height + 14, body: head + b.body + note(b.height + 6, `The parts sum to ${fmt(drawn)} MiB, not the peak: ${why}.`) };
}

function latencyPanel(r: Json): Panel {
  const l = obj(r.latency);
  const t = targetOf(r, 'latency');
  const head = title(`Event → finding latency${l ? ` at ${fmt(num(l.offeredEventsPerSec) ?? 0)} events/s offered` : ''}: share of probes within a time`, 'p99 ≤ 1 s (durable)', t?.met);
  if (!l) return { height: 56, body: head + note(44, missing(r, 'latency', 'No latency phase in this results file.')) };
  const curve = (s: Json | undefined): ProgressPoint[] => {
    if (!s) return [];
    const cdf = Array.isArray(s.cdfMs) ? (s.cdfMs as unknown[]).filter((x): x is number => num(x) !== null) : [];
    if (cdf.length) return cdf.map((ms, i, a) => [ms / 1000, (i + 1) / a.length]);
    // Older files: the quantiles they kept.
    return (
      [
        ['p50Ms', 0.5],
        ['p90Ms', 0.9],
        ['p99Ms', 0.99],
        ['maxMs', 1],
      ] as const
    ).flatMap(([k, q]) => (num(s[k]) !== null ? [[num(s[k])! / 1000, q] as ProgressPoint] : []));
  };
  const series = [
    { label: 'durable (readable on the outbox)', colour: '#2563eb', points: curve(obj(l.durable)) },
    { label: 'detected (alert raised)', colour: '#f59e0b', points: curve(obj(l.detected)) },
  ].filter((s) => s.points.length);
  if (!series.length) return { height: 56, body: head + note(44, 'No latency samples in this results file.') };
  // The target is a point, (1 s, 99% of probes): met when the durable line crosses 0.99 left of 1 s.
  const c = lines(series, 'seconds from the probe being sent', 'share of probes', { limit: { value: 0.99, label: 'p99' }, xLimit: { value: 1, label: '1 s' }, yMax: 1 });
  return { height: c.height, body: head + c.body };
}

/** The whole picture, or as much of it as the results hold. */
export function benchSvg(r: Json): string {
  const m = obj(r.machine);
  const cfg = obj(r.config);
  const sub = [
    m ? `${String(m.cpu ?? '?')} × ${String(m.cores ?? '?')}, ${String(m.memoryGiB ?? '?')} GiB, Node ${String(m.node ?? '?')}, Kafka ${String(m.kafka ?? '?')}` : undefined,
    cfg ? `${fmt(num(cfg.events) ?? 0)} events, ${fmt(num(cfg.devices) ?? 0)} devices, ${String(num(cfg.partitions) ?? '?')} partitions` : undefined,
    typeof m?.commit === 'string' ? `commit ${m.commit}` : undefined,
    typeof m?.date === 'string' ? m.date.slice(0, 16).replace('T', ' ') + ' UTC' : undefined,
  ].filter((s): s is string => s !== undefined);
  const panels = [throughputPanel(r), cpuPanel(r), detectorPanel(r), memoryPanel(r), latencyPanel(r)];
  const parts: string[] = [];
  let y = 52;
  for (const p of panels) {
    parts.push(`<g transform="translate(0,${y})">${p.body}</g>`);
    y += p.height + 18;
    parts.push(`<line x1="16" y1="${y - 10}" x2="${W - 16}" y2="${y - 10}" stroke="${GRID}"/>`);
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="system-ui, sans-serif" font-size="11">` +
    `<rect width="${W}" height="${y}" fill="#fff"/>` +
    `<text x="16" y="24" font-size="17" font-weight="700">m2m-sentinel bench</text>` +
    `<text x="16" y="42" fill="${MUTED}">${esc(sub.join(' · '))}</text>` +
    parts.join('') +
    '</svg>\n'
  );
}
