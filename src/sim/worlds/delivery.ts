/**
 * From what devices did to what a broker delivers. The generator works in true time; a real
 * feed is in arrival order: a device stamps `ts` with its own clock (off by minutes or an hour),
 * a battery sensor's samples wait for its next wake, a meter's readings wait for the batch
 * upload, readings taken during a connectivity gap arrive in a burst when it ends (with their
 * original timestamps), and MQTT QoS 1 delivers some messages twice. Each event becomes one or
 * two wire lines with an arrival time; lines leave in arrival order.
 *
 * Memory stays bounded: a line waits here only until its arrival time has been generated past.
 */
import type { SimDevice } from '../device.js';
import { Rng } from '../prng.js';
import type { SimEvent } from '../types.js';
import { eventLine } from '../write.js';
import { deviceWorld, gapAt } from './device-world.js';

interface Pending {
  arrival: number;
  serial: number;
  line: string;
}

export interface DeliveryStats {
  lines: number;
  duplicates: number;
  /** Lines that arrive more than a minute after their own (true) event time. */
  late: number;
  /** Lines stamped more than a minute away from true time. */
  skewed: number;
}

export interface DeliveryOptions {
  seed: number;
  /** Range of the delay of a duplicate after the original, ms. */
  dupDelayMs: readonly [number, number];
}

interface DeviceState {
  rng: Rng;
  lastTelemetry: number;
  lastConnection: number;
}

export class Delivery {
  private pending: Pending[] = [];
  private serial = 0;
  private state = new Map<SimDevice, DeviceState>();
  readonly stats: DeliveryStats = { lines: 0, duplicates: 0, late: 0, skewed: 0 };

  constructor(private readonly opts: DeliveryOptions) {}

  private of(dev: SimDevice): DeviceState {
    let s = this.state.get(dev);
    if (!s) this.state.set(dev, (s = { rng: Rng.derive(this.opts.seed, `delivery:${dev.id}`), lastTelemetry: Number.NEGATIVE_INFINITY, lastConnection: Number.NEGATIVE_INFINITY }));
    return s;
  }

  /** When a device's telemetry event leaves it (true time), before network latency. */
  static releaseTime(dev: SimDevice, e: SimEvent): number {
    const w = deviceWorld(dev);
    let t = e.ts;
    if (e.type === 'telemetry') {
      if (w.batch) {
        const k = Math.ceil((t - w.batch.first) / w.batch.everyMs);
        t = w.batch.first + Math.max(0, k) * w.batch.everyMs;
      }
      // Buffered through a gap: goes up when the link is back (readings stamped inside it, and
      // a batch that falls due inside it).
      const g = gapAt(w, t) ?? gapAt(w, e.ts);
      if (g) t = Math.max(t, g.end);
    }
    return t;
  }

  accept(e: SimEvent, dev: SimDevice): void {
    const w = deviceWorld(dev);
    const s = this.of(dev);
    const line = eventLine(w.skewMs === 0 ? e : { ...e, ts: e.ts + w.skewMs });
    let arrival = Delivery.releaseTime(dev, e) + Math.round(w.latencyMs * s.rng.uniform(0.5, 1.5));
    // One session per device: its messages keep their order.
    if (e.type === 'telemetry') {
      arrival = Math.max(arrival, s.lastTelemetry + 1);
      s.lastTelemetry = arrival;
    } else {
      arrival = Math.max(arrival, s.lastConnection + 1);
      s.lastConnection = arrival;
    }
    this.push(arrival, line, e.ts, w.skewMs);
    if (e.type === 'telemetry' && w.dupRate > 0 && s.rng.chance(w.dupRate)) {
      this.push(arrival + Math.round(s.rng.uniform(this.opts.dupDelayMs[0], this.opts.dupDelayMs[1])), line, e.ts, w.skewMs);
      this.stats.duplicates++;
    }
  }

  private push(arrival: number, line: string, ts: number, skew: number): void {
    this.pending.push({ arrival, serial: this.serial++, line });
    this.stats.lines++;
    if (arrival - ts > 60_000) this.stats.late++;
    if (Math.abs(skew) > 60_000) this.stats.skewed++;
  }

  /** Lines arriving before `until` (all of them when undefined), in arrival order. */
  flush(until?: number): string[] {
    this.pending.sort((a, b) => a.arrival - b.arrival || a.serial - b.serial);
    let cut = this.pending.length;
    if (until !== undefined) {
      cut = 0;
      while (cut < this.pending.length && this.pending[cut]!.arrival < until) cut++;
    }
    const out = this.pending.slice(0, cut).map((p) => p.line);
    this.pending = this.pending.slice(cut);
    return out;
  }
}
