/**
 * The most devices one engine (one partition) keeps. Past the cap, the least recently heard are
 * evicted to make room, and a `device_cap` finding says so: invented ids are an attack on memory
 * and an anomaly in themselves. Off the per-event path: it runs only when a new device arrives at
 * the cap.
 */
import type { FindingDraft } from '../detectors/types.js';

/** One device_cap incident per hour of event time. */
const CAP_WINDOW_MS = 3_600_000;

export class DeviceCap {
  readonly max: number;
  /** Evicted per round: 1% of the cap, so the scan of victims costs O(100) per new device amortized. */
  private readonly round: number;
  /** Devices evicted to stay under the cap since the engine was created. */
  evicted = 0;
  /** The open incident: its hour and how many were evicted in it. */
  private window = Number.NEGATIVE_INFINITY;
  private count = 0;

  /** `max` undefined: no cap (backtests). `scope` names what the engine runs for (e.g. "topic:partition"). */
  constructor(
    max: number | undefined,
    private readonly scope: string | undefined,
  ) {
    this.max = max ?? Number.POSITIVE_INFINITY;
    this.round = Math.max(1, Math.ceil(Math.min(this.max, 1e9) / 100));
  }

  /**
   * The slots to evict to make room for one device: the `round` least recently heard (lowest
   * stream time at their latest arrival, as idle eviction judges them: a device whose clock is
   * behind is not evicted first for it, nor does one ahead protect itself; ties in creation
   * order, the order of `devices`, so a replay evicts the same ones). Timed by stream time, not
   * by the new id's own claim.
   */
  victims(devices: ReadonlyMap<string, number>, heard: Float64Array): number[] {
    const last = new Float64Array(devices.size);
    let i = 0;
    for (const slot of devices.values()) last[i++] = heard[slot]!;
    last.sort();
    const threshold = last[Math.min(this.round, last.length) - 1]!;
    let below = 0;
    for (let j = 0; j < last.length && last[j]! < threshold; j++) below++;
    let tiesLeft = this.round - below;
    const out: number[] = [];
    for (const slot of devices.values()) {
      const t = heard[slot]!;
      if (t < threshold || (t === threshold && tiesLeft-- > 0)) out.push(slot);
    }
    return out;
  }

  /**
   * Count `n` devices evicted at stream time `ts`. The incident's finding is raised in the first
   * round of its hour, then updated whenever the hour's count passes a power of two.
   */
  evictedAt(n: number, ts: number): FindingDraft | undefined {
    this.evicted += n;
    const window = Math.floor(ts / CAP_WINDOW_MS) * CAP_WINDOW_MS;
    if (window !== this.window) {
      this.window = window;
      this.count = 0;
    }
    const before = this.count;
    this.count += n;
    if (!(before === 0 || Math.floor(Math.log2(this.count)) > Math.floor(Math.log2(before)))) return undefined;
    const { max, count, scope } = this;
    return {
      detector: 'device_cap',
      key: scope ?? 'partition',
      device_id: '*',
      device_class: 'fleet',
      first_ts: window,
      last_ts: ts,
      count,
      score: 0.75,
      severity: 'high',
      observed: `${max} devices held, ${count} evicted to admit new ids`,
      expected: `at most ${max} devices on ${scope ?? 'this partition'}`,
      explanation: `The device cap of ${max} per partition was reached on ${scope ?? 'a partition'}: ${count} least recently seen devices were evicted since ${new Date(window).toISOString()} (event time) to admit new device ids. A burst of new ids is a flood of invented or spoofed devices, or a fleet that outgrew entities.max_devices_per_partition; evicted devices start learning afresh.`,
      evidence: { cap: max, evicted_this_hour: count, evicted_total: this.evicted, scope: scope ?? null },
      mitre: ['T1498', 'T0814'],
    };
  }
}
