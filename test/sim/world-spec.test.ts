import { describe, expect, it } from 'vitest';
import { classDef, NEW_CLASSES, WORLD_CLASSES } from '../../src/sim/worlds/classes/index.js';
import { inRange } from '../../src/sim/worlds/params.js';
import { drawWorld, WORLD_INCIDENT_KINDS, WORLD_RANGES, worldSeed } from '../../src/sim/worlds/spec.js';
import { worldZone } from '../../src/sim/worlds/zones.js';
import { dstTransitions, DAY, HOUR } from '../../src/sim/time.js';

const SEEDS = Array.from({ length: 150 }, (_, i) => worldSeed(3, i + 1));

describe('world drawing', () => {
  it('is deterministic per seed, differs between seeds, and serialises to JSON unchanged', () => {
    const a = drawWorld(SEEDS[0]!, 1);
    expect(drawWorld(SEEDS[0]!, 1)).toEqual(a);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    const b = drawWorld(SEEDS[1]!, 2);
    expect(b.seed).not.toBe(a.seed);
    expect(JSON.stringify(b.classes)).not.toBe(JSON.stringify(a.classes));
    expect(new Set(SEEDS).size).toBe(SEEDS.length);
  });

  it('keeps the habits of a seed at every size, and sizes by the event budget', () => {
    const small = drawWorld(SEEDS[2]!, 3, { eventsPerWorld: 200_000 });
    const large = drawWorld(SEEDS[2]!, 3, { eventsPerWorld: 2_000_000 });
    expect(large.classes).toEqual(small.classes);
    expect(large.changes).toEqual(small.changes);
    expect(large.devices).toBeGreaterThan(small.devices * 5);
    expect(large.incidents_per_kind).toBeGreaterThanOrEqual(small.incidents_per_kind);
    expect(drawWorld(SEEDS[2]!, 3, { maxDays: 2 }).days).toBeLessThanOrEqual(2);
  });

  it('draws every parameter inside its documented range', () => {
    for (const [i, seed] of SEEDS.entries()) {
      const w = drawWorld(seed, i + 1);
      expect(inRange(WORLD_RANGES.days, w.days)).toBe(true);
      // Learning never exceeds 48 h nor 40 % of the span.
      expect(w.warmup_h).toBeGreaterThanOrEqual(4 - 0.05);
      expect(w.warmup_h).toBeLessThanOrEqual(Math.min(48, 0.4 * w.days * 24) + 0.05);
      expect(w.classes.length).toBeGreaterThanOrEqual(3);
      expect(w.classes.length).toBeLessThanOrEqual(6);
      expect(w.classes.some((c) => NEW_CLASSES.some((n) => n.cls === c.cls))).toBe(true);
      expect(w.classes.reduce((s, c) => s + c.share, 0)).toBeCloseTo(1, 2);
      for (const c of w.classes) {
        const def = classDef(c.cls);
        expect(Object.keys(c.params).sort()).toEqual(Object.keys(def.params).sort());
        for (const [k, v] of Object.entries(c.params)) expect(inRange(def.params[k]!, v), `${c.cls}.${k}=${JSON.stringify(v)}`).toBe(true);
        if (def.duplicates && c.duplicates > 0) expect(inRange(WORLD_RANGES.dup_rate, c.duplicates)).toBe(true);
        if (!def.duplicates) expect(c.duplicates).toBe(0);
        if (!def.buffers) expect(c.gaps_per_week).toBe(0);
        else expect(inRange(WORLD_RANGES.gaps_per_week, c.gaps_per_week)).toBe(true);
        expect(c.site_size[0]).toBeGreaterThanOrEqual(1);
        expect(c.site_size[0]).toBeLessThanOrEqual(c.site_size[1]);
      }
      expect(w.zones.length).toBeGreaterThanOrEqual(1);
      expect(w.zones.length).toBeLessThanOrEqual(4);
      const d = w.delivery;
      expect(d.skew_share).toBeGreaterThanOrEqual(0);
      expect(d.skew_share).toBeLessThanOrEqual(0.15);
      expect(d.skew_min[1]).toBeLessThanOrEqual(20);
      expect(d.skew_hour_share).toBeLessThanOrEqual(0.3);
      expect(d.latency_ms[0]).toBeLessThan(d.latency_ms[1]);
      for (const c of w.changes) {
        if (c.kind === 'maintenance_window') expect(inRange(WORLD_RANGES.maintenance_cells, c.cells)).toBe(true);
        if (c.kind === 'endpoint_migration') expect(inRange(WORLD_RANGES.migration_at, c.at) && inRange(WORLD_RANGES.migration_spread_h, c.spread_h)).toBe(true);
        if (c.kind === 'site_outage') expect(inRange(WORLD_RANGES.outage_at, c.at) && inRange(WORLD_RANGES.outage_min, c.minutes)).toBe(true);
        if (c.kind === 'firmware_rollout') expect(inRange(WORLD_RANGES.rollout_at, c.at) && inRange(WORLD_RANGES.rollout_days, c.days) && inRange(WORLD_RANGES.rollout_canary, c.canary)).toBe(true);
        if (c.kind === 'infra_replaced') expect(inRange(WORLD_RANGES.infra_at, c.at) && inRange(WORLD_RANGES.infra_spread_h, c.spread_h)).toBe(true);
        expect(w.classes.some((x) => x.cls === c.cls)).toBe(true);
      }
      expect(w.kinds).toEqual([...WORLD_INCIDENT_KINDS]);
      expect(w.incidents_per_kind * w.kinds.length).toBeLessThanOrEqual(Math.max(w.kinds.length, 0.5 * w.devices + w.kinds.length / 2));
      expect(w.incidents_per_kind).toBeLessThanOrEqual(12);
      if (w.devices >= 150) expect(w.incidents_per_kind).toBeGreaterThanOrEqual(6);
      expect(w.summary).toContain(`${w.days} d from`);
    }
  });

  it('spans a daylight-saving change in about half of the worlds, in a zone that has devices', () => {
    let dst = 0;
    for (const [i, seed] of SEEDS.entries()) {
      const w = drawWorld(seed, i + 1);
      const s = Date.parse(w.start);
      if (w.zones.some((z) => dstTransitions(worldZone(z.zone), s, s + w.days * DAY).length > 0)) dst++;
      expect(s % HOUR).toBe(0);
    }
    expect(dst / SEEDS.length).toBeGreaterThan(0.4);
    expect(dst / SEEDS.length).toBeLessThan(0.95);
  });

  it('uses every class and both new and plain ones across seeds', () => {
    const seen = new Set<string>();
    for (const [i, seed] of SEEDS.entries()) for (const c of drawWorld(seed, i + 1).classes) seen.add(c.cls);
    expect([...seen].sort()).toEqual(WORLD_CLASSES.map((c) => c.cls).sort());
  });
});
