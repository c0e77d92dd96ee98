/**
 * The facts an analyst pivots on, read from what a finding already carries: the device's own
 * address, the peer and port of a connection anomaly, the metric of a telemetry anomaly, and
 * the detector's own expected value and spread (its baseline as it saw it when it raised the
 * finding). Detectors put them in their evidence under these names; nothing is recomputed here.
 * Evidence is untrusted device data in part, so every value is checked for type and shape.
 */
import { isIP } from 'node:net';
import type { Finding } from '../detectors/types.js';

export interface FindingFacts {
  src_ip?: string;
  dst_ip?: string;
  dst_port?: number;
  metric?: string;
  observed_value?: number;
  expected_value?: number;
  expected_spread?: number;
}

const ip = (v: unknown): string | undefined => (typeof v === 'string' && isIP(v) ? v : undefined);
const port = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535 ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export function factsOf(f: Pick<Finding, 'evidence' | 'observed' | 'key'>): FindingFacts {
  const ev = obj(f.evidence);
  const last = obj(ev.last);
  const top = Array.isArray(ev.top_destinations) ? obj(ev.top_destinations[0]) : {};
  const out: FindingFacts = {};
  const src = ip(ev.src_ip) ?? ip(last.src_ip);
  if (src) out.src_ip = src;
  const dst = ip(ev.dst_ip) ?? ip(last.dst_ip) ?? ip(top.ip) ?? ip(ev.last_peer) ?? ip(ev.peer);
  if (dst) out.dst_ip = dst;
  const dpt = port(ev.dst_port) ?? port(last.dst_port);
  if (dpt !== undefined) out.dst_port = dpt;
  if (typeof ev.metric === 'string' && ev.metric.length <= 200) out.metric = ev.metric;
  const observed = num(f.observed) ?? (typeof f.observed === 'string' && /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(f.observed) ? Number(f.observed) : undefined) ?? num(ev.value);
  if (observed !== undefined && out.metric) out.observed_value = observed;
  const center = num(ev.baseline_center) ?? num(ev.implied);
  if (center !== undefined) out.expected_value = center;
  const spread = num(ev.baseline_sigma) ?? num(ev.typical_error);
  if (spread !== undefined) out.expected_spread = spread;
  return out;
}
