/**
 * What a world knows about one device beyond its model: how its messages travel (clock skew,
 * batches, connectivity gaps with store-and-forward, duplicates). Kept beside the SimDevice, not
 * in it, so the plain simulator stays unaware of worlds.
 */
import type { SimDevice } from '../device.js';

export interface Gap {
  start: number;
  end: number;
}

export interface DeviceWorld {
  /** Device clock minus true time, ms (a device stamps ts = true + skew). */
  skewMs: number;
  /** Readings travel in batches released at first + k·everyMs (true time). */
  batch?: { first: number; everyMs: number };
  /** Connectivity gaps: readings are buffered and uploaded at the end; sessions cannot happen. */
  gaps: Gap[];
  /** Share of telemetry messages delivered twice (MQTT QoS 1, CoAP confirmable retransmission). */
  dupRate: number;
  /** Typical network latency of this device's messages, ms. */
  latencyMs: number;
  /** Whether the device is off the network right now (asleep, rebooting, in a gap); set by its habits. */
  offline?(ts: number): boolean;
}

const WORLD = new WeakMap<SimDevice, DeviceWorld>();

export function deviceWorld(dev: SimDevice): DeviceWorld {
  let w = WORLD.get(dev);
  if (!w) WORLD.set(dev, (w = { skewMs: 0, gaps: [], dupRate: 0, latencyMs: 200 }));
  return w;
}

export function gapAt(w: DeviceWorld, ts: number): Gap | undefined {
  for (const g of w.gaps) if (ts >= g.start && ts < g.end) return g;
  return undefined;
}
