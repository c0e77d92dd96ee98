import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/events/decode.js';
import { createFleet, type SimOptions } from '../../src/sim/fleet.js';
import { eventLine, simulateToFiles } from '../../src/sim/write.js';
import { INCIDENT_KINDS, type LabelsFile } from '../../src/sim/types.js';

const base: SimOptions = { devices: 60, days: 1, seed: 11, start: Date.parse('2026-03-23T00:00:00Z'), incidentsPerKind: 1 };

function digest(opts: SimOptions, chunkMs?: number): { hash: string; n: number } {
  const h = createHash('sha256');
  let n = 0;
  for (const { events } of createFleet(opts).chunks(chunkMs)) {
    for (const e of events) {
      h.update(eventLine(e));
      n++;
    }
  }
  return { hash: h.digest('hex'), n };
}

describe('simulated fleet', () => {
  it('is deterministic for a seed and independent of the chunk size', () => {
    const a = digest(base);
    expect(digest(base)).toEqual(a);
    expect(digest(base, 7 * 60_000)).toEqual(a);
    expect(digest({ ...base, seed: 12 }).hash).not.toBe(a.hash);
    expect(a.n).toBeGreaterThan(10_000);
  });

  it('writes events in event-time order that the consumers decode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-'));
    const out = join(dir, 'f.ndjson.gz');
    const labels = join(dir, 'f.labels.json');
    const res = await simulateToFiles(base, { out, labels });
    const lines = gunzipSync(readFileSync(out)).toString('utf8').trim().split('\n');
    expect(lines.length).toBe(res.events);
    let last = 0;
    const classes = new Set<string>();
    const ports = new Set<number>();
    for (const line of lines) {
      const r = decodeEvent(line);
      if (!r.ok) throw new Error(`${r.error.message}: ${line}`);
      expect(r.event.ts).toBeGreaterThanOrEqual(last);
      last = r.event.ts;
      classes.add(r.event.device_class);
      if (r.event.type === 'connection') ports.add(r.event.dst_port);
      expect(JSON.parse(line).ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
    expect([...classes].sort()).toEqual(['patient_monitor', 'plc', 'pos_terminal', 'smart_meter', 'vehicle']);
    for (const p of [8883, 443, 123, 2575]) expect(ports.has(p)).toBe(true);
    expect(ports.has(502) || ports.has(4840)).toBe(true);
    const lf = JSON.parse(readFileSync(labels, 'utf8')) as LabelsFile;
    expect(lf.devices).toBe(60);
    expect(lf.incidents.length).toBe(INCIDENT_KINDS.length);
    expect(new Set(lf.incidents.map((i) => i.kind)).size).toBe(INCIDENT_KINDS.length);
    expect(new Set(lf.incidents.map((i) => i.device_id)).size).toBe(lf.incidents.length);
    for (const i of lf.incidents) {
      expect(Date.parse(i.start)).toBeGreaterThanOrEqual(Date.parse(lf.start));
      expect(Date.parse(i.end)).toBeLessThanOrEqual(Date.parse(lf.end));
      expect(Date.parse(i.end)).toBeGreaterThan(Date.parse(i.start));
    }
    expect(lf.benign.map((b) => b.kind)).toEqual(expect.arrayContaining(['firmware_rollout', 'maintenance_window', 'network_outage']));
  });

  it('injects what the labels say', () => {
    const fleet = createFleet({ ...base, devices: 120, incidentsPerKind: 2 });
    const byDevice = new Map<string, Array<Record<string, unknown>>>();
    const watch = new Set(fleet.labels.incidents.map((i) => i.device_id));
    for (const { events } of fleet.chunks()) {
      for (const e of events) {
        if (!watch.has(e.device_id)) continue;
        let l = byDevice.get(e.device_id);
        if (!l) byDevice.set(e.device_id, (l = []));
        l.push(e);
      }
    }
    for (const inc of fleet.labels.incidents) {
      const s = Date.parse(inc.start);
      const e = Date.parse(inc.end);
      const evs = (byDevice.get(inc.device_id) ?? []).filter((x) => (x.ts as number) >= s && (x.ts as number) < e);
      const conns = evs.filter((x) => x.type === 'connection');
      switch (inc.kind) {
        case 'mirai_scan':
          expect(conns.filter((c) => c.dst_port === 23 || c.dst_port === 2323).length).toBeGreaterThan(30);
          break;
        case 'brute_force':
          expect(conns.filter((c) => c.auth === 'failed').length).toBeGreaterThan(5);
          break;
        case 'plaintext_downgrade':
          expect(conns.some((c) => c.tls === false && (c.dst_port === inc.detail.port || c.dst_port === inc.detail.to_port))).toBe(true);
          break;
        case 'firmware_downgrade':
          expect(evs.some((x) => x.firmware === inc.detail.to)).toBe(true);
          break;
        case 'device_cloning':
          expect(new Set(conns.map((c) => c.src_ip)).size).toBeGreaterThan(1);
          break;
        case 'stuck_sensor': {
          const m = inc.detail.metric as string;
          const vals = evs.filter((x) => x.type === 'telemetry').map((x) => (x.metrics as Record<string, number>)[m]).filter((v) => v !== undefined);
          expect(new Set(vals).size).toBe(1);
          break;
        }
        default:
          expect(evs.length).toBeGreaterThan(0);
      }
    }
  });
});

describe('incident placement', () => {
  it('only downgrades devices that have TLS to strip', () => {
    const fleet = createFleet({ ...base, devices: 300, incidentsPerKind: 12, kinds: ['plaintext_downgrade'] });
    const byId = new Map(fleet.devices.map((d) => [d.id, d]));
    expect(fleet.labels.incidents).toHaveLength(12);
    for (const inc of fleet.labels.incidents) expect(byId.get(inc.device_id)!.uplink.tls).toBe(true);
  });
});
