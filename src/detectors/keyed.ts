/**
 * Capped key → last-seen maps as parallel arrays, for the connection detectors' hot per-device
 * state. The semantics of a capped last-seen map (lib/capped.ts's touchCapped on a plain object), without
 * its costs: an object keyed by addresses goes to dictionary mode at the first
 * `delete` (hundreds of bytes even for three keys), every timestamp stored in it is a boxed
 * HeapNumber allocated per update, and every lookup internalises the event's fresh key string.
 * Here the times live unboxed in a packed double array, the keys in a plain array, and lookups are
 * a linear scan (a device has a handful of peers; scanners are capped).
 *
 * Iteration order is kept identical to the object's, because it decides which entries an
 * eviction drops on ties and which keys a finding samples:
 * - string keys (addresses, never array indices): insertion order, removals close the gap;
 * - integer keys (ports, 0..65535, which an object enumerates as array indices): ascending.
 * Both kinds keep `k` in that order, so the shared helpers below walk positions only.
 *
 * Plain JSON: `{ k: [...], t: [...] }`; kmRevive rebuilds the arrays after a checkpoint.
 */
import { packedDoubles } from './flat.js';

export interface KeyedTimes<K extends string | number> {
  /** Keys, in the enumeration order of the object this replaces. */
  k: K[];
  /** Last-seen time per key (same index). */
  t: number[];
}

export type StrTimes = KeyedTimes<string>;
export type NumTimes = KeyedTimes<number>;

export function strTimesNew(): StrTimes {
  return { k: [], t: [] };
}

export function numTimesNew(): NumTimes {
  return { k: [], t: [] };
}

export function strIndex(m: StrTimes, key: string): number {
  const k = m.k;
  for (let i = 0; i < k.length; i++) if (k[i] === key) return i;
  return -1;
}

/** Position of `key` in the ascending keys, or -(insertion point) - 1. */
function numIndex(m: NumTimes, key: number): number {
  const k = m.k;
  let lo = 0;
  let hi = k.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = k[mid]!;
    if (v < key) lo = mid + 1;
    else if (v > key) hi = mid;
    else return mid;
  }
  return -lo - 1;
}

/** touchCapped on a string-keyed map; returns the new size. */
export function strTouchCapped(m: StrTimes, key: string, ts: number, cap: number): number {
  return strTouchCappedAt(m, strIndex(m, key), key, ts, cap);
}

/** strTouchCapped for a caller that already looked the key up: `i` is strIndex(m, key). */
export function strTouchCappedAt(m: StrTimes, i: number, key: string, ts: number, cap: number): number {
  if (i >= 0) {
    if (ts > m.t[i]!) m.t[i] = ts;
    return m.k.length;
  }
  return strAppendCapped(m, key, ts, cap);
}

/** strTouchCapped for a key known to be absent. */
function strAppendCapped(m: StrTimes, key: string, ts: number, cap: number): number {
  if (m.k.length < EXACT_BELOW) {
    m.k = m.k.concat(intern(key));
    m.t = m.t.concat(ts);
  } else {
    m.k.push(intern(key));
    m.t.push(ts);
  }
  if (m.k.length > cap) evictOldest(m, Math.max(1, Math.ceil(cap / 10)));
  return m.k.length;
}

/**
 * Below this many keys the arrays are reallocated at their exact length on insert: a push into
 * a full array reserves at least 16 more slots, which for the handful of peers a typical device
 * has would be most of its state. Larger (scanning) sets grow by push.
 */
const EXACT_BELOW = 16;

/** touchCapped on an integer-keyed map; returns the new size. */
export function numTouchCapped(m: NumTimes, key: number, ts: number, cap: number): number {
  const i = numIndex(m, key);
  if (i >= 0) {
    if (ts > m.t[i]!) m.t[i] = ts;
    return m.k.length;
  }
  const at = -i - 1;
  const len = m.k.length;
  if (len < EXACT_BELOW) {
    // Grow by one at the exact length, then open the gap.
    const k = (m.k = m.k.concat(key));
    const t = (m.t = m.t.concat(ts));
    for (let j = len; j > at; j--) {
      k[j] = k[j - 1]!;
      t[j] = t[j - 1]!;
    }
    k[at] = key;
    t[at] = ts;
  } else if (at === len) {
    m.k.push(key);
    m.t.push(ts);
  } else {
    m.k.splice(at, 0, key);
    m.t.splice(at, 0, ts);
  }
  if (m.k.length > cap) evictOldest(m, Math.max(1, Math.ceil(cap / 10)));
  return m.k.length;
}

let scratch = new Float64Array(64);

/**
 * Drop the `n` entries of positions [lo, hi) with the smallest times, the first in order on ties
 * (util.evictOldest on that segment); the entries after `hi` move up. Returns the number dropped.
 */
function evictRange<K extends string | number>(m: KeyedTimes<K>, lo: number, hi: number, n: number): number {
  const t = m.t;
  const len = hi - lo;
  let cut = Infinity;
  if (len > n) {
    if (scratch.length < len) scratch = new Float64Array(Math.max(len, 2 * scratch.length));
    const v = scratch.subarray(0, len);
    for (let i = 0; i < len; i++) v[i] = t[lo + i]!;
    v.sort();
    cut = v[n - 1]!;
  }
  let dropped = 0;
  let w = lo;
  const end = t.length;
  for (let i = lo; i < end; i++) {
    if (i < hi && dropped < n && t[i]! <= cut) {
      dropped++;
      continue;
    }
    if (w !== i) {
      m.k[w] = m.k[i]!;
      t[w] = t[i]!;
    }
    w++;
  }
  m.k.length = w;
  t.length = w;
  return dropped;
}

/**
 * One copy of each key string for all devices. A key kept in state is otherwise the event's own
 * string, one per device, where an object key was internalised and shared (every meter keeps its
 * broker's address). Bounded: cleared when full, which only costs sharing, never correctness.
 */
const interned = new Map<string, string>();
const INTERN_MAX = 1 << 16;

export function intern(s: string): string {
  const c = interned.get(s);
  if (c !== undefined) return c;
  if (interned.size >= INTERN_MAX) interned.clear();
  interned.set(s, s);
  return s;
}

/** Drop the `n` entries with the smallest times, the first in key order on ties (as util.evictOldest). */
function evictOldest<K extends string | number>(m: KeyedTimes<K>, n: number): void {
  evictRange(m, 0, m.t.length, n);
}

/** Drop entries last seen before `minTs`, keeping the order of the rest; returns the new size. */
export function expireBefore<K extends string | number>(m: KeyedTimes<K>, minTs: number): number {
  const t = m.t;
  const len = t.length;
  let w = 0;
  for (let i = 0; i < len; i++) {
    if (t[i]! < minTs) continue;
    if (w !== i) {
      m.k[w] = m.k[i]!;
      t[w] = t[i]!;
    }
    w++;
  }
  if (w !== len) {
    m.k.length = w;
    t.length = w;
  }
  return w;
}

/** A fresh array of the numbers in `a` (packed doubles again), or undefined if any is not a finite number. */
export function reviveNumbers(a: unknown): number[] | undefined {
  return packedDoubles(a, false);
}

/** Flat numeric state read back from JSON: null (NaN written by JSON) becomes NaN again. */
export function reviveFlat(a: unknown, length: number): number[] | undefined {
  return Array.isArray(a) && a.length === length ? packedDoubles(a) : undefined;
}

function reviveStrings(a: unknown): string[] | undefined {
  if (!Array.isArray(a)) return undefined;
  const out: string[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (typeof x !== 'string') return undefined;
    out.push(intern(x));
  }
  return out;
}

export function strTimesRevive(m: unknown): StrTimes | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  const k = reviveStrings(o.k);
  const t = reviveNumbers(o.t);
  return k !== undefined && t !== undefined && k.length === t.length ? { k, t } : undefined;
}

export function numTimesRevive(m: unknown): NumTimes | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  const k = reviveNumbers(o.k);
  const t = reviveNumbers(o.t);
  return k !== undefined && t !== undefined && k.length === t.length ? { k, t } : undefined;
}
