/** Decode-only and detector-only throughput on one core, without Kafka or ClickHouse. */
import { serialize } from 'node:v8';
import { decodeEvent } from '../../src/events/decode.js';
import type { M2MEvent } from '../../src/events/types.js';
import { FleetGen, type GenOptions } from '../../src/sim/bench-fleet.js';
import type { WorkerSpec } from '../protocol.js';
import { rssSampler } from '../samplers.js';

const hr = () => Number(process.hrtime.bigint()) / 1e9;

export async function detectWorker(spec: Extract<WorkerSpec, { role: 'detect' }>): Promise<Record<string, unknown>> {
  const rss = rssSampler();
  const { createEngine } = await import('../../src/pipeline/engine.js');
  const { buildDetectors, engineOptions } = await import('../../src/pipeline/build.js');
  // The checkpoint format is the state owner's; the engine snapshot as JSON is what any of them stores.
  const stateJson = (e: { snapshot(): unknown }) => JSON.stringify(e.snapshot(), (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
  const { DETECTORS } = await import('../../src/detectors/registry.js');
  const { withDefaults } = await import('../../src/detectors/params.js');
  const gc = (globalThis as { gc?: () => void }).gc;
  const fullGc = () => {
    gc?.();
    gc?.();
  };
  const cfg = spec.cfg;
  const engineFor = (dets: ReturnType<typeof buildDetectors>) => createEngine(engineOptions(cfg, dets));

  /**
   * Serialising one device's state: JSON (the first checkpoint format, still read) against V8's
   * structured-clone serializer (what hands a restored snapshot to a worker), on the same states.
   * A function of its own so that no temporary of it (the snapshot holds the live states)
   * outlives it in the caller's frame.
   */
  function serializeCost(engine: ReturnType<typeof engineFor>) {
    const states = Object.values((engine.snapshot() as { devices: Record<string, unknown> }).devices);
    let t0 = hr();
    let jsonBytes = 0;
    for (const st of states) jsonBytes += Buffer.byteLength(JSON.stringify(st));
    const jsonS = hr() - t0;
    t0 = hr();
    let v8Bytes = 0;
    for (const st of states) v8Bytes += serialize(st).length;
    const v8S = hr() - t0;
    const perDev = (x: number) => Math.round((x / Math.max(states.length, 1)) * 1e6 * 100) / 100;
    return {
      jsonUsPerDevice: perDev(jsonS),
      jsonBytesPerDevice: Math.round(jsonBytes / Math.max(states.length, 1)),
      v8UsPerDevice: perDev(v8S),
      v8BytesPerDevice: Math.round(v8Bytes / Math.max(states.length, 1)),
    };
  }

  /** Generate in chunks (bounded memory), time decode and detect separately. */
  function run(g: GenOptions) {
    const gen = new FleetGen(g);
    let engine: ReturnType<typeof engineFor> | undefined = engineFor(buildDetectors(cfg));
    let decodeS = 0;
    let detectS = 0;
    let n = 0;
    let bytes = 0;
    let bad = 0;
    let findings = 0;
    for (;;) {
      const raws = gen.take(200_000);
      if (!raws.length) break;
      const bufs = raws.map((s) => Buffer.from(s));
      // The generator's garbage is not the detectors' cost: collect it outside the timed part.
      gc?.();
      const evs: M2MEvent[] = [];
      let t = hr();
      for (const b of bufs) {
        bytes += b.length;
        const r = decodeEvent(b);
        if (r.ok) evs.push(r.event);
        else bad++;
      }
      decodeS += hr() - t;
      t = hr();
      for (const ev of evs) findings += engine.process(ev).length;
      detectS += hr() - t;
      n += bufs.length;
    }
    const devices = engine.deviceCount();
    const stateBytes = Buffer.byteLength(stateJson(engine));
    const serializeFigures = serializeCost(engine);
    // The heap the engine holds: used heap with it minus without it, each after full collections
    // (twice: one can leave garbage half collected). A delta from before the run also counted
    // whatever the run's start had not yet freed, and read negative for 2,000 mature devices.
    fullGc();
    const withEngine = process.memoryUsage().heapUsed;
    engine = undefined;
    fullGc();
    const heldByEngine = withEngine - process.memoryUsage().heapUsed;
    return {
      result: {
        events: n,
        devices,
        bad,
        findings,
        avgEventBytes: Math.round(bytes / Math.max(n, 1)),
        decodeSeconds: decodeS,
        decodeEventsPerSec: Math.round(n / decodeS),
        detectSeconds: detectS,
        detectEventsPerSec: Math.round((n - bad) / detectS),
        decodeAndDetectEventsPerSec: Math.round(n / (decodeS + detectS)),
        stateBytesPerDevice: Math.round(stateBytes / Math.max(devices, 1)),
        heapBytesPerDevice: gc ? Math.round(heldByEngine / Math.max(devices, 1)) : null,
        eventTimeSpanHours: Math.round(((g.events / g.devices) * g.intervalMs) / 36e5 * 10) / 10,
        serialize: serializeFigures,
      },
    };
  }

  const fleet = run(spec.gen);
  const mature = run(spec.mature);
  const sample: M2MEvent[] = [];
  for (const raw of new FleetGen({ ...spec.gen, events: spec.breakdownEvents }).take(spec.breakdownEvents)) {
    const r = decodeEvent(raw);
    if (r.ok) sample.push(r.event);
  }

  // Per-detector cost on the first events of the fleet, each detector alone with its defaults,
  // against the engine with no detector at all (device map, time, ticks).
  const breakdown: Array<{ detector: string; eventsPerSec: number; usPerEvent: number; stateBytesPerDevice: number }> = [];
  const timeAlone = (name: string, make: () => ReturnType<typeof buildDetectors>) => {
    // Best of three fresh engines: the machine is shared, the minimum is the detector's cost.
    let s = Infinity;
    let engine = engineFor(make());
    for (let rep = 0; rep < 3; rep++) {
      engine = engineFor(make());
      gc?.();
      const t = hr();
      for (const ev of sample) engine.process(ev);
      s = Math.min(s, hr() - t);
    }
    const bytes = Buffer.byteLength(stateJson(engine));
    breakdown.push({ detector: name, eventsPerSec: Math.round(sample.length / s), usPerEvent: Math.round((s / sample.length) * 1e6 * 100) / 100, stateBytesPerDevice: Math.round(bytes / Math.max(engine.deviceCount(), 1)) });
  };
  timeAlone('(engine only)', () => []);
  for (const spec_ of DETECTORS) timeAlone(spec_.name, () => [spec_.create(withDefaults(spec_), spec_.name)]);
  timeAlone('(pipeline detectors)', () => buildDetectors(cfg));
  rss.stop();
  return { fleet: fleet.result, mature: mature.result, breakdown, breakdownEvents: sample.length, detectors: cfg.detectors.map((d) => d.id), peakRss: rss.peak() };
}
