import { createWorld, type WorldLabels } from '../../src/sim/worlds/fleet.js';
import type { ClassHabits, DrawnWorldSpec } from '../../src/sim/worlds/spec.js';

export function habits(cls: string, params: ClassHabits['params'], over: Partial<ClassHabits> = {}): ClassHabits {
  return { cls, share: 1, site_size: [2, 6], params, duplicates: 0, gaps_per_week: 0, gap_min: [10, 60], ...over };
}

/** A hand-made world: two quiet days in Berlin (Mon 6 – Wed 8 April 2026), no changes, no incidents. */
export function spec(over: Partial<DrawnWorldSpec>): DrawnWorldSpec {
  return {
    version: 1,
    kind: 'drawn',
    index: 1,
    seed: 5,
    summary: 'test world',
    start: '2026-04-06T00:00:00.000Z',
    days: 2,
    devices: 20,
    warmup_h: 12,
    incidents_per_kind: 0,
    kinds: [],
    zones: [{ zone: 'Europe/Berlin', weight: 1 }],
    classes: [],
    delivery: { latency_ms: [50, 500], skew_share: 0, skew_min: [1, 5], skew_hour_share: 0, dup_delay_s: [2, 30] },
    changes: [],
    ...over,
  };
}

export const GATEWAY = { every_s: 60, metrics: 4, ntp: 'site', dns: 'site', endpoint_ips: 1, reconnect_h: 6 };

export interface Wire {
  line: string;
  pos: number;
  ev: Record<string, unknown> & { type: string; device_id: string; ts: string };
  ms: number;
}

export function generate(s: DrawnWorldSpec): { wire: Wire[]; lines: string[]; labels: WorldLabels } {
  const w = createWorld(s);
  const lines: string[] = [];
  for (const c of w.lines(3 * 3_600_000)) lines.push(...c.lines);
  const wire = lines.map((line, pos) => {
    const ev = JSON.parse(line) as Wire['ev'];
    return { line, pos, ev, ms: Date.parse(ev.ts) };
  });
  return { wire, lines, labels: w.labels };
}
