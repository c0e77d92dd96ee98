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
   */
  takeDirty(): string[];
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

export function createEngine(opts: EngineOptions): Engine {
  const devices = new Map<string, DeviceState>();
  const dirty = new Set<string>();
  const tickEvery = opts.tickEveryMs ?? 60_000;
  const tickers = opts.detectors.filter((d) => typeof d.tick === 'function');
  let maxTs = Number.NEGATIVE_INFINITY;
  let lastTick = Number.NEGATIVE_INFINITY;

  const ctx: StepContext = { watermark: Number.NEGATIVE_INFINITY };

  function collect(out: Finding[], drafts: FindingDraft[]): void {
    for (const d of drafts) out.push(finalize(opts.pipeline, d));
  }

  function runTicks(out: Finding[]): void {
    const wm = ctx.watermark;
    if (!Number.isFinite(wm)) return;
    if (Number.isFinite(lastTick) && wm - lastTick < tickEvery) return;
    lastTick = Math.floor(wm / tickEvery) * tickEvery;
    for (const [id, st] of devices) {
      if (wm - st.last_ts > opts.idleEvictionMs) {
        devices.delete(id);
        dirty.add(id);
        continue;
      }
      for (const det of tickers) {
        const s = st.d[det.id];
        if (s === undefined) continue;
        // Detectors may update state in place, so a tick counts as a change whatever it returns.
        dirty.add(id);
        const r = det.tick!(s, id, st.device_class, ctx);
        st.d[det.id] = r.state;
        if (r.findings.length) collect(out, r.findings);
      }
    }
  }

  function advance(ts: number, out: Finding[]): void {
    if (ts > maxTs) {
      maxTs = ts;
      ctx.watermark = maxTs - opts.allowedLatenessMs;
      runTicks(out);
    }
  }

  return {
    process(ev) {
      const out: Finding[] = [];
      advance(ev.ts, out);
      let st = devices.get(ev.device_id);
      if (!st) {
        st = { device_class: ev.device_class, first_ts: ev.ts, last_ts: ev.ts, d: {} };
        devices.set(ev.device_id, st);
      }
      if (ev.ts > st.last_ts) st.last_ts = ev.ts;
      dirty.add(ev.device_id);
      for (const det of opts.detectors) {
        if (!det.applies(ev)) continue;
        let s = st.d[det.id];
        if (s === undefined) s = det.init(ev);
        const r = det.step(s, ev, ctx);
        st.d[det.id] = r.state;
        if (r.findings.length) collect(out, r.findings);
      }
      return out;
    },
    advanceTo(ts) {
      const out: Finding[] = [];
      advance(ts, out);
      return out;
    },
    watermark: () => ctx.watermark,
    deviceCount: () => devices.size,
    snapshot() {
      const obj: Record<string, DeviceState> = {};
      for (const [k, v] of devices) obj[k] = v;
      return { v: 1, max_ts: maxTs, last_tick: lastTick, devices: obj };
    },
    takeDirty() {
      const ids = [...dirty];
      dirty.clear();
      return ids;
    },
    device: (id) => devices.get(id),
    clock: () => ({ max_ts: maxTs, last_tick: lastTick }),
    restore(snap) {
      devices.clear();
      dirty.clear();
      for (const k of Object.keys(snap.devices)) devices.set(k, snap.devices[k]!);
      maxTs = snap.max_ts;
      lastTick = snap.last_tick;
      ctx.watermark = Number.isFinite(maxTs) ? maxTs - opts.allowedLatenessMs : Number.NEGATIVE_INFINITY;
    },
  };
}
