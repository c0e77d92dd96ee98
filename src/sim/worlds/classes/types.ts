/**
 * A device class as a world sees it: its model (what the device does), where it lives on the
 * network, what it talks to, and the habits a world may give it (parameter ranges). The five
 * classes of the plain simulator are wrapped here; the others are new (EV chargers, battery
 * sensors, infusion pumps, cameras, edge gateways).
 */
import type { Process, SimDevice, Uplink } from '../../device.js';
import type { Rng } from '../../prng.js';
import type { ParamSpec, Params } from '../params.js';

/** What a device sends while its model says it is idle (parked, closed, line stopped). */
export interface IdleHabit {
  /** silent: powered down or asleep; heartbeat: one reading (with its session) every `everyMs`. */
  mode: 'silent' | 'heartbeat';
  everyMs?: number;
  /** Devices that keep their counter in RAM restart `seq` at 0 when they power up. */
  seqResetOnWake: boolean;
  /** What the device does when it powers up (a terminal checks in with its management system). */
  onWake?(dev: SimDevice, ts: number, out: import('../../types.js').SimEvent[]): void;
}

export interface ClassDef {
  cls: string;
  /** Device id prefix. */
  prefix: string;
  /** Second octet of the device network 10.<net>.<site*2>.<host>, or carrier-grade NAT addresses. */
  net: number | 'cgnat';
  /** Devices per site (meters per concentrator, chargers per car park...), before a world scales it. */
  siteSize: readonly [number, number];
  firmware: { current: string; next: string; older: readonly string[] };
  /** Habits a world draws for the class, with the reason each range is realistic. */
  params: ParamSpec;
  /** The device's usual backend session. */
  uplink(params: Params, site: number, rng: Rng): Uplink;
  /** Every address the backend answers on, when it is more than the uplink's one. */
  endpoints?: readonly string[];
  /** Infrastructure servers the class uses, which a fleet change may replace. */
  infra: { ntp?: string; dns?: string };
  /** Rough events per device-day, only to size worlds to a time budget. */
  eventsPerDay(params: Params): number;
  model(dev: SimDevice, start: number, end: number, params: Params): Process[];
  /** Idle behaviour laid over a model that only knows "active or not" (the plain classes). */
  idle?(params: Params): IdleHabit | undefined;
  /** Keep one reading in n (a meter reporting every 60 min instead of 15). */
  keepEvery?(params: Params): number;
  /** Readings are collected and uploaded in batches every so many ms (data loggers, AMI head-end reads). */
  batchMs?(params: Params): number;
  spoofable: readonly string[];
  stuckable: readonly string[];
  /** MQTT QoS 1 or CoAP confirmable: a message can be delivered twice. */
  duplicates: boolean;
  /** Buffers readings through a connectivity gap and uploads them on reconnect. */
  buffers: boolean;
}
