/**
 * The engine as it was before tick scheduling (every device visited at every tick, dirty
 * tracking by sets), kept as the reference the scheduled engine must match: same findings in the
 * same order, same snapshots. Used by test/pipeline/engine-ticks.test.ts only.
 *
 * Its time rules follow the engine's on purpose (they are semantics, not scheduling), each in
 * its plainest form: stream time is the streamRank-th newest timestamp found by sorting every
 * device's, each device is ticked at the stream watermark shifted into its own frame, and
 * duplicates are looked up in a plain list. Only the future gate and the fingerprint are the
 * engine's own (time.ts), tested on their own in test/pipeline/engine-time.test.ts.
 */
import type { M2MEvent } from '../../src/events/types.js';
import type { DetectorInstance, Finding, FindingDraft, StepContext } from '../../src/detectors/types.js';
import { finalize, type DeviceState, type Engine, type EngineOptions } from '../../src/pipeline/engine.js';
import { DEFAULT_MAX_FUTURE_SKEW_MS, DUP_RING, FutureGate, fingerprint, streamRank, type EventOutcome } from '../../src/pipeline/time.js';

const NO_FINDINGS: Finding[] = Object.freeze([]) as unknown as Finding[];

export function createReferenceEngine(opts: EngineOptions): Omit<Engine, 'watch'> {
  const devices = new Map<string, DeviceState>();
  /** Stepped, created or evicted: certainly changed. */
  const dirty = new Set<string>();
  /** Ticked: changed only if a ticker's state differs from `tickSeen`. */
  const ticked = new Set<string>();
  /** JSON of each device's ticked detector states as of the last take or restore. */
  const tickSeen = new Map<string, string>();
  const tickEvery = opts.tickEveryMs ?? 60_000;
  const tickers = opts.detectors.filter((d) => typeof d.tick === 'function');
  let maxTs = Number.NEGATIVE_INFINITY;
  let wm = Number.NEGATIVE_INFINITY;
  let lastTick = Number.NEGATIVE_INFINITY;
  const gate = new FutureGate(opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
  let outcome: EventOutcome = 'scored';
  /** A device's watermark: the stream's, shifted by how far behind the stream its latest arrival was. */
  const frame = (st: DeviceState) => wm - (st.heard! - st.last_ts);

  const ctx: StepContext = { watermark: Number.NEGATIVE_INFINITY, sinceHeard: NaN, facts: [] };
  // Per event type, the detectors that may apply (in pipeline order, so findings keep their
  // order): a telemetry event is not offered to a dozen connection detectors one by one.
  const forType = (t: M2MEvent['type']) => opts.detectors.filter((d) => d.eventTypes === undefined || d.eventTypes.includes(t));
  const byType: Record<M2MEvent['type'], DetectorInstance[]> = { telemetry: forType('telemetry'), connection: forType('connection') };

  function tickSig(st: DeviceState): string {
    if (tickers.length === 1) return JSON.stringify(st.d[tickers[0]!.id]) ?? '';
    let sig = '';
    for (const det of tickers) sig += `${JSON.stringify(st.d[det.id]) ?? ''}\u0000`;
    return sig;
  }

  function collect(out: Finding[], drafts: FindingDraft[]): void {
    for (const d of drafts) out.push(finalize(opts.pipeline, d));
  }

  function runTicks(out: Finding[]): void {
    if (!Number.isFinite(wm)) return;
    if (Number.isFinite(lastTick) && wm - lastTick < tickEvery) return;
    lastTick = Math.floor(wm / tickEvery) * tickEvery;
    for (const [id, st] of devices) {
      ctx.watermark = frame(st);
      if (ctx.watermark - st.last_ts > opts.idleEvictionMs) {
        devices.delete(id);
        dirty.add(id);
        continue;
      }
      for (const det of tickers) {
        const s = st.d[det.id];
        if (s === undefined) continue;
        // Detectors may update state in place, so whether a tick changed anything is decided by
        // comparing the state itself when a checkpoint takes the dirty set.
        ticked.add(id);
        const r = det.tick!(s, id, st.device_class, ctx);
        st.d[det.id] = r.state;
        if (r.findings.length) collect(out, r.findings);
      }
    }
  }

  function advance(ts: number, out: Finding[]): void {
    if (ts > maxTs) {
      maxTs = ts;
      wm = maxTs - opts.allowedLatenessMs;
      gate.setStream(maxTs);
      runTicks(out);
    }
  }

  return {
    process(ev) {
      if (ev.ts > gate.bound && !gate.corroborated(ev.device_id, ev.ts, devices.size - (devices.has(ev.device_id) ? 1 : 0))) {
        outcome = 'future';
        return NO_FINDINGS;
      }
      let st = devices.get(ev.device_id);
      const fp = fingerprint(ev);
      if (st && ev.ts <= st.last_ts && st.dup!.includes(fp)) {
        outcome = 'duplicate';
        return NO_FINDINGS;
      }
      outcome = 'scored';
      // Stream time: the streamRank(n)-th newest of the devices' newest timestamps, this event's included.
      const newest = [...devices].map(([id, d]) => (id === ev.device_id ? Math.max(d.last_ts, ev.ts) : d.last_ts));
      if (!st) newest.push(ev.ts);
      newest.sort((a, b) => b - a);
      const t = newest[Math.min(streamRank(newest.length), newest.length) - 1]!;
      let out = NO_FINDINGS;
      if (t > maxTs) {
        out = [];
        advance(t, out);
        if (!out.length) out = NO_FINDINGS;
      }
      st = devices.get(ev.device_id);
      ctx.sinceHeard = st ? maxTs - st.heard! : NaN;
      if (!st) {
        st = { device_class: ev.device_class, first_ts: ev.ts, last_ts: ev.ts, heard: maxTs, dup: [], d: {} };
        devices.set(ev.device_id, st);
      }
      if (ev.ts > st.last_ts) st.last_ts = ev.ts;
      st.heard = maxTs;
      st.dup!.push(fp);
      if (st.dup!.length > DUP_RING) st.dup!.shift();
      ctx.watermark = frame(st);
      dirty.add(ev.device_id);
      const dets = byType[ev.type] ?? opts.detectors;
      for (let i = 0; i < dets.length; i++) {
        const det = dets[i]!;
        if (!det.applies(ev)) continue;
        let s = st.d[det.id];
        if (s === undefined) s = det.init(ev);
        const r = det.step(s, ev, ctx);
        st.d[det.id] = r.state;
        if (r.findings.length) {
          if (out === NO_FINDINGS) out = [];
          collect(out, r.findings);
        }
      }
      return out;
    },
    lastOutcome: () => outcome,
    futureError: (ev) => gate.error(ev.ts),
    setWallClock(ms) {
      gate.setWall(ms);
    },
    advanceTo(ts) {
      const out: Finding[] = [];
      advance(ts, out);
      return out;
    },
    watermark: () => wm,
    // The reference is about findings and state; the fleet facts it drops are not compared.
    takeFacts: () => ctx.facts.splice(0),
    deviceCount: () => devices.size,
    snapshot() {
      const obj: Record<string, DeviceState> = {};
      for (const [k, v] of devices) obj[k] = v;
      return { v: 1, max_ts: maxTs, last_tick: lastTick, devices: obj };
    },
    takeDirty() {
      const ids: string[] = [];
      for (const id of dirty) {
        const st = devices.get(id);
        if (st === undefined) tickSeen.delete(id);
        else if (tickers.length) tickSeen.set(id, tickSig(st));
        ids.push(id);
      }
      for (const id of ticked) {
        if (dirty.has(id)) continue;
        const st = devices.get(id);
        if (st === undefined) continue; // evicted, hence in `dirty`
        const sig = tickSig(st);
        if (tickSeen.get(id) === sig) continue;
        tickSeen.set(id, sig);
        ids.push(id);
      }
      dirty.clear();
      ticked.clear();
      return ids;
    },
    changedCount: () => dirty.size,
    device: (id) => devices.get(id),
    clock: () => ({ max_ts: maxTs, last_tick: lastTick }),
    // The reference has no device cap (the engine's is tested on its own: test/security/device-cap.test.ts).
    capEvictions: () => 0,
    restore(snap) {
      devices.clear();
      dirty.clear();
      ticked.clear();
      tickSeen.clear();
      for (const k of Object.keys(snap.devices)) {
        const st = snap.devices[k]!;
        devices.set(k, { ...st, heard: st.heard ?? st.last_ts, dup: [...(st.dup ?? [])] });
        if (tickers.length) tickSeen.set(k, tickSig(st));
      }
      maxTs = snap.max_ts;
      lastTick = snap.last_tick;
      wm = Number.isFinite(maxTs) ? maxTs - opts.allowedLatenessMs : Number.NEGATIVE_INFINITY;
      gate.setStream(maxTs);
    },
  };
}
