/**
 * The detector contract. A detector is pure: given its per-device state and one event it returns
 * the state to keep and the findings raised. It never does I/O, never reads the clock, and never
 * keeps references outside the state it is handed, so the same events always give the same
 * findings (replays, backtests and crash recovery depend on this).
 *
 * For speed a detector may update the state object it is handed in place and return it; the
 * runner owns the object and never shares it between devices. State must be plain JSON data
 * (objects, arrays, numbers, strings, booleans, null) because it is checkpointed as JSON, with
 * one exception for hot numeric state: arrays of numbers may hold NaN for "no value yet" (JSON
 * writes it as null), provided the detector's revive() turns it back.
 */
import type { M2MEvent } from '../events/types.js';

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** eventTypes of a detector that only ever applies to connection events. */
export const CONNECTION_ONLY: readonly M2MEvent['type'][] = Object.freeze(['connection'] as const);
/** eventTypes of a detector that only ever applies to telemetry events. */
export const TELEMETRY_ONLY: readonly M2MEvent['type'][] = Object.freeze(['telemetry'] as const);

export type DetectorFamily = 'telemetry' | 'connection' | 'policy';

/** A finding as detectors produce it; the engine stamps pipeline, id and version. */
export interface FindingDraft {
  detector: string;
  /**
   * What inside the device this is about (a metric name, a peer, a port...). Together with the
   * detector and device it identifies an incident: repeats of the same key extend one finding.
   */
  key: string;
  device_id: string;
  device_class: string;
  /** Event time (ms) at which the incident was first raised. */
  first_ts: number;
  /** Event time (ms) of the latest event that extended it. */
  last_ts: number;
  /** Number of anomalous events folded into this finding. */
  count: number;
  /** Calibrated 0..1; see score.ts. For an extended incident this is the peak. */
  score: number;
  severity: Severity;
  /** Observed value, human-readable where it is not a number (e.g. "42 distinct ports"). */
  observed: number | string;
  /** Expected baseline, e.g. "229.9 ± 1.2 (median ± 1.4826·MAD)". */
  expected: number | string;
  /** One sentence a SOC analyst can act on. */
  explanation: string;
  evidence: Record<string, unknown>;
  /** MITRE ATT&CK technique ids (Enterprise T…, ICS T08…). */
  mitre: string[];
}

export interface Finding extends FindingDraft {
  finding_id: string;
  pipeline: string;
  /** Monotonic per finding_id; the newest version wins in ClickHouse (ReplacingMergeTree). */
  version: number;
}

export interface StepResult<S> {
  state: S;
  findings: FindingDraft[];
}

/**
 * One step result reused by a detector instance for every event: the engine reads a result's
 * state and findings at once and never keeps the object, so the quiet path allocates none. (The
 * findings array itself must be a fresh one whenever it is not empty.)
 */
export function reusedResult<S>(): (state: S, findings: FindingDraft[]) => StepResult<S> {
  const r: StepResult<S> = { state: undefined as unknown as S, findings: [] };
  return (state, findings) => {
    r.state = state;
    r.findings = findings;
    return r;
  };
}

/** What the engine tells a detector about time beyond the event itself. */
export interface StepContext {
  /**
   * Event-time watermark (ms) in the device's own clock frame: the stream's watermark (stream time
   * minus allowed lateness) shifted by how far behind the stream the device's latest event
   * arrived, so a device whose clock is off, or that uploads a backlog, is compared with its own
   * timestamps (pipeline/engine.ts, "Time").
   */
  watermark: number;
  /**
   * In step only: stream time since the device's previous event arrived (NaN for its first). A
   * device that uploads in batches or stores and forwards is heard from far less often than it
   * reports, and only this shows it (its own timestamps are evenly spaced).
   */
  sinceHeard: number;
  /**
   * Side output for the fleet view (src/fleet): what a device did that its fleet may share.
   * Detectors push here; the engine's caller takes them (Engine.takeFacts) with the findings.
   */
  facts: FleetFact[];
}

/**
 * A fact about one device for the fleet view, which judges device findings against the rest of
 * the class (how many devices use a destination, how many changed the same way at once).
 * - `seen`: the device was active (at its first event and on each new day);
 * - `peer`: the device used a destination (when first used, and again each day it is used).
 */
export type FleetFact =
  | { k: 'seen'; d: string; c: string; ts: number }
  | { k: 'peer'; d: string; c: string; ts: number; ip: string; port: number };

/**
 * How the fleet view treats a detector's findings.
 * - `change`: may be a fleet change (a migration, a rollout, an outage): the finding waits for
 *   fleet context and folds into one fleet finding when enough devices of the class show the
 *   same change at once, or is judged by how common its destination is in the class;
 * - `attack`: never folds, and marks its device so that a change it takes part in never folds
 *   either (a worm also reaches many devices at once).
 * Detectors without a role pass through the fleet view untouched.
 */
export interface FleetRole {
  role: 'change' | 'attack';
  /**
   * What changed, comparable across devices of a class: the same signature on many devices at
   * once is one fleet change. Undefined: this finding cannot be part of one.
   */
  signature?(f: FindingDraft): string | undefined;
  /** The destination a finding is about, when its judgement depends on how common that is. */
  peer?(f: FindingDraft): { ip: string; port: number } | undefined;
}

export interface DetectorInstance<S = unknown> {
  /** The instance id (the spec name unless a pipeline names two of one kind). */
  readonly id: string;
  readonly spec: DetectorSpec<any>;
  /** Cheap filter so the engine skips detectors that cannot use an event. */
  applies(event: M2MEvent): boolean;
  /**
   * Optional: the only event types applies() can accept. The engine then dispatches events of
   * other types past this detector without calling it at all (applies() still decides within
   * these types). Omitted: every event is offered to applies().
   */
  readonly eventTypes?: readonly M2MEvent['type'][];
  /** Fresh per-device state. */
  init(event: M2MEvent): S;
  step(state: S, event: M2MEvent, ctx: StepContext): StepResult<S>;
  /**
   * Called as the watermark advances, for detectors that report the absence of events
   * (silence). Returns findings for this device given that no event arrived up to `watermark`.
   */
  tick?(state: S, deviceId: string, deviceClass: string, ctx: StepContext): StepResult<S>;
  /**
   * Optional, for detectors with tick(): the watermark before which tick() cannot raise or change
   * anything for this state, i.e. tick(state, …, { watermark: w }) with w < nextTick(state)
   * returns the state unchanged and no findings. The engine asks again after every step() and
   * tick() of the device, and ticks a device only once the watermark reaches it, instead of
   * every device at every tick. A lower bound is always safe (ticking early is a no-op);
   * +Infinity means "not until the next event"; NaN or -Infinity means "every tick", as does
   * leaving nextTick out.
   */
  nextTick?(state: S): number;
  /**
   * Optional: the live form of a state read back from a checkpoint (JSON), called once per device
   * on restore. Flat numeric state (arrays of doubles, which V8 stores unboxed, so updating them
   * allocates nothing) writes NaN as null; revive puts NaN back and rebuilds the arrays as packed
   * doubles. Undefined for a state it does not recognise (an older layout): the device then starts
   * afresh for this detector instead of computing on the wrong shape. Omitted: state is used as read.
   */
  revive?(state: unknown): S | undefined;
  /** Upper bound on the JSON size of one device's state, for the docs and the property tests. */
  readonly maxStateBytes?: number;
}

/** JSON-Schema fragment describing one parameter (drives validation, the schema and the docs). */
export interface ParamSpec {
  type: 'number' | 'integer' | 'string' | 'boolean' | 'duration' | 'array' | 'object';
  description: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  enum?: readonly string[];
  /** For arrays: the element spec. For objects: free-form schema (JSON Schema). */
  items?: ParamSpec | Record<string, unknown>;
  schema?: Record<string, unknown>;
  examples?: unknown[];
}

/**
 * A detector component declares itself: name, family, documentation, parameter spec and factory.
 * The registry of these drives pipeline validation, the JSON Schema, docs and CLI help.
 */
export interface DetectorSpec<P extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  family: DetectorFamily;
  /** One paragraph: what it catches. */
  summary: string;
  params: Record<keyof P & string, ParamSpec>;
  /** An example explanation as an analyst would see it (docs). */
  example: string;
  mitre: string[];
  /** How the fleet view treats this detector's findings (see FleetRole); absent: not at all. */
  fleet?: FleetRole;
  /** Params arrive validated and with defaults applied; durations already in milliseconds. */
  create(params: P, id: string): DetectorInstance<any>;
  /**
   * Optional: rules between parameters that a JSON Schema cannot state (a range's min above its
   * max), checked by `validate` on the params as written. Each problem names its path inside the
   * params, so the error points at the line; a rule left unchecked would silently never fire.
   */
  check?(params: Record<string, unknown>): Array<{ path: Array<string | number>; message: string }>;
}
