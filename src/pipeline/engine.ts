/**
 * The detection engine: per-device state plus the pipeline's detectors, driven by event time.
 * It is the one piece of code that both the Kafka consumers (one engine per partition) and the
 * in-process backtest run, so a backtest measures exactly what production does.
 *
 * No I/O here. The runner feeds events, collects findings, and snapshots the state together
 * with the offsets it reflects.
 */
import { createHash } from 'node:crypto';
import type { M2MEvent } from '../events/types.js';
import type { DetectorInstance, Finding, FindingDraft, StepContext } from '../detectors/types.js';

export interface DeviceState {
  device_class: string;
  first_ts: number;
  last_ts: number;
  /** Per detector instance id. */
  d: Record<string, unknown>;
}

export interface EngineSnapshot {
  v: 1;
  max_ts: number;
  last_tick: number;
  devices: Record<string, DeviceState>;
}

export interface EngineOptions {
  pipeline: string;
  detectors: DetectorInstance[];
  allowedLatenessMs: number;
  idleEvictionMs: number;
  /** How often (event time) silence-style detectors are ticked. */
  tickEveryMs?: number;
}

export interface Engine {
  process(event: M2MEvent): Finding[];
  /** Advance time without an event (end of input, idle partitions). */
  advanceTo(ts: number): Finding[];
  watermark(): number;
  deviceCount(): number;
  snapshot(): EngineSnapshot;
  restore(snap: EngineSnapshot): void;
  /**
   * Ids of devices whose state changed (stepped, ticked, created or evicted) since the last call
   * or restore, and clears that set. A delta checkpoint writes only these; an id with no
   * device() any more was evicted and becomes a tombstone.
   *
   * A device touched only by ticks is named only if a tick changed its state (compared as JSON
   * around the tick): silence detectors visit many devices without changing them, and writing
   * them all at every checkpoint multiplied the state written. Order: as first changed.
   */
  takeDirty(): string[];
  /** Devices stepped, created or evicted since the last take (ticks not counted): a checkpoint's lower bound. */
  changedCount(): number;
  /** One device's live state (not a copy), or undefined if it has none. */
  device(id: string): DeviceState | undefined;
  /** The event-time clock a checkpoint carries beside the device states. */
  clock(): { max_ts: number; last_tick: number };
}

export function findingId(pipeline: string, f: FindingDraft): string {
  return createHash('sha256')
    .update(`${pipeline}\u0000${f.detector}\u0000${f.device_id}\u0000${f.key}\u0000${f.first_ts}`)
    .digest('hex')
    .slice(0, 32);
}

export function finalize(pipeline: string, draft: FindingDraft): Finding {
  return { ...draft, finding_id: findingId(pipeline, draft), pipeline, version: draft.count };
}

// Shared result of the (usual) event that raises nothing; frozen so a caller that pushed into it
// would fail loudly instead of leaking findings into later events.
const NO_FINDINGS: Finding[] = Object.freeze([]) as unknown as Finding[];

/**
 * Devices live in slots (parallel arrays indexed by a slot number, reused after eviction) so the
 * engine's own per-device bookkeeping (creation order, tick schedule, dirty flag) stays out of the
 * DeviceState that checkpoints serialise.
 *
 * Ticks: a device is visited at a tick only once the watermark has reached its due time, the
 * earliest of its eviction time and its tickers' nextTick(). Due times are kept in buckets of
 * `tickEvery` (a timer wheel whose occupied bucket keys sit in a min-heap); an entry is valid only
 * while its key is the slot's current `sched`, so moving a device earlier just adds an entry and
 * later ones are found stale when their bucket comes due. A visit evicts or ticks exactly as the
 * tick of every device did, in creation order (= the order of the device map), so findings and
 * state are the same as ticking every device at every tick.
 */
export function createEngine(opts: EngineOptions): Engine {
  /** device id → slot. Iteration order is creation order, as snapshots have always written it. */
  const devices = new Map<string, number>();
  let cap = 1024;
  let states: (DeviceState | undefined)[] = new Array(cap).fill(undefined);
  let ids: (string | undefined)[] = new Array(cap).fill(undefined);
  /** Creation order: visits within a tick are sorted by it. */
  let seq = new Float64Array(cap);
  /** Bucket key of the slot's valid schedule entry; +Infinity: none. */
  let sched = new Float64Array(cap).fill(Number.POSITIVE_INFINITY);
  /** 0 clean, 1 listed and counted (stepped, created or evicted), 2 listed because a tick changed it. */
  let flags = new Uint8Array(cap);
  const free: number[] = [];
  let used = 0;
  let nextSeq = 0;

  /** Ids changed since the last take, in the order first marked. */
  let dirtyIds: string[] = [];
  /** Distinct devices stepped, created or evicted since the last take. */
  let changed = 0;
  /** Evicted since the last take (their id is listed; a re-created device with that id must not be listed twice). */
  const gone = new Set<string>();

  const tickEvery = opts.tickEveryMs ?? 60_000;
  const idle = opts.idleEvictionMs;
  const tickers = opts.detectors.filter((d) => typeof d.tick === 'function');
  const revivers = opts.detectors.filter((d) => typeof d.revive === 'function');
  let maxTs = Number.NEGATIVE_INFINITY;
  let lastTick = Number.NEGATIVE_INFINITY;

  const ctx: StepContext = { watermark: Number.NEGATIVE_INFINITY };
  // Per event type, the detectors that may apply (in pipeline order, so findings keep their
  // order): a telemetry event is not offered to a dozen connection detectors one by one.
  const forType = (t: M2MEvent['type']) => opts.detectors.filter((d) => d.eventTypes === undefined || d.eventTypes.includes(t));
  const byType: Record<M2MEvent['type'], DetectorInstance[]> = { telemetry: forType('telemetry'), connection: forType('connection') };
  const tickersOf = (dets: DetectorInstance[]) => dets.filter((d) => typeof d.tick === 'function');
  const tickersByType: Record<M2MEvent['type'], DetectorInstance[]> = { telemetry: tickersOf(byType.telemetry), connection: tickersOf(byType.connection) };

  // ── timer wheel ──
  const buckets = new Map<number, number[]>();
  /** Min-heap of the keys in `buckets`. */
  const heap: number[] = [];
  function heapPush(k: number): void {
    let i = heap.length;
    heap.push(k);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p]! <= k) break;
      heap[i] = heap[p]!;
      i = p;
    }
    heap[i] = k;
  }
  function heapPop(): number {
    const top = heap[0]!;
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && heap[r]! < heap[l]! ? r : l;
        if (heap[c]! >= last) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
  function schedule(slot: number, due: number): void {
    // NaN (a detector that cannot say) is "every tick".
    const k = due === due ? Math.floor(due / tickEvery) : Number.NEGATIVE_INFINITY;
    if (!(k < sched[slot]!)) return;
    sched[slot] = k;
    let b = buckets.get(k);
    if (b === undefined) {
      b = [];
      buckets.set(k, b);
      heapPush(k);
    }
    b.push(slot);
  }
  /** The earliest watermark at which a visit can evict or tick the device. */
  function dueOf(st: DeviceState): number {
    let due = st.last_ts + idle;
    for (let i = 0; i < tickers.length; i++) {
      const det = tickers[i]!;
      const s = st.d[det.id];
      if (s === undefined) continue;
      const t = det.nextTick === undefined ? Number.NEGATIVE_INFINITY : det.nextTick(s);
      if (!(t >= due)) due = t; // NaN → NaN → every tick
    }
    return due;
  }

  function grow(): void {
    const n = cap * 2;
    const st2: (DeviceState | undefined)[] = new Array(n).fill(undefined);
    const id2: (string | undefined)[] = new Array(n).fill(undefined);
    for (let i = 0; i < cap; i++) {
      st2[i] = states[i];
      id2[i] = ids[i];
    }
    states = st2;
    ids = id2;
    const sq = new Float64Array(n);
    sq.set(seq);
    seq = sq;
    const sc = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    sc.set(sched);
    sched = sc;
    const fl = new Uint8Array(n);
    fl.set(flags);
    flags = fl;
    cap = n;
  }
  function alloc(id: string, st: DeviceState): number {
    let slot: number;
    if (free.length) slot = free.pop()!;
    else {
      if (used === cap) grow();
      slot = used++;
    }
    states[slot] = st;
    ids[slot] = id;
    seq[slot] = nextSeq++;
    sched[slot] = Number.POSITIVE_INFINITY;
    flags[slot] = gone.has(id) ? 1 : 0;
    devices.set(id, slot);
    return slot;
  }
  function evict(slot: number): void {
    const id = ids[slot]!;
    devices.delete(id);
    if (flags[slot] !== 1) {
      if (flags[slot] === 0) dirtyIds.push(id);
      changed++;
    }
    gone.add(id);
    states[slot] = undefined;
    ids[slot] = undefined;
    sched[slot] = Number.POSITIVE_INFINITY;
    flags[slot] = 0;
    free.push(slot);
  }

  function collect(out: Finding[], drafts: FindingDraft[]): void {
    for (const d of drafts) out.push(finalize(opts.pipeline, d));
  }

  const dueSlots: number[] = [];
  const bySeq = (a: number, b: number) => seq[a]! - seq[b]!;

  function runTicks(out: Finding[]): void {
    const wm = ctx.watermark;
    if (!Number.isFinite(wm)) return;
    if (Number.isFinite(lastTick) && wm - lastTick < tickEvery) return;
    lastTick = Math.floor(wm / tickEvery) * tickEvery;
    const cur = Math.floor(wm / tickEvery);
    while (heap.length && heap[0]! <= cur) {
      const k = heapPop();
      const b = buckets.get(k)!;
      buckets.delete(k);
      for (let i = 0; i < b.length; i++) {
        const slot = b[i]!;
        if (sched[slot] !== k) continue; // stale (moved earlier, visited, or evicted)
        sched[slot] = Number.POSITIVE_INFINITY;
        dueSlots.push(slot);
      }
    }
    if (!dueSlots.length) return;
    if (dueSlots.length > 1) dueSlots.sort(bySeq);
    for (let i = 0; i < dueSlots.length; i++) {
      const slot = dueSlots[i]!;
      const st = states[slot]!;
      if (wm - st.last_ts > idle) {
        evict(slot);
        continue;
      }
      const id = ids[slot]!;
      for (let j = 0; j < tickers.length; j++) {
        const det = tickers[j]!;
        const s = st.d[det.id];
        if (s === undefined) continue;
        if (det.nextTick !== undefined && wm < det.nextTick(s)) continue;
        // Detectors may update state in place: whether the tick changed anything (so that a
        // checkpoint must rewrite the device) is decided by comparing the state's JSON.
        const before = flags[slot] === 0 ? JSON.stringify(s) : undefined;
        const r = det.tick!(s, id, st.device_class, ctx);
        st.d[det.id] = r.state;
        if (before !== undefined && JSON.stringify(r.state) !== before) {
          flags[slot] = 2;
          dirtyIds.push(id);
        }
        if (r.findings.length) collect(out, r.findings);
      }
      schedule(slot, dueOf(st));
    }
    dueSlots.length = 0;
  }

  /** Findings of ticks run while advancing time; reused, copied out only when non-empty. */
  const tickOut: Finding[] = [];
  function advance(ts: number): void {
    if (ts > maxTs) {
      maxTs = ts;
      ctx.watermark = maxTs - opts.allowedLatenessMs;
      runTicks(tickOut);
    }
  }

  return {
    process(ev) {
      let out = NO_FINDINGS;
      if (ev.ts > maxTs) {
        advance(ev.ts);
        if (tickOut.length) {
          out = tickOut.slice();
          tickOut.length = 0;
        }
      }
      let slot = devices.get(ev.device_id);
      let st: DeviceState;
      if (slot === undefined) {
        st = { device_class: ev.device_class, first_ts: ev.ts, last_ts: ev.ts, d: {} };
        slot = alloc(ev.device_id, st);
        schedule(slot, ev.ts + idle);
      } else {
        st = states[slot]!;
        if (ev.ts > st.last_ts) st.last_ts = ev.ts;
      }
      const fl = flags[slot]!;
      if (fl !== 1) {
        if (fl === 0) dirtyIds.push(ev.device_id);
        flags[slot] = 1;
        changed++;
      }
      const dets = byType[ev.type] ?? opts.detectors;
      for (let i = 0; i < dets.length; i++) {
        const det = dets[i]!;
        if (!det.applies(ev)) continue;
        let s = st.d[det.id];
        let fresh = false;
        if (s === undefined) {
          s = det.init(ev);
          fresh = true;
        }
        const r = det.step(s, ev, ctx);
        // Most detectors update their state in place and return it: no keyed store then.
        if (fresh || r.state !== s) st.d[det.id] = r.state;
        if (r.findings.length) {
          if (out === NO_FINDINGS) out = [];
          collect(out, r.findings);
        }
      }
      // A step can only bring a ticker's due time earlier; eviction only moves later.
      const tk = tickersByType[ev.type] ?? tickers;
      for (let i = 0; i < tk.length; i++) {
        const det = tk[i]!;
        const s = st.d[det.id];
        if (s === undefined) continue;
        schedule(slot, det.nextTick === undefined ? Number.NEGATIVE_INFINITY : det.nextTick(s));
      }
      return out;
    },
    advanceTo(ts) {
      advance(ts);
      const out = tickOut.slice();
      tickOut.length = 0;
      return out;
    },
    watermark: () => ctx.watermark,
    deviceCount: () => devices.size,
    snapshot() {
      const obj: Record<string, DeviceState> = {};
      for (const [k, slot] of devices) obj[k] = states[slot]!;
      return { v: 1, max_ts: maxTs, last_tick: lastTick, devices: obj };
    },
    takeDirty() {
      const out = dirtyIds;
      for (const id of out) {
        const slot = devices.get(id);
        if (slot !== undefined) flags[slot] = 0;
      }
      dirtyIds = [];
      changed = 0;
      gone.clear();
      return out;
    },
    changedCount: () => changed,
    device: (id) => {
      const slot = devices.get(id);
      return slot === undefined ? undefined : states[slot];
    },
    clock: () => ({ max_ts: maxTs, last_tick: lastTick }),
    restore(snap) {
      devices.clear();
      buckets.clear();
      heap.length = 0;
      free.length = 0;
      states.fill(undefined);
      ids.fill(undefined);
      sched.fill(Number.POSITIVE_INFINITY);
      flags.fill(0);
      used = 0;
      nextSeq = 0;
      dirtyIds = [];
      changed = 0;
      gone.clear();
      for (const k of Object.keys(snap.devices)) {
        const st = snap.devices[k]!;
        for (let i = 0; i < revivers.length; i++) {
          const det = revivers[i]!;
          const s = st.d[det.id];
          if (s === undefined) continue;
          const live = det.revive!(s);
          if (live === undefined) delete st.d[det.id];
          else st.d[det.id] = live;
        }
        const slot = alloc(k, st);
        schedule(slot, dueOf(st));
      }
      maxTs = snap.max_ts;
      lastTick = snap.last_tick;
      ctx.watermark = Number.isFinite(maxTs) ? maxTs - opts.allowedLatenessMs : Number.NEGATIVE_INFINITY;
    },
  };
}
