/**
 * Decode + detect + state encoding for the partitions an instance owns, as plain functions over
 * a table of engines (one per partition). The runner reaches them through a DetectionHost: in its
 * own thread, or in worker threads (detect-worker.ts) so that detection runs on another core
 * beside kafkajs, routing and the Kafka transactions. Both run exactly this code, so findings
 * and state are the same either way.
 */
import type { PipelineConfig } from '../config/types.js';
import type { FleetFact, Finding } from '../detectors/types.js';
import { decodeEvent, type DecodeError, type DecodeOptions } from '../events/decode.js';
import { encodeDevice } from '../state/changelog.js';
import { buildDetectors, engineOptions } from './build.js';
import { createEngine, type Engine, type EngineSnapshot } from './engine.js';

/** What the runner keeps of an engine between calls (it decides checkpoints from these). */
export interface EngineStats {
  /** Devices stepped, created or evicted since the last checkpoint. */
  changed: number;
  devices: number;
  watermark: number;
  /** Devices evicted by the device cap since the engine was opened. */
  capEvicted?: number;
}

/**
 * The outcome of a batch, message by message, for messages that raised something: `findings[i]`
 * and `errors[i]` are undefined for a message decoded and scored without a finding. An error is
 * a dead letter: undecodable, or rejected by the engine (dated too far ahead: future_timestamp).
 */
export interface BatchOutcome {
  /** Messages decoded and accepted (duplicates included); the others are the errors. */
  decoded: number;
  /** Of those, exact repeats of a device's recent messages, dropped before the detectors. */
  duplicates: number;
  /** Indices (ascending) of the messages listed in `findings` or `errors`. */
  at: number[];
  findings: (Finding[] | undefined)[];
  errors: (DecodeError | undefined)[];
  /**
   * Where the watermark crossed into a new minute of event time: after message `clockAt[i]` it
   * was `clockWm[i]`. The alert router closes quiet alerts at these points, so where a close
   * falls (which message's offset it belongs to) does not depend on where batches end.
   */
  clockAt: number[];
  clockWm: number[];
  /**
   * For the fleet view (pipelines with `fleet.enabled`): the watermark after each message listed
   * in `at` (the tag its findings are forwarded with), and the fleet facts messages raised:
   * message `factsAt[i]` raised `facts[i]`, with the watermark `factsWm[i]` after it.
   */
  wm?: number[];
  factsAt?: number[];
  factsWm?: number[];
  facts?: FleetFact[][];
  stats: EngineStats;
}

/** A checkpoint's changed devices, encoded (null: evicted, a tombstone), and the engine clock. */
export interface StateDelta {
  ids: string[];
  values: (Buffer | null)[];
  clock: { max_ts: number; last_tick: number };
  stats: EngineStats;
}

/**
 * A checkpoint being taken. Its point is the call: the engine's dirty set is taken (and cleared)
 * and the clock read then, and every device is encoded as it was at that point, either by step()
 * or, when an event or a tick is about to change it first, just before that. So the partition's
 * next batches need not wait for the encoding (~20 µs a device, 12,500 devices a partition in
 * the bench), which is what made a checkpoint stall its partition and kafkajs' fetch round.
 */
export interface TakenState {
  ids: string[];
  /** Device i's changelog value (null: evicted); complete once step() has returned true. */
  values: (Buffer | null)[];
  clock: StateDelta['clock'];
  stats: EngineStats;
  /** Encode up to `n` more devices; true once every device is. Throws if the partition was dropped meanwhile. */
  step(n: number): boolean;
}

/** Finish a take in slices of `slice` devices, awaiting `pause()` between them (the caller's other work goes on). */
export async function encodeTaken(t: TakenState, slice: number, pause: () => Promise<void>): Promise<StateDelta> {
  while (!t.step(slice)) await pause();
  return { ids: t.ids, values: t.values, clock: t.clock, stats: t.stats };
}

export interface Detection {
  open(key: string, snapshot: EngineSnapshot | null): EngineStats;
  /** Decode and score message values in order (a null value, a tombstone, is bad input like any other). */
  process(key: string, values: readonly (Buffer | null)[]): BatchOutcome;
  /**
   * The devices changed since the last take, encoded in steps while the partition goes on (see
   * TakenState). A take started while the previous one of the partition is still encoding
   * finishes that one first.
   */
  take(key: string): TakenState;
  drop(key: string): void;
}

const EMPTY = Buffer.alloc(0);
/** Resolution of the clock points in a batch outcome (alert auto-close needs no finer). */
const CLOCK_STEP_MS = 60_000;

export function createDetection(cfg: PipelineConfig): Detection {
  const engines = new Map<string, Engine>();
  const fleet = cfg.fleet.enabled;
  const decodeOpts: DecodeOptions = cfg.mapping ? { mapping: cfg.mapping } : {};
  const engineOf = (key: string): Engine => {
    const e = engines.get(key);
    // The runner opens a partition before its first batch; a worker restarted after a crash has
    // lost its engines, and this error makes the runner restore the partition from its changelog.
    if (e === undefined) throw new Error(`no detection state for partition ${key} (worker restarted?)`);
    return e;
  };
  const stats = (e: Engine): EngineStats => ({ changed: e.changedCount(), devices: e.deviceCount(), watermark: e.watermark(), capEvicted: e.capEvictions() });
  /** Takes whose devices are not all encoded yet, by partition. */
  const taking = new Map<string, { t: TakenState; cancel(): void }>();
  const take = (key: string): TakenState => {
    const engine = engineOf(key);
    taking.get(key)?.t.step(Number.POSITIVE_INFINITY);
    const ids = engine.takeDirty();
    const values: (Buffer | null)[] = new Array(ids.length).fill(null);
    /** Devices not encoded yet → their index. */
    const todo = new Map<string, number>();
    for (let i = 0; i < ids.length; i++) todo.set(ids[i]!, i);
    const encode = (id: string): void => {
      const i = todo.get(id);
      if (i === undefined) return;
      todo.delete(id);
      const st = engine.device(id);
      values[i] = st === undefined ? null : encodeDevice(st);
    };
    let cursor = 0;
    let cancelled = false;
    const t: TakenState = {
      ids,
      values,
      clock: engine.clock(),
      stats: stats(engine),
      step(n) {
        if (cancelled) throw new Error(`partition ${key} was dropped while its checkpoint was encoded`);
        for (let done = 0; cursor < ids.length && done < n; cursor++) {
          if (todo.has(ids[cursor]!)) {
            encode(ids[cursor]!);
            done++;
          }
        }
        if (cursor < ids.length) return false;
        if (taking.get(key)?.t === t) {
          taking.delete(key);
          engine.watch(undefined);
        }
        return true;
      },
    };
    if (ids.length) {
      engine.watch(encode);
      taking.set(key, {
        t,
        cancel: () => {
          cancelled = true;
          engine.watch(undefined);
        },
      });
    }
    return t;
  };
  const forget = (key: string): void => {
    taking.get(key)?.cancel();
    taking.delete(key);
    engines.delete(key);
  };
  return {
    open(key, snapshot) {
      forget(key);
      // The service caps a partition's devices (backtests run uncapped: engineOptions has no cap).
      const engine = createEngine({
        ...engineOptions(cfg, buildDetectors(cfg)),
        ...(cfg.entities.max_devices_per_partition !== undefined ? { maxDevices: cfg.entities.max_devices_per_partition } : {}),
        scope: key.replace(/#\d+$/, ''),
      });
      if (snapshot) engine.restore(snapshot);
      engines.set(key, engine);
      return stats(engine);
    },
    process(key, values) {
      const engine = engineOf(key);
      const out: BatchOutcome = { decoded: 0, duplicates: 0, at: [], findings: [], errors: [], clockAt: [], clockWm: [], stats: undefined as unknown as EngineStats };
      const wm: number[] | undefined = fleet ? (out.wm = []) : undefined;
      const factsAt: number[] | undefined = fleet ? (out.factsAt = []) : undefined;
      const factsWm: number[] | undefined = fleet ? (out.factsWm = []) : undefined;
      const facts: FleetFact[][] | undefined = fleet ? (out.facts = []) : undefined;
      let minute = Math.floor(engine.watermark() / CLOCK_STEP_MS);
      // The service has a wall clock: an event far ahead of it is judged even before the
      // partition has a stream time of its own. Read once a batch (batches take milliseconds).
      engine.setWallClock(Date.now());
      for (let i = 0; i < values.length; i++) {
        const r = decodeEvent(values[i] ?? EMPTY, decodeOpts);
        if (!r.ok) {
          out.at.push(i);
          out.findings.push(undefined);
          out.errors.push(r.error);
          wm?.push(engine.watermark());
          continue;
        }
        const fs = engine.process(r.event);
        const o = engine.lastOutcome();
        if (o !== 'scored') {
          if (o === 'duplicate') {
            out.decoded++;
            out.duplicates++;
          } else {
            out.at.push(i);
            out.findings.push(undefined);
            out.errors.push(engine.futureError(r.event));
            wm?.push(engine.watermark());
          }
          continue;
        }
        out.decoded++;
        const w = engine.watermark();
        if (fs.length) {
          out.at.push(i);
          out.findings.push(fs);
          out.errors.push(undefined);
          wm?.push(w);
        }
        // Taken whether or not a fleet stage reads them: the engine keeps them until taken.
        const fx = engine.takeFacts();
        if (fx.length && facts) {
          factsAt!.push(i);
          factsWm!.push(w);
          facts.push(fx);
        }
        if (w >= (minute + 1) * CLOCK_STEP_MS) {
          minute = Math.floor(w / CLOCK_STEP_MS);
          out.clockAt.push(i);
          out.clockWm.push(w);
        }
      }
      out.stats = stats(engine);
      return out;
    },
    take,
    drop: forget,
  };
}
