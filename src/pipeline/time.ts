/**
 * Time the engine can trust when devices lie (DESIGN.md, "Two views", last paragraph): the pieces
 * of the engine's clock that are not about scheduling, kept apart so the reference engine of the
 * tests runs exactly the same rules.
 *
 * - Stream time advances from what several distinct devices report (streamRank), so that no one
 *   device can move the watermark.
 * - Events too far ahead of the stream are dead letters (FutureGate).
 * - Exact repeats of a device's recent messages (MQTT QoS 1 redelivery) are recognised by a
 *   fingerprint of their content (fingerprint, DUP_RING).
 */
import type { DecodeError } from '../events/decode.js';
import type { M2MEvent } from '../events/types.js';

/** Default `max_future_skew`: one day (see FutureGate for why so generous). */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 86_400_000;

/** What the engine did with an event. */
export type EventOutcome = 'scored' | 'duplicate' | 'future';

/**
 * The most devices whose reports stream time waits for: stream time is the RANK_MAX-th largest
 * newest timestamp among distinct devices, so up to RANK_MAX − 1 devices with clocks ahead cannot
 * move it. Each further rank also needs one more device still reporting for time to advance at
 * all (a partition where fewer devices report than the rank stops its clock, and with it silence
 * detection): three tolerates two liars while asking little of a partition's fleet.
 */
const RANK_MAX = 3;

/**
 * The rank used with `n` devices in the partition: fewer in small partitions, where waiting for
 * three devices would stop time as soon as most of them go quiet. A quarter of the devices must
 * still report for time to advance; a partition of four or fewer runs on its newest timestamp
 * (as every partition did before), which the future gate still bounds.
 */
export function streamRank(n: number): number {
  return n >= 9 ? 3 : n >= 5 ? 2 : 1;
}

/**
 * Recent message fingerprints kept per device for duplicate suppression. MQTT QoS 1 redelivers a
 * message whose acknowledgement was lost, after a reconnect or a retry timeout; meanwhile the
 * client may have published newer ones, up to its in-flight window (10 in Paho, 20 in Mosquitto's
 * bridge). Sixteen covers that window at 4 bytes each; a repeat older than that is scored again.
 */
export const DUP_RING = 16;

/** A number's contribution: its integer part and 32 bits of its fraction (exact repeats have equal values). */
function mixNum(h: number, v: number): number {
  h = Math.imul(h ^ (v | 0), 0x9e3779b1);
  return Math.imul(h ^ ((v * 4294967296) | 0), 0x85ebca6b);
}

function mixStr(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ s.length, 0x01000193);
}

/** A short string (a name, an enum) by its length and end characters: cheap, and enough beside the values. */
function strSig(s: string | undefined): number {
  return s === undefined || s.length === 0 ? 0 : (s.length << 16) ^ (s.charCodeAt(0) << 8) ^ s.charCodeAt(s.length - 1);
}

/**
 * A 32-bit fingerprint of an event's content (time included), for recognising the same message
 * delivered twice. It reads the decoded fields rather than the bytes, and sums the metrics'
 * hashes (order does not matter), so a redelivery that a broker or gateway re-serialised still
 * matches. Two different messages of one device must agree on their time, sequence number,
 * values and the shape of their names to collide; and only events at or behind a device's newest
 * timestamp are ever compared (a newer one cannot repeat anything), against at most DUP_RING
 * others. The hot path pays a few multiplications per field: no strings are built, and names
 * are read by length and end characters only (full strings only for the peer address).
 */
export function fingerprint(ev: M2MEvent): number {
  let h = mixNum(0x811c9dc5, ev.ts);
  if (ev.type === 'telemetry') {
    const m = ev.metrics;
    let sum = 0;
    for (const k in m) sum = (sum + mixNum(Math.imul(strSig(k), 0x27d4eb2f), m[k]!)) | 0;
    h = Math.imul(h ^ sum, 0x01000193);
    const q = ev.seq;
    if (q !== undefined) h = mixNum(h, q);
  } else {
    h = mixStr(h ^ 0x27d4eb2f, ev.dst_ip);
    h = Math.imul(h ^ ev.dst_port ^ (strSig(ev.protocol) << 4), 0x01000193);
    if (ev.bytes_out !== undefined) h = mixNum(h, ev.bytes_out);
    if (ev.bytes_in !== undefined) h = mixNum(h ^ 1, ev.bytes_in);
    if (ev.duration_ms !== undefined) h = mixNum(h ^ 2, ev.duration_ms);
    h = Math.imul(h ^ strSig(ev.auth) ^ (ev.tls === undefined ? 3 : ev.tls ? 5 : 7), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 0;
}

/** Other distinct devices that must agree on a time beyond the gate before it is believed (see FutureGate). */
const CORROBORATE = RANK_MAX - 1;
const CLAIMS = 8;

/**
 * Rejects events dated beyond `max(wall clock, stream time) + skew`.
 *
 * The wall clock (when the caller has one: the service, not a backtest) catches a bad clock
 * before the stream has any time of its own; stream time lets a replay of data dated after the
 * wall clock through, and is all a backtest judges by, so a backtest gives the same answer
 * whenever it runs. Without either (a backtest's first event) nothing can be judged.
 *
 * When the whole stream really moves past the bound at once (a replay into a fresh partition of
 * data dated ahead of the wall clock, a gap of more than the skew in a recording), the first
 * events are rejected until CORROBORATE other distinct devices have claimed a time within the
 * skew of it; from then on such events are admitted, so the clock follows the fleet, not one
 * device. The price is the first CORROBORATE events of such a jump (dead letters, visible). A
 * partition with fewer other devices asks for as many as it has: a device alone is its stream, so
 * in a backtest its jump is believed; the wall clock counts as one witness against, so in the
 * service one other device must agree.
 *
 * The default skew, a day, admits a device whose zone is set wrong (local time written as UTC
 * is up to 14 h ahead): such a device is still scored, in its own clock frame. A timestamp
 * beyond that cannot be explained by a zone and is a broken clock.
 */
export class FutureGate {
  /** Events dated after this are judged; +Infinity while there is nothing to judge by. */
  bound = Number.POSITIVE_INFINITY;
  private wall = Number.NaN;
  private stream = Number.NEGATIVE_INFINITY;
  private readonly ids: (string | undefined)[] = new Array<string | undefined>(CLAIMS).fill(undefined);
  private readonly ts = new Float64Array(CLAIMS);
  private next = 0;

  constructor(readonly skewMs: number) {}

  /** The wall clock (ms), or NaN for none. */
  setWall(ms: number): void {
    this.wall = ms;
    this.refresh();
  }

  setStream(ms: number): void {
    this.stream = ms;
    this.refresh();
  }

  private refresh(): void {
    const ref = this.wall > this.stream ? this.wall : this.stream; // NaN wall → stream
    this.bound = ref === Number.NEGATIVE_INFINITY ? Number.POSITIVE_INFINITY : ref + this.skewMs;
  }

  /**
   * For an event with ts > bound: whether other devices vouch for its time (and remember its
   * claim). `others`: the partition's devices other than this one.
   */
  corroborated(id: string, ts: number, others: number): boolean {
    let agree = 0;
    let own = -1;
    for (let i = 0; i < CLAIMS; i++) {
      const d = this.ids[i];
      if (d === undefined) continue;
      if (d === id) own = i;
      else if (Math.abs(this.ts[i]! - ts) <= this.skewMs) agree++;
    }
    const at = own >= 0 ? own : this.next;
    if (own < 0) this.next = (this.next + 1) % CLAIMS;
    this.ids[at] = id;
    this.ts[at] = ts;
    const witnesses = this.wall === this.wall ? Math.max(others, 1) : others;
    return agree >= (witnesses < CORROBORATE ? witnesses : CORROBORATE);
  }

  /** The dead-letter reason for an event the gate rejected. */
  error(ts: number): DecodeError {
    const ahead = ts - (this.bound - this.skewMs);
    const by = this.wall > this.stream ? 'the wall clock' : 'the stream time its devices report';
    return {
      code: 'future_timestamp',
      field: 'ts',
      message: `"ts" ${isoOr(ts)} is ${fmtAhead(ahead)} ahead of ${by} (${isoOr(this.bound - this.skewMs)}), more than max_future_skew (${fmtAhead(this.skewMs)})`,
    };
  }
}

function isoOr(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

function fmtAhead(ms: number): string {
  const units: Array<[number, string]> = [
    [365.25 * 86_400_000, 'y'],
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1_000, 's'],
  ];
  for (const [u, name] of units) if (ms >= u) return `${Math.round((ms / u) * 10) / 10}${name}`;
  return `${Math.round(ms)}ms`;
}

/**
 * The RANK_MAX newest timestamps of distinct devices (by slot), newest first. Updating it is a
 * few comparisons per event, no allocation; stream time is read off it with streamRank.
 */
export class StreamRank {
  private readonly slots = new Int32Array(RANK_MAX).fill(-1);
  private readonly ts = new Float64Array(RANK_MAX);
  private n = 0;

  /** Device `slot`'s newest timestamp is now `ts` (never lower than before). */
  update(slot: number, ts: number): void {
    const slots = this.slots;
    const tss = this.ts;
    let i = 0;
    while (i < this.n && slots[i] !== slot) i++;
    if (i === this.n) {
      if (this.n < RANK_MAX) this.n++;
      else if (!(ts > tss[RANK_MAX - 1]!)) return;
      i = this.n - 1;
    } else if (!(ts > tss[i]!)) return;
    for (; i > 0 && tss[i - 1]! < ts; i--) {
      slots[i] = slots[i - 1]!;
      tss[i] = tss[i - 1]!;
    }
    slots[i] = slot;
    tss[i] = ts;
  }

  has(slot: number): boolean {
    for (let i = 0; i < this.n; i++) if (this.slots[i] === slot) return true;
    return false;
  }

  clear(): void {
    this.n = 0;
  }

  /** Stream time for a partition of `devices` devices: the streamRank-th newest (-Infinity: none). */
  time(devices: number): number {
    if (this.n === 0) return Number.NEGATIVE_INFINITY;
    const k = streamRank(devices);
    return this.ts[(k < this.n ? k : this.n) - 1]!;
  }
}

/** DUP_RING message fingerprints per slot, in flat typed arrays (4 bytes a message, no objects). */
export class DupRings {
  private ring: Int32Array;
  private count: Uint8Array;
  private next: Uint8Array;

  constructor(cap: number) {
    this.ring = new Int32Array(cap * DUP_RING);
    this.count = new Uint8Array(cap);
    this.next = new Uint8Array(cap);
  }

  grow(cap: number): void {
    const ring = new Int32Array(cap * DUP_RING);
    ring.set(this.ring);
    this.ring = ring;
    const count = new Uint8Array(cap);
    count.set(this.count);
    this.count = count;
    const next = new Uint8Array(cap);
    next.set(this.next);
    this.next = next;
  }

  reset(slot: number): void {
    this.count[slot] = 0;
    this.next[slot] = 0;
  }

  has(slot: number, fp: number): boolean {
    const base = slot * DUP_RING;
    const n = this.count[slot]!;
    for (let i = 0; i < n; i++) if (this.ring[base + i] === fp) return true;
    return false;
  }

  add(slot: number, fp: number): void {
    const at = this.next[slot]!;
    this.ring[slot * DUP_RING + at] = fp;
    this.next[slot] = at + 1 === DUP_RING ? 0 : at + 1;
    if (this.count[slot]! < DUP_RING) this.count[slot]!++;
  }

  /** Oldest first (the checkpoint form), or undefined when empty. */
  list(slot: number): number[] | undefined {
    const n = this.count[slot]!;
    if (n === 0) return undefined;
    const base = slot * DUP_RING;
    const start = n < DUP_RING ? 0 : this.next[slot]!;
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.ring[base + ((start + i) % DUP_RING)]!;
    return out;
  }
}
