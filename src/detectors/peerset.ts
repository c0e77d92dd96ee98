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
 * unit (minutes keep the numbers short). Each segment is a capped key → last-seen map of
 * keyed.ts (parallel arrays in insertion order: no dictionary-mode objects, no lookups that
 * internalise the event's key string); peerSetRevive rebuilds one after a checkpoint.
 */
import { removeAt, strAppendCapped, strIndex, strTimesNew, strTimesRevive, strTouchCapped } from './keyed.js';
import type { StrTimes } from './keyed.js';

export interface PeerSet {
  /** Protected: seen at least twice. */
  p: StrTimes;
  /** Probation: seen once. */
  q: StrTimes;
}

export function peerSetNew(): PeerSet {
  return { p: strTimesNew(), q: strTimesNew() };
}

export function peerSetHas(s: PeerSet, key: string): boolean {
  return strIndex(s.p, key) >= 0 || strIndex(s.q, key) >= 0;
}

/** Keys in the protected segment, then in probation. */
export function peerSetSize(s: PeerSet): number {
  return s.p.k.length + s.q.k.length;
}

/**
 * Record a sighting. `cap` bounds the protected segment; probation holds up to half as many (at
 * least 8), enough for the handful of genuinely new peers a device meets between two contacts.
 */
export function peerSetTouch(s: PeerSet, key: string, t: number, cap: number): void {
  const i = strIndex(s.p, key);
  if (i >= 0) {
    if (t > s.p.t[i]!) s.p.t[i] = t;
    return;
  }
  const j = strIndex(s.q, key);
  if (j >= 0) {
    removeAt(s.q, j);
    strAppendCapped(s.p, key, t, cap);
    return;
  }
  strAppendCapped(s.q, key, t, probationCap(cap));
}

/** Learn a key as established at once (e.g. while the device is still being learned). */
export function peerSetProtect(s: PeerSet, key: string, t: number, cap: number): void {
  const j = strIndex(s.q, key);
  if (j >= 0) removeAt(s.q, j);
  strTouchCapped(s.p, key, t, cap);
}

export function probationCap(cap: number): number {
  return Math.max(8, Math.ceil(cap / 2));
}

/** JSON bytes of a full set whose keys are at most `keyLen` characters. */
export function peerSetMaxBytes(cap: number, keyLen: number): number {
  return 48 + (cap + probationCap(cap)) * (keyLen + 16);
}

export function peerSetRevive(x: unknown): PeerSet | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const o = x as Record<string, unknown>;
  const p = strTimesRevive(o.p);
  const q = strTimesRevive(o.q);
  return p !== undefined && q !== undefined ? { p, q } : undefined;
}
