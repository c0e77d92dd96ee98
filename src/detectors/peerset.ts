/**
 * A scan-resistant "known" set for per-device learning (segmented LRU, as caches use against
 * scans). A key seen once waits in a probation segment; a second sighting promotes it to the
 * protected segment. Each segment has its own cap and evicts its least recently seen entries.
 *
 * Why: with one plain LRU, a scan of a few hundred addresses pushes every established peer (the
 * broker, NTP, DNS) out of a device's memory, and after the scan those peers look new again —
 * new_peer and beaconing then report the device's own backends as fresh channels. Scan targets
 * are seen once, so here they only ever churn the probation segment.
 *
 * Plain JSON (checkpointed with detector state); values are the last-seen time in the caller's
 * unit (minutes: short in JSON, and small integers that V8 stores unboxed in any array).
 *
 * Layout: one array `[np, key, t, key, t, ...]`, the np entries of the protected segment first,
 * then probation, each in the order its keys entered it (the order the objects this replaces
 * enumerated in: it decides evictions on ties). One array per set, allocated at its exact length
 * while small; objects keyed by peers went to dictionary mode at their first delete. The
 * functions that add a key return the set, a new array when it had to grow: store it back.
 */
import { intern } from './keyed.js';

export type PeerSet = (string | number)[];

export function peerSetNew(): PeerSet {
  return [0];
}

/** Entry index of `key`, or -1. */
function indexOf(s: PeerSet, key: string): number {
  for (let i = 1; i < s.length; i += 2) if (s[i] === key) return (i - 1) >> 1;
  return -1;
}

function protectedCount(s: PeerSet): number {
  return s[0] as number;
}

export function peerSetHas(s: PeerSet, key: string): boolean {
  return indexOf(s, key) >= 0;
}

/**
 * Where `key` stands, in one number so the hot path allocates nothing: NaN when absent; its
 * last-seen time (≥ 0) when protected; −1 − last-seen when on probation (seen once).
 */
export function peerSetSighting(s: PeerSet, key: string): number {
  const i = indexOf(s, key);
  if (i < 0) return NaN;
  const t = s[2 + 2 * i] as number;
  return i < protectedCount(s) ? t : -1 - t;
}

/** Whether `key` is in the protected segment. */
export function peerSetProtected(s: PeerSet, key: string): boolean {
  const i = indexOf(s, key);
  return i >= 0 && i < protectedCount(s);
}

export function peerSetSize(s: PeerSet): number {
  return (s.length - 1) >> 1;
}

/** Keys, protected first, each segment in the order its keys entered it. */
export function peerSetKeys(s: PeerSet, from = 0, to = peerSetSize(s)): string[] {
  const out: string[] = [];
  for (let i = from; i < to; i++) out.push(s[1 + 2 * i] as string);
  return out;
}

export function peerSetProtectedKeys(s: PeerSet): string[] {
  return peerSetKeys(s, 0, protectedCount(s));
}

/** Insert entry `at`; returns the set (a new array when small: a push reserves 16+ spare slots). */
function insertAt(s: PeerSet, at: number, key: string, t: number): PeerSet {
  const len = s.length;
  const p = 1 + 2 * at;
  if (len < 33) {
    const a = s.concat(key, t);
    for (let j = len - 1; j >= p; j--) a[j + 2] = a[j]!;
    a[p] = key;
    a[p + 1] = t;
    return a;
  }
  if (p === len) s.push(key, t);
  else s.splice(p, 0, key, t);
  return s;
}

/**
 * Drop the `n` entries of [lo, hi) last seen longest ago, the first in order on ties, as
 * util.evictOldest does on one segment. Returns the number dropped.
 */
function evictRange(s: PeerSet, lo: number, hi: number, n: number): number {
  let cut = Infinity;
  if (hi - lo > n) {
    const vals: number[] = [];
    for (let i = lo; i < hi; i++) vals.push(s[2 + 2 * i] as number);
    vals.sort((a, b) => a - b);
    cut = vals[n - 1]!;
  }
  let dropped = 0;
  let w = 1 + 2 * lo;
  for (let r = w; r < s.length; r += 2) {
    const i = (r - 1) >> 1;
    if (i < hi && dropped < n && (s[r + 1] as number) <= cut) {
      dropped++;
      continue;
    }
    if (w !== r) {
      s[w] = s[r]!;
      s[w + 1] = s[r + 1]!;
    }
    w += 2;
  }
  s.length = w;
  return dropped;
}

/** touchCapped on the protected segment for a key not in it. */
function addProtected(s: PeerSet, key: string, t: number, cap: number): PeerSet {
  const np = protectedCount(s);
  s = insertAt(s, np, key, t);
  s[0] = np + 1;
  if (np + 1 > cap) s[0] = np + 1 - evictRange(s, 0, np + 1, Math.max(1, Math.ceil(cap / 10)));
  return s;
}

/**
 * Record a sighting. `cap` bounds the protected segment; probation holds up to half as many (at
 * least 8), enough for the handful of genuinely new peers a device meets between two contacts.
 */
export function peerSetTouch(s: PeerSet, key: string, t: number, cap: number): PeerSet {
  const i = indexOf(s, key);
  if (i >= 0) return seenAgain(s, i, t, cap);
  s = insertAt(s, peerSetSize(s), intern(key), t);
  const np = protectedCount(s);
  const pc = probationCap(cap);
  if (peerSetSize(s) - np > pc) evictRange(s, np, peerSetSize(s), Math.max(1, Math.ceil(pc / 10)));
  return s;
}

/** Learn a key as established at once (e.g. while the device is still being learned). */
export function peerSetProtect(s: PeerSet, key: string, t: number, cap: number): PeerSet {
  const i = indexOf(s, key);
  if (i >= 0) return seenAgain(s, i, t, cap);
  return addProtected(s, intern(key), t, cap);
}

/** A key already in the set (entry i) seen again at t: refreshed if protected, else promoted to it. */
function seenAgain(s: PeerSet, i: number, t: number, cap: number): PeerSet {
  const p = 2 + 2 * i;
  if (i < protectedCount(s)) {
    if (t > (s[p] as number)) s[p] = t;
    return s;
  }
  const k = s[p - 1] as string;
  s.splice(p - 1, 2);
  return addProtected(s, k, t, cap);
}

function probationCap(cap: number): number {
  return Math.max(8, Math.ceil(cap / 2));
}

/** JSON bytes of a full set whose keys are at most `keyLen` characters. */
export function peerSetMaxBytes(cap: number, keyLen: number): number {
  return 40 + (cap + probationCap(cap)) * (keyLen + 16);
}

/** A set read back from a checkpoint, or undefined if it is not of this layout. */
export function peerSetRevive(x: unknown): PeerSet | undefined {
  if (!Array.isArray(x) || x.length % 2 !== 1) return undefined;
  const np = x[0];
  if (typeof np !== 'number' || np > (x.length - 1) / 2) return undefined;
  const out: PeerSet = [np];
  for (let i = 1; i < x.length; i += 2) {
    const k = x[i];
    const t = x[i + 1];
    if (typeof k !== 'string' || typeof t !== 'number') return undefined;
    out.push(intern(k), t);
  }
  return out;
}
