/**
 * Decode + detect + state encoding for the partitions an instance owns, as plain functions over
 * a table of engines (one per partition). The runner reaches them through a DetectionHost: in its
 * own thread, or in worker threads (detect-worker.ts) so that detection runs on another core
 * beside kafkajs, routing and the Kafka transactions. Both run exactly this code, so findings
 * and state are the same either way.
 */
import type { PipelineConfig } from '../config/types.js';
import type { Finding } from '../detectors/types.js';
import { decodeEvent, type DecodeError, type DecodeOptions } from '../events/decode.js';
import { encodeDevice } from '../state/changelog.js';
import { buildDetectors } from './build.js';
import { createEngine, type Engine, type EngineSnapshot } from './engine.js';

/** What the runner keeps of an engine between calls (it decides checkpoints from these). */
export interface EngineStats {
  /** Devices stepped, created or evicted since the last checkpoint. */
  changed: number;
  devices: number;
  watermark: number;
}

/**
 * The outcome of a batch, message by message, for messages that raised something: `findings[i]`
 * and `errors[i]` are undefined for a message decoded and scored without a finding.
 */
export interface BatchOutcome {
  decoded: number;
  /** Indices (ascending) of the messages listed in `findings` or `errors`. */
  at: number[];
  findings: (Finding[] | undefined)[];
  errors: (DecodeError | undefined)[];
  stats: EngineStats;
}

/** A checkpoint's changed devices, encoded (null: evicted, a tombstone), and the engine clock. */
export interface StateDelta {
  ids: string[];
  values: (Buffer | null)[];
  clock: { max_ts: number; last_tick: number };
  stats: EngineStats;
}

/** A checkpoint's changed devices, taken (the engine's dirty set is cleared), to be encoded one by one. */
export interface TakenState {
  ids: string[];
  /** Device i's changelog value (null: evicted). Valid until the partition's next batch. */
  encode(i: number): Buffer | null;
  clock: StateDelta['clock'];
  stats: EngineStats;
}

export interface Detection {
  open(key: string, snapshot: EngineSnapshot | null): EngineStats;
  /** Decode and score message values in order (a null value, a tombstone, is bad input like any other). */
  process(key: string, values: readonly (Buffer | null)[]): BatchOutcome;
  takeState(key: string): StateDelta;
  /** takeState in steps: a worker encodes a large checkpoint in slices, answering other partitions' batches in between. */
  take(key: string): TakenState;
  drop(key: string): void;
}

const EMPTY = Buffer.alloc(0);

export function createDetection(cfg: PipelineConfig): Detection {
  const engines = new Map<string, Engine>();
  const decodeOpts: DecodeOptions = cfg.mapping ? { mapping: cfg.mapping } : {};
  const engineOf = (key: string): Engine => {
    const e = engines.get(key);
    // The runner opens a partition before its first batch; a worker restarted after a crash has
    // lost its engines, and this error makes the runner restore the partition from its changelog.
    if (e === undefined) throw new Error(`no detection state for partition ${key} (worker restarted?)`);
    return e;
  };
  const stats = (e: Engine): EngineStats => ({ changed: e.changedCount(), devices: e.deviceCount(), watermark: e.watermark() });
  const take = (key: string): TakenState => {
    const engine = engineOf(key);
    const ids = engine.takeDirty();
    return {
      ids,
      encode(i) {
        const st = engine.device(ids[i]!);
        return st === undefined ? null : encodeDevice(st);
      },
      clock: engine.clock(),
      stats: stats(engine),
    };
  };
  return {
    open(key, snapshot) {
      const engine = createEngine({ pipeline: cfg.name, detectors: buildDetectors(cfg), allowedLatenessMs: cfg.allowed_lateness_ms, idleEvictionMs: cfg.entities.idle_eviction_ms });
      if (snapshot) engine.restore(snapshot);
      engines.set(key, engine);
      return stats(engine);
    },
    process(key, values) {
      const engine = engineOf(key);
      const out: BatchOutcome = { decoded: 0, at: [], findings: [], errors: [], stats: undefined as unknown as EngineStats };
      for (let i = 0; i < values.length; i++) {
        const r = decodeEvent(values[i] ?? EMPTY, decodeOpts);
        if (!r.ok) {
          out.at.push(i);
          out.findings.push(undefined);
          out.errors.push(r.error);
          continue;
        }
        out.decoded++;
        const fs = engine.process(r.event);
        if (fs.length) {
          out.at.push(i);
          out.findings.push(fs);
          out.errors.push(undefined);
        }
      }
      out.stats = stats(engine);
      return out;
    },
    takeState(key) {
      const t = take(key);
      return { ids: t.ids, values: t.ids.map((_id, i) => t.encode(i)), clock: t.clock, stats: t.stats };
    },
    take,
    drop(key) {
      engines.delete(key);
    },
  };
}
