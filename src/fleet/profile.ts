/**
 * What the fleet knows of one device class: which devices it has (seen lately) and how many of
 * them use each destination. Fed by the engine's fleet facts; pure data, bounded by forgetting
 * what was not seen for `memory` and by a cap on destinations per class.
 * Destinations are counted by group (detectors/fleet.ts: /24 or /64 and port).
 */
import type { FleetFact } from '../detectors/types.js';
import { peerGroup } from '../detectors/fleet.js';

/** Destination groups remembered per class; past this, the least recently used are forgotten. */
const MAX_GROUPS = 20_000;

export interface ClassProfile {
  /** Device → last seen (event time). */
  devices: Map<string, number>;
  /** Destination group → device → last use. */
  peers: Map<string, Map<string, number>>;
}

export function newProfile(): ClassProfile {
  return { devices: new Map(), peers: new Map() };
}

export function observe(p: ClassProfile, f: FleetFact): void {
  touch(p.devices, f.d, f.ts);
  if (f.k !== 'peer') return;
  const g = peerGroup(f.ip, f.port);
  let users = p.peers.get(g);
  if (users === undefined) {
    if (p.peers.size >= MAX_GROUPS) forgetOldestGroup(p);
    users = new Map();
    p.peers.set(g, users);
  } else {
    // Map order is insertion order: re-inserting keeps the least recently used group first.
    p.peers.delete(g);
    p.peers.set(g, users);
  }
  touch(users, f.d, f.ts);
}

function touch(m: Map<string, number>, k: string, ts: number): void {
  const prev = m.get(k);
  if (prev === undefined || ts > prev) m.set(k, ts);
}

function forgetOldestGroup(p: ClassProfile): void {
  for (const g of p.peers.keys()) {
    p.peers.delete(g);
    return;
  }
}

/** Devices of the class seen lately (as of the last prune, which runs every hour of fleet time). */
export function classSize(p: ClassProfile): number {
  return p.devices.size;
}

/** Devices of the class that used the destination group lately, `except` not counted. */
export function prevalence(p: ClassProfile, group: string, except?: string): number {
  const users = p.peers.get(group);
  if (users === undefined) return 0;
  return users.size - (except !== undefined && users.has(except) ? 1 : 0);
}

/** Forget devices and uses older than `memory` before `now` (called now and then, not per fact). */
export function prune(p: ClassProfile, now: number, memory: number): void {
  const cut = now - memory;
  for (const [d, ts] of p.devices) if (ts <= cut) p.devices.delete(d);
  for (const [g, users] of p.peers) {
    for (const [d, ts] of users) if (ts <= cut) users.delete(d);
    if (users.size === 0) p.peers.delete(g);
  }
}
