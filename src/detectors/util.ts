/**
 * Small, allocation-light helpers the detectors share: number formatting for explanations,
 * compact numbers for state, capped maps, time buckets, addresses and versions.
 */
import type { ParamSpec } from './types.js';

/**
 * Round to ~6 significant digits so checkpointed state stays compact as JSON. On the hot path
 * (several calls per metric per event), so the decade is found by comparisons for ordinary
 * magnitudes instead of log10/pow. Kept as one function on purpose: a smaller compact (rare
 * magnitudes out of line, a table scan) made TurboFan spend level_shift.observe's inlining budget
 * on learnBucket instead of the tiny time helpers, and steady-state garbage went from ~37 to ~240
 * B/event (boxed ts arguments and compact results).
 */
export function compact(x: number): number {
  const a = x < 0 ? -x : x;
  let p: number;
  if (a >= 1) {
    if (a < 10) p = 1e5;
    else if (a < 100) p = 1e4;
    else if (a < 1000) p = 1e3;
    else if (a < 1e4) p = 100;
    else if (a < 1e5) p = 10;
    else if (a < 1e6) p = 1;
    else if (Number.isInteger(x) || !Number.isFinite(x)) return x;
    else p = Math.pow(10, 5 - Math.floor(Math.log10(a)));
  } else if (a >= 0.1) p = 1e6;
  else if (a >= 0.01) p = 1e7;
  else if (a >= 0.001) p = 1e8;
  else if (a === 0) return x;
  else p = Math.pow(10, 5 - Math.floor(Math.log10(a)));
  return Math.round(x * p) / p;
}

/** Human formatting for explanations: 3 significant digits, no exponent for ordinary values. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (a >= 1e6 || a < 1e-3) return x.toExponential(2);
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(3)));
}

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

/** Scratch for median/mad: warm-up buffers are small, and sorting a copy per call was most of the young garbage. */
let scratch = new Float64Array(64);

/** Sort xs[start, start + n) into scratch (insertion sort: n is a warm-up buffer, a few dozen at most). */
function sortedIntoScratch(xs: readonly number[], start: number, n: number, center: number, absDev: boolean): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
  const s = scratch;
  for (let i = 0; i < n; i++) {
    let v = xs[start + i]!;
    if (absDev) v = Math.abs(v - center);
    let j = i - 1;
    while (j >= 0 && s[j]! > v) {
      s[j + 1] = s[j]!;
      j--;
    }
    s[j + 1] = v;
  }
  return s;
}

function middle(s: Float64Array, n: number): number {
  if (n === 0) return NaN;
  const mid = n >> 1;
  return n % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function median(xs: readonly number[]): number {
  return middle(sortedIntoScratch(xs, 0, xs.length, 0, false), xs.length);
}

/** Median absolute deviation around `center`. */
export function mad(xs: readonly number[], center: number): number {
  return middle(sortedIntoScratch(xs, 0, xs.length, center, true), xs.length);
}

/** median() of xs[start, start + n), for a buffer kept inside a flat state array. */
export function medianRange(xs: readonly number[], start: number, n: number): number {
  return middle(sortedIntoScratch(xs, start, n, 0, false), n);
}

/** mad() of xs[start, start + n). */
export function madRange(xs: readonly number[], start: number, n: number, center: number): number {
  return middle(sortedIntoScratch(xs, start, n, center, true), n);
}

/**
 * A capped key → last-seen map stored as a plain object. When it grows past `cap` the least
 * recently seen tenth is dropped in one pass, so eviction is amortised O(1) per insert and the
 * map never exceeds `cap` entries.
 */
export function touchCapped(map: Record<string, number>, size: number, key: string, ts: number, cap: number): number {
  const prev = map[key];
  if (prev !== undefined) {
    if (ts > prev) map[key] = ts;
    return size;
  }
  map[key] = ts;
  size++;
  if (size > cap) size = evictOldest(map, size, Math.max(1, Math.ceil(cap / 10)));
  return size;
}

/** Drop the `k` entries with the smallest values; returns the new size. */
function evictOldest(map: Record<string, number>, size: number, k: number): number {
  const vals: number[] = [];
  for (const key in map) vals.push(map[key]!);
  if (vals.length <= k) {
    for (const key in map) delete map[key];
    return 0;
  }
  vals.sort((a, b) => a - b);
  const cut = vals[k - 1]!;
  let dropped = 0;
  for (const key in map) {
    if (dropped >= k) break;
    if (map[key]! <= cut) {
      delete map[key];
      dropped++;
    }
  }
  return size - dropped;
}

// ---------------------------------------------------------------- addresses

/** IPv4 dotted quad → unsigned 32-bit int, or -1. */
export function ipv4ToInt(ip: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      digits++;
      if (digits > 3) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return n * 256 + part;
}

/** IPv6 text → 8 hextets, or undefined. Handles "::" and an embedded IPv4 tail. */
export function ipv6ToHextets(ip: string): number[] | undefined {
  let s = ip;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.indexOf(':') < 0) return undefined;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = ipv4ToInt(last);
    if (v4 < 0) return undefined;
    tail = [Math.floor(v4 / 65536), v4 % 65536];
    s = s.slice(0, lastColon + 1) + '0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return undefined;
  if (tail.length) rest.pop();
  const fixed = head.length + rest.length + tail.length;
  if (halves.length === 1 && fixed !== 8) return undefined;
  if (fixed > 8) return undefined;
  const zeros = new Array<number>(8 - fixed).fill(0);
  return [...head, ...zeros, ...rest, ...tail];
}

export interface Cidr {
  v6: boolean;
  /** v4: network as uint32; v6: 8 hextets. */
  net: number | number[];
  bits: number;
  text: string;
}

export function parseCidr(text: string): Cidr | undefined {
  const parts = text.trim().split('/');
  if (parts.length > 2) return undefined;
  const [addr, len] = parts;
  if (addr === undefined || (len !== undefined && !/^[0-9]{1,3}$/.test(len))) return undefined;
  const v4 = ipv4ToInt(addr);
  if (v4 >= 0) {
    const bits = len === undefined ? 32 : Number(len);
    if (!Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return { v6: false, net: (v4 & mask) >>> 0, bits, text };
  }
  const h = ipv6ToHextets(addr);
  if (!h) return undefined;
  const bits = len === undefined ? 128 : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > 128) return undefined;
  return { v6: true, net: h, bits, text };
}

export function inCidr(ip: string, c: Cidr): boolean {
  if (!c.v6) {
    const v = ipv4ToInt(ip);
    if (v < 0) return false;
    const mask = c.bits === 0 ? 0 : (0xffffffff << (32 - c.bits)) >>> 0;
    return ((v & mask) >>> 0) === c.net;
  }
  const h = ipv6ToHextets(ip);
  if (!h) return false;
  const net = c.net as number[];
  let bits = c.bits;
  for (let i = 0; i < 8 && bits > 0; i++) {
    const take = Math.min(16, bits);
    const mask = take === 16 ? 0xffff : (0xffff << (16 - take)) & 0xffff;
    if ((h[i]! & mask) !== (net[i]! & mask)) return false;
    bits -= take;
  }
  return true;
}

const PRIVATE_V4: Array<[number, number]> = [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['100.64.0.0', 10],
  ['224.0.0.0', 4],
  ['255.255.255.255', 32],
  ['0.0.0.0', 8],
].map(([net, bits]) => [ipv4ToInt(net as string), (0xffffffff << (32 - (bits as number))) >>> 0]);
const PRIVATE_V6: Cidr[] = ['fc00::/7', 'fe80::/10', '::1/128', 'ff00::/8', '::/128'].map((t) => parseCidr(t)!);

/** Private, loopback, link-local, CGNAT or multicast: not a route to the internet. */
export function isInternalIp(ip: string): boolean {
  const v4 = ipv4ToInt(ip);
  if (v4 >= 0) {
    for (const [net, mask] of PRIVATE_V4) if (((v4 & mask) >>> 0) === net) return true;
    return false;
  }
  if (ip.startsWith('::ffff:')) return isInternalIp(ip.slice(7));
  return PRIVATE_V6.some((c) => inCidr(ip, c));
}

// ---------------------------------------------------------------- versions

/**
 * What compareVersions can order: digits separated by dots or underscores, an optional leading
 * "v", an optional pre-release ("-rc1") and build metadata ("+b7"). "banana" is not a version: a
 * minimum written that way compared as text and silently switched the firmware rule off.
 */
const VERSION_RE = /^[vV]?[0-9]{1,9}(?:[._][0-9]{1,9}){0,7}(?:-[0-9A-Za-z.-]{1,64})?(?:\+[0-9A-Za-z.-]{1,64})?$/;

export function isVersion(v: string): boolean {
  return VERSION_RE.test(v.trim());
}

/**
 * Compare firmware versions semver-ishly: numeric dot-separated parts compared as numbers,
 * a leading "v" ignored, build metadata ("+...") ignored, and a pre-release ("-rc1") sorts
 * before its release. Non-numeric parts compare as strings. Returns <0, 0, >0.
 */
export function compareVersions(a: string, b: string): number {
  const norm = (v: string) => v.trim().replace(/^[vV]/, '').split('+')[0]!;
  const [ma, pa] = splitPre(norm(a));
  const [mb, pb] = splitPre(norm(b));
  const xa = ma.split(/[._]/);
  const xb = mb.split(/[._]/);
  const n = Math.max(xa.length, xb.length);
  for (let i = 0; i < n; i++) {
    const c = comparePart(xa[i] ?? '0', xb[i] ?? '0');
    if (c !== 0) return c;
  }
  if (pa === undefined && pb === undefined) return 0;
  if (pa === undefined) return 1;
  if (pb === undefined) return -1;
  const ya = pa.split('.');
  const yb = pb.split('.');
  for (let i = 0; i < Math.max(ya.length, yb.length); i++) {
    if (ya[i] === undefined) return -1;
    if (yb[i] === undefined) return 1;
    const c = comparePart(ya[i]!, yb[i]!);
    if (c !== 0) return c;
  }
  return 0;
}

function splitPre(v: string): [string, string | undefined] {
  const i = v.indexOf('-');
  return i < 0 ? [v, undefined] : [v.slice(0, i), v.slice(i + 1)];
}

function comparePart(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return Number(a) - Number(b);
  // As in semver pre-release precedence: numeric identifiers sort before textual ones.
  if (na) return -1;
  if (nb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------- metric selection

/**
 * The metric filter telemetry detectors share: an empty include list means every metric.
 * Returns null when everything passes so the hot loop can skip the call.
 */
export function metricFilter(include: readonly string[] | undefined, exclude: readonly string[] | undefined): ((m: string) => boolean) | null {
  const inc = include && include.length ? new Set(include) : null;
  const exc = exclude && exclude.length ? new Set(exclude) : null;
  if (!inc && !exc) return null;
  return (m) => (inc === null || inc.has(m)) && (exc === null || !exc.has(m));
}

/** Shared param specs, so the same knob is described the same way in every detector. */
export const METRICS_PARAM: ParamSpec = {
  type: 'array',
  description: 'Only these metrics (empty: every numeric metric the device sends).',
  items: { type: 'string' },
  default: [],
  examples: [['voltage', 'current']],
};

export const EXCLUDE_PARAM: ParamSpec = {
  type: 'array',
  description: 'Metrics to ignore (applied after `metrics`).',
  items: { type: 'string' },
  default: [],
  examples: [['uptime_s']],
};

// ---------------------------------------------------------------- robust running location/scale

/**
 * A robust running centre/spread for one stream of numbers: median/MAD of the first INIT
 * samples, then a Huber-clipped EWMA. Plain JSON so it can live in detector state.
 */
export interface RobustStat {
  n: number;
  c: number;
  s: number;
  w?: number[];
}

export const ROBUST_INIT = 16;

export function robustNew(): RobustStat {
  return { n: 0, c: 0, s: 0, w: [] };
}

export function robustReady(r: RobustStat): boolean {
  return r.w === undefined;
}

/**
 * Fold x in with weight max(1/n, 1/window). `outlier` readings move the centre at a quarter
 * weight and leave the spread alone, so an anomaly neither hides itself nor widens the baseline.
 * `floor` bounds σ from below when clipping (resolution, relative floor).
 */
export function robustUpdate(r: RobustStat, x: number, window: number, outlier = false, floor = 0): void {
  if (r.w !== undefined) {
    r.w.push(x);
    r.n++;
    if (r.w.length >= ROBUST_INIT) {
      const c = median(r.w);
      r.c = compact(c);
      r.s = compact(1.4826 * mad(r.w, c));
      delete r.w;
    }
    return;
  }
  const a = Math.max(1 / (r.n + 1), 1 / window);
  const sg = Math.max(r.s, floor, 1e-12);
  const d = x - r.c;
  const clip = 3 * sg;
  const cd = d > clip ? clip : d < -clip ? -clip : d;
  if (outlier) r.c = compact(r.c + 0.25 * a * cd);
  else {
    r.c = compact(r.c + a * cd);
    r.s = compact((1 - a) * r.s + a * 1.2533 * Math.abs(cd));
  }
  if (r.n < 1e9) r.n++;
}

// ---------------------------------------------------------------- self-calibrated tails (POT/GPD)

/**
 * Peaks-over-threshold tail model of one series' own robust z-scores, after SPOT/DSPOT (Siffer
 * et al., KDD 2017): exceedances of |z| over a fixed threshold are modelled by a Generalised
 * Pareto distribution fitted to the series' own past peaks, so a z that is routine for this
 * metric (a bimodal battery, refuels, Poisson counts, load switching) is not scored as rare,
 * while a light-tailed metric keeps its sensitivity.
 *
 * State is seven numbers (exponentially forgotten sums, so memory is O(1) and the model follows
 * the present): [readings, upper exceedances, Σ excess, Σ excess², lower exceedances, Σ excess,
 * Σ excess²]. The GPD is fitted by the method of moments, shrunk towards a prior that is a bit
 * heavier than a Gaussian tail, so a series with few peaks is neither trusted blindly nor
 * considered infinitely quiet.
 */
export const TAIL_T = 3;
/** Prior exceedance rate per side and its weight in readings. */
const TAIL_PHI0 = 0.002;
const TAIL_N0 = 500;
/** Prior mean excess over TAIL_T (σ; a Gaussian's is ≈ 0.28) and its weight in peaks. */
const TAIL_M0 = 0.5;
const TAIL_K0 = 4;
/** Shape bounds: ξ < 0 (a bounded tail) is never trusted, since it would make values just past
 * the largest peak "impossible"; ξ is kept below 0.5 where the moments still exist. */
const TAIL_XI_MAX = 0.45;

export function tailNew(): number[] {
  return [0, 0, 0, 0, 0, 0, 0];
}

/** Fold one signed z in; `learnPeak` false counts the reading but not its excess (anomalies). */
export function tailUpdate(t: number[], z: number, memory: number, learnPeak = true): void {
  const lam = t[0]! + 1 >= memory ? 1 - 1 / memory : 1;
  if (lam < 1) for (let i = 0; i < 7; i++) t[i] = t[i]! * lam;
  t[0] = t[0]! + 1;
  const a = z < 0 ? -z : z;
  if (!learnPeak || a <= TAIL_T) return;
  const o = z > 0 ? 1 : 4;
  const y = a - TAIL_T;
  t[o] = t[o]! + 1;
  t[o + 1] = t[o + 1]! + y;
  t[o + 2] = t[o + 2]! + y * y;
}

/**
 * One-sided tail probability P(Z ≥ z) on the side of z's sign, under the series' own tail.
 * Below the threshold the model has no opinion and returns the exceedance rate bound 1.
 */
export function tailP(t: readonly number[], z: number): number {
  const a = z < 0 ? -z : z;
  if (!(a > TAIL_T)) return 1;
  const o = z > 0 ? 1 : 4;
  const k = t[o]!;
  const phi = (k + TAIL_PHI0 * TAIL_N0) / (t[0]! + TAIL_N0);
  const m = (t[o + 1]! + TAIL_K0 * TAIL_M0) / (k + TAIL_K0);
  const e2 = (t[o + 2]! + TAIL_K0 * 2 * TAIL_M0 * TAIL_M0) / (k + TAIL_K0);
  const v = e2 - m * m;
  let xi = v > 0 ? 0.5 * (1 - (m * m) / v) : 0;
  xi = xi < 0 ? 0 : xi > TAIL_XI_MAX ? TAIL_XI_MAX : xi;
  const sigma = m * (1 - xi);
  const y = a - TAIL_T;
  const sf = xi > 1e-6 ? Math.pow(1 + (xi * y) / sigma, -1 / xi) : Math.exp(-y / sigma);
  const p = phi * sf;
  return p > 1 ? 1 : p;
}

// ---------------------------------------------------------------- occupied levels (regimes)

/**
 * The levels a series has occupied over its history, with how long it dwelt at each: a handful
 * of centroids (online clustering with merging, so state is fixed). Operating modes (engine
 * on/off, store open/closed, line running/stopped, a full tank) are levels a series returns to
 * for real time, again and again; an anomaly is a level it has not occupied. Change detectors
 * consult this so that a return to a known level is not reported as a shift, whatever the hour,
 * while a level outside every known one (by several of its spreads) still is.
 *
 * Layout (plain numbers, so it lives in JSON state): [noise, previous value, index of the last
 * matched centroid, moves seen (capped at NOISE_MEAN_N), then (centre, spread, dwell ms, visits)
 * × up to REGIME_K]. Visits (arrivals from a distinct level) are kept as evidence of how the
 * level was occupied. `noise` is the reading-to-reading spread (Huber-clipped so level jumps
 * barely move it): it floors every centroid's spread, because a level held with no noise at all
 * (0 rpm) still differs from a level one sensor step away only by resolution.
 */
const REGIME_K = 8;
/** A value within this many spreads of a centroid belongs to it. */
const REGIME_MATCH = 3;
/** Learning-rate floor of a centroid, so a level that drifts slowly is followed. */
const REGIME_ALPHA = 0.005;
/** One reading stands for at most this much dwell (gaps and outages are not dwell). */
const REGIME_MAX_DT = 3_600_000;
const REGIME_HDR = 4;
const RS = 4;
/** Length of a regime array with every level slot taken. */
export const REGIME_FULL = REGIME_HDR + RS * REGIME_K;
/**
 * The noise is the plain mean of the first NOISE_MEAN_N moves, then an EWMA with NOISE_ALPHA;
 * the Huber clip applies from the NOISE_CLIP_AFTER-th move, once the mean is worth clipping at.
 */
const NOISE_MEAN_N = 100;
const NOISE_ALPHA = 0.01;
const NOISE_CLIP_AFTER = 5;

/** The reading-to-reading spread of the series when it moves (0 until it has moved). */
export function regimeNoise(r: readonly number[]): number {
  return r[0]!;
}

export function regimeNew(): number[] {
  return [0, 0, 0, 0];
}

/**
 * A checkpointed regime array in the current layout, or undefined when it is not one. Arrays of
 * the previous layout (three header numbers, no move count) are migrated: their noise estimate
 * is kept and counted as fully learned.
 */
export function regimeRevive(r: number[]): number[] | undefined {
  if (r.length >= REGIME_HDR && (r.length - REGIME_HDR) % RS === 0 && r.length <= REGIME_FULL) return r;
  if (r.length < 3 || (r.length - 3) % RS !== 0 || r.length > REGIME_FULL - 1) return undefined;
  const out = r.slice();
  out.splice(3, 0, NOISE_MEAN_N);
  if (out[2]! >= 3) out[2] = out[2]! + 1;
  return out;
}

function regimeFloor(r: readonly number[], x: number): number {
  const ax = x < 0 ? -x : x;
  return Math.max(r[0]!, ax * 1e-4, 1e-9);
}

/** Fold one reading in, `dt` ms after the previous one. */
export function regimeUpdate(r: number[], x: number, dt: number): void {
  // No centroid yet means no previous reading (NaN would not survive a JSON checkpoint).
  const prev = r[1]!;
  const d = r.length > REGIME_HDR ? (x > prev ? x - prev : prev - x) : 0;
  // Only readings that moved: a series that holds still for long stretches (0 rpm, a closed
  // store's 0 transactions) would otherwise report no noise at all, and a quantised series would
  // split into one zero-width level per step. Mean |Δ| of white noise is 1.128σ, so the estimate
  // (mean |Δ| / 1.595) is ~0.71σ; clipped at 3× so level changes barely count.
  // An EWMA started at 0 and clipped at 3× itself grows by at most 2% a reading: it took
  // hundreds of readings to reach the series' noise, and until then every reading was a level
  // of its own. The plain mean of the first moves has no such start-up bias.
  if (d > 0) {
    const nz = r[0]!;
    const k = r[3]! + 1;
    const lim = k > NOISE_CLIP_AFTER ? 3 * 1.595 * nz : d;
    r[0] = nz + (k < NOISE_MEAN_N ? 1 / k : NOISE_ALPHA) * ((d > lim ? lim : d) / 1.595 - nz);
    if (k <= NOISE_MEAN_N) r[3] = k;
  }
  r[1] = x;
  const w = dt > REGIME_MAX_DT ? REGIME_MAX_DT : dt > 0 ? dt : 0;
  const fl = regimeFloor(r, x);
  // A series mostly stays in the level it was in: try that one first, scan only when it left.
  let best = r[2]!;
  let bd = Infinity;
  if (best >= REGIME_HDR && best < r.length) {
    const c = r[best]!;
    const sp = r[best + 1]!;
    bd = (x > c ? x - c : c - x) / (sp > fl ? sp : fl);
  }
  if (!(bd <= REGIME_MATCH)) {
    for (let i = REGIME_HDR; i < r.length; i += RS) {
      const s = Math.max(r[i + 1]!, fl);
      const d = (x > r[i]! ? x - r[i]! : r[i]! - x) / s;
      if (d < bd) {
        bd = d;
        best = i;
      }
    }
  }
  if (best >= REGIME_HDR && bd <= REGIME_MATCH) {
    // A visit is an arrival from a distinct level: noise bouncing between two neighbouring
    // centroids (a level drifting through) is one stay, not many returns.
    const from = r[2]!;
    if (from !== best && from >= REGIME_HDR && from < r.length) {
      const gap = Math.abs(r[from]! - r[best]!) / Math.max(r[from + 1]!, r[best + 1]!, fl);
      if (gap > 2 * REGIME_MATCH) r[best + 3] = r[best + 3]! + 1;
    }
    r[2] = best;
    const wt = r[best + 2]!;
    let a = w > 0 ? w / (wt + w) : 0;
    if (a < REGIME_ALPHA) a = REGIME_ALPHA;
    const d = x - r[best]!;
    // Not compacted on this hot path: full doubles stay within the documented state bound.
    r[best] = r[best]! + a * d;
    r[best + 1] = (1 - a) * r[best + 1]! + a * 1.2533 * (d < 0 ? -d : d);
    r[best + 2] = wt + w;
    return;
  }
  let at = r.length;
  // A full array stays full: the merge frees its last slot in place, so it never reallocates.
  if (at >= REGIME_HDR + RS * REGIME_K) {
    regimeMerge(r, fl);
    at -= RS;
  }
  r[2] = at;
  r[at] = compact(x);
  r[at + 1] = 0;
  r[at + 2] = compact(w);
  r[at + 3] = 1;
}

/**
 * regimeUpdate for a regime array kept in state: returns the array to keep, an exact-size copy
 * when the reading opened a level. Push leaves ~16 spare slots and most series hold one or two
 * levels; a copy per growth (at most REGIME_K in a series' life) keeps them out of the heap.
 */
export function regimeFold(r: number[], x: number, dt: number): number[] {
  const len = r.length;
  regimeUpdate(r, x, dt);
  return r.length !== len ? r.slice() : r;
}

/**
 * Make room: the least occupied level (a transient, a one-off) is folded into its nearest
 * neighbour, which then covers both. Well-occupied levels stay distinct, and this is O(K). The
 * levels after it move down one slot, leaving the last slot for the caller to fill (the length
 * is unchanged).
 */
function regimeMerge(r: number[], fl: number): void {
  let bi = REGIME_HDR;
  for (let i = REGIME_HDR + RS; i < r.length; i += RS) if (r[i + 2]! < r[bi + 2]!) bi = i;
  let bj = -1;
  let bd = Infinity;
  for (let j = REGIME_HDR; j < r.length; j += RS) {
    if (j === bi) continue;
    const d = Math.abs(r[bi]! - r[j]!) / (Math.max(r[bi + 1]!, fl) + Math.max(r[j + 1]!, fl));
    if (d < bd) {
      bd = d;
      bj = j;
    }
  }
  const wi = r[bi + 2]!;
  const wj = r[bj + 2]!;
  const w = wi + wj;
  const fi = w > 0 ? wi / w : 0.5;
  const fj = 1 - fi;
  const c = fi * r[bi]! + fj * r[bj]!;
  const di = r[bi]! - c;
  const dj = r[bj]! - c;
  const v = fi * (r[bi + 1]! ** 2 + di * di) + fj * (r[bj + 1]! ** 2 + dj * dj);
  r[bj] = compact(c);
  r[bj + 1] = compact(Math.sqrt(v));
  r[bj + 2] = compact(w);
  // Folding transients in is not returning: visits do not add up.
  r[bj + 3] = Math.max(r[bi + 3]!, r[bj + 3]!);
  // As splice(bi, RS) but without allocating the removed slice.
  const n = r.length - RS;
  for (let k = bi; k < n; k++) r[k] = r[k + RS]!;
  r[2] = -1;
}

/**
 * Whether x lies in a level the series has frequently occupied: within REGIME_MATCH spreads of a
 * centroid holding at least `minDwell` ms and `minShare` of all dwell. A level occupied for a
 * moment (a transient passed through, a drift on its way) does not count.
 */
export function regimeKnown(r: readonly number[], x: number, minDwell: number, minShare: number): boolean {
  let total = 0;
  for (let i = REGIME_HDR + 2; i < r.length; i += RS) total += r[i]!;
  const fl = regimeFloor(r, x);
  for (let i = REGIME_HDR; i < r.length; i += RS) {
    const w = r[i + 2]!;
    if (w < minDwell || w < minShare * total) continue;
    const s = Math.max(r[i + 1]!, fl);
    if ((x > r[i]! ? x - r[i]! : r[i]! - x) <= REGIME_MATCH * s) return true;
  }
  return false;
}

/**
 * Signed distance of x from the nearest frequently occupied level, in that level's own spreads
 * (floored at the series' step noise), and that level's centre. In a series with several
 * operating modes this is the yardstick the global spread is not: a value 8σ above the running
 * level is novel even when the modes lie 100σ apart. Null when no level is known yet.
 */
export function regimeDistance(r: readonly number[], x: number, minDwell: number, minShare: number): { z: number; c: number } | null {
  return regimeDistanceInto(r, x, minDwell, minShare, DIST) ? { z: DIST[0]!, c: DIST[1]! } : null;
}

const DIST = [0, 0];

/**
 * regimeDistance for the per-reading path, without allocating: writes z to out[0] and the level's
 * centre to out[1] and returns true, or returns false (out untouched) when no level is known yet.
 */
export function regimeDistanceInto(r: readonly number[], x: number, minDwell: number, minShare: number, out: number[]): boolean {
  let total = 0;
  for (let i = REGIME_HDR + 2; i < r.length; i += RS) total += r[i]!;
  const fl = regimeFloor(r, x);
  let best = -1;
  let bz = Infinity;
  for (let i = REGIME_HDR; i < r.length; i += RS) {
    const w = r[i + 2]!;
    if (w < minDwell || w < minShare * total) continue;
    const d = (x - r[i]!) / Math.max(r[i + 1]!, fl);
    if (Math.abs(d) < Math.abs(bz)) {
      bz = d;
      best = i;
    }
  }
  if (best < 0) return false;
  out[0] = bz;
  out[1] = r[best]!;
  return true;
}

/**
 * Silence of one metric, shared by metric_baseline and level_shift. A gap of more than SILENCE
 * typical intervals (and at least SILENCE_MIN_MS) is a silence: the world moved on while the
 * metric was not reported (a vehicle refuelled while parked, an engine cooled overnight), so the
 * jump across it is not evidence. The readings of the next SILENCE_GRACE typical intervals (at
 * least SILENCE_GRACE_MIN_MS, at most the detector's `relearn`) relearn the level.
 */
const SILENCE = 20;
const SILENCE_MIN_MS = 120_000;
const SILENCE_GRACE = 20;
const SILENCE_GRACE_MIN_MS = 300_000;
/** The interval estimate learns a gap clipped at this multiple of itself, so silences barely move it. */
const SILENCE_CLIP = 4;

/** End of the relearning window if a reading at `ts`, `dt` after the previous one, ends a silence of a metric whose typical interval is `iv`; -1 if the gap is no silence. */
export function silenceGraceEnd(ts: number, dt: number, iv: number, relearn: number): number {
  return dt > SILENCE * iv && dt >= SILENCE_MIN_MS ? ts + Math.min(relearn, Math.max(SILENCE_GRACE_MIN_MS, SILENCE_GRACE * iv)) : -1;
}

/** The next typical-interval estimate: an EWMA (weight `a`) of the gap clipped at SILENCE_CLIP × the estimate. */
export function nextInterval(iv: number, dt: number, a: number): number {
  return Math.round(iv + a * ((dt > SILENCE_CLIP * iv ? SILENCE_CLIP * iv : dt) - iv));
}
