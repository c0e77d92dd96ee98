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
 * unit (minutes keep the numbers short).
 */
import { touchCapped } from './util.js';

export interface PeerSet {
  /** Protected: seen at least twice. */
  p: Record<string, number>;
  pn: number;
  /** Probation: seen once. */
  q: Record<string, number>;
  qn: number;
}

export function peerSetNew(): PeerSet {
  return { p: {}, pn: 0, q: {}, qn: 0 };
}

export function peerSetHas(s: PeerSet, key: string): boolean {
  return s.p[key] !== undefined || s.q[key] !== undefined;
}

/**
 * Record a sighting. `cap` bounds the protected segment; probation holds up to half as many (at
 * least 8), enough for the handful of genuinely new peers a device meets between two contacts.
 */
export function peerSetTouch(s: PeerSet, key: string, t: number, cap: number): void {
  if (s.p[key] !== undefined) {
    if (t > s.p[key]!) s.p[key] = t;
    return;
  }
  if (s.q[key] !== undefined) {
    delete s.q[key];
    s.qn--;
    s.pn = touchCapped(s.p, s.pn, key, t, cap);
    return;
  }
  s.qn = touchCapped(s.q, s.qn, key, t, probationCap(cap));
}

/** Learn a key as established at once (e.g. while the device is still being learned). */
export function peerSetProtect(s: PeerSet, key: string, t: number, cap: number): void {
  if (s.q[key] !== undefined) {
    delete s.q[key];
    s.qn--;
  }
  s.pn = touchCapped(s.p, s.pn, key, t, cap);
}

export function probationCap(cap: number): number {
  return Math.max(8, Math.ceil(cap / 2));
}

/** JSON bytes of a full set whose keys are at most `keyLen` characters. */
export function peerSetMaxBytes(cap: number, keyLen: number): number {
  return 40 + (cap + probationCap(cap)) * (keyLen + 16);
}
