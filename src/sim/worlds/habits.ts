/**
 * The world's hook on one device (SimDevice.hook): what the device actually sends of what its
 * model produced. It puts an idle device to sleep (or down to a heartbeat), thins readings, drops
 * the per-reading session of a batched device, keeps a device off the network in a connectivity
 * gap, and applies fleet changes that alter what a device looks like on the wire (a migrated
 * endpoint, a replaced NTP server, a metric added by new firmware).
 *
 * The model's own random stream is never used here, so a habit changes what is sent, not what
 * the device would have done.
 */
import type { ConnectionSpec, DeviceHook, SimDevice } from '../device.js';
import type { SimEvent } from '../types.js';
import type { IdleHabit } from './classes/index.js';
import { deviceWorld, gapAt } from './device-world.js';

/** A reading's own session follows it within this long (meters: 150–550 ms). */
const PAIR_MS = 2_000;

export interface Redirect {
  /** True time from which the device uses the new address. */
  at: number;
  from: { ip: string; port?: number };
  to: { ip: string; port?: number };
}

export interface ExtraMetric {
  at: number;
  name: string;
  value(ts: number): number;
}

export interface Habits {
  idle?: IdleHabit;
  /** Keep one reading in n, from a time on (firmware that reports less often). */
  keepEvery: Array<{ at: number; n: number }>;
  /** Readings travel in batches: their per-reading session is not sent, the batch upload is. */
  batched: boolean;
  redirects: Redirect[];
  extraMetrics: ExtraMetric[];
}

export function newHabits(): Habits {
  return { keepEvery: [], batched: false, redirects: [], extraMetrics: [] };
}

export interface HookControl {
  hook: DeviceHook;
  /** Run fn with the batched-session rule lifted (the batch upload itself). */
  asBatchUpload<T>(fn: () => T): T;
}

export function habitHook(dev: SimDevice, h: Habits): HookControl {
  const world = deviceWorld(dev);
  let asleep = false;
  let lastBeat = Number.NEGATIVE_INFINITY;
  let readings = 0;
  /** The latest reading: when, and whether its own session goes out. */
  let readingTs = Number.NEGATIVE_INFINITY;
  let readingSessionSent = true;
  let batchUpload = false;
  let waking = false;

  world.offline = (ts) => (h.idle?.mode === 'silent' && !dev.active) || gapAt(world, ts) !== undefined || dev.silenceAt(ts) !== undefined;

  const keepAt = (ts: number): number => {
    let n = 1;
    for (const k of h.keepEvery) if (ts >= k.at) n = k.n;
    return n;
  };

  function wake(ts: number, out: SimEvent[]): void {
    asleep = false;
    if (h.idle?.seqResetOnWake) dev.seq = 0;
    if (h.idle?.onWake) {
      waking = true;
      try {
        h.idle.onWake(dev, ts, out);
      } finally {
        waking = false;
      }
    }
  }

  const hook: DeviceHook = {
    telemetry(ts, metrics, out) {
      readingTs = ts;
      readingSessionSent = false;
      if (h.idle && !dev.active) {
        if (h.idle.mode === 'silent') {
          asleep = true;
          return false;
        }
        // A heartbeat: one reading per wake interval (a few minutes early is still that wake).
        if (ts - lastBeat < (h.idle.everyMs ?? 3_600_000) - 10 * 60_000) return false;
        lastBeat = ts;
      }
      if (asleep) wake(ts, out);
      const n = keepAt(ts);
      if (n > 1 && readings++ % n !== 0) return false;
      readingSessionSent = !h.batched;
      for (const x of h.extraMetrics) if (ts >= x.at) metrics[x.name] = x.value(ts);
      return true;
    },
    connection(ts, c, _out) {
      // A clone or an attacker's own host using this identity is not this device: not its habits.
      if (c.src_ip !== undefined && c.src_ip !== dev.ip) return redirect(ts, c);
      if (gapAt(world, ts)) return false;
      if (!waking && h.idle && !dev.active) {
        if (h.idle.mode === 'silent') return false;
        // In heartbeat mode only the session of the heartbeat itself goes out.
        if (!(readingSessionSent && ts >= readingTs && ts - readingTs <= PAIR_MS)) return false;
      }
      const own = c.dst_ip === dev.uplink.ip && c.dst_port === dev.uplink.port;
      if (own && !batchUpload && !readingSessionSent && ts >= readingTs && ts - readingTs <= PAIR_MS) return false;
      return redirect(ts, c);
    },
  };

  function redirect(ts: number, c: ConnectionSpec): boolean {
    for (const r of h.redirects) {
      if (ts < r.at || c.dst_ip !== r.from.ip || (r.from.port !== undefined && c.dst_port !== r.from.port)) continue;
      c.dst_ip = r.to.ip;
      if (r.to.port !== undefined) c.dst_port = r.to.port;
      break;
    }
    return true;
  }

  return {
    hook,
    asBatchUpload(fn) {
      batchUpload = true;
      try {
        return fn();
      } finally {
        batchUpload = false;
      }
    },
  };
}
