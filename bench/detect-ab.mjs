/**
 * A/B micro-benchmark of the detection engine on one core, for comparing two builds side by side
 * on a shared machine (run them alternately, compare best-of-N):
 *
 *   node --expose-gc bench/detect-ab.mjs [--dist DIR] [--reps N] [--events N] [--devices N]
 *        [--interval MS] [--only name,name] [--each] [--pipeline FILE] [--profile F.cpuprofile]
 *
 * DIR is a built tree (default ./dist). Prints µs per event (best of N fresh engines over the
 * same decoded events), heap and snapshot JSON bytes per device. --each also times every
 * pipeline detector alone (minus nothing: subtract the "(engine only)" line yourself).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const dist = resolve(opt('--dist', 'dist'));
const reps = Number(opt('--reps', 5));
const N = Number(opt('--events', 200_000));
const devices = Number(opt('--devices', 20_000));
const interval = Number(opt('--interval', 60_000));
const only = opt('--only', '');
const each = args.includes('--each');
const file = opt('--pipeline', 'pipelines/default.yaml');
const profile = opt('--profile', '');
const imp = (p) => import(pathToFileURL(`${dist}/${p}`).href);

const { createEngine } = await imp('pipeline/engine.js');
const { buildDetectors } = await imp('pipeline/build.js');
const { loadPipelineFile } = await imp('config/load.js');
const { decodeEvent } = await imp('events/decode.js');
const { FleetGen } = await imp('sim/bench-fleet.js');
const r = await loadPipelineFile(file);
if (!r.pipeline) throw new Error(JSON.stringify(r.errors));
const cfg = r.pipeline;
const gc = globalThis.gc;

const evs = [];
for (const raw of new FleetGen({ events: N, devices, seed: 7, intervalMs: interval }).take(N)) {
  const d = decodeEvent(Buffer.from(raw));
  if (d.ok) evs.push(d.event);
}
const hr = () => Number(process.hrtime.bigint()) / 1e9;
const engineFor = (dets) => createEngine({ pipeline: cfg.name, detectors: dets, allowedLatenessMs: cfg.allowed_lateness_ms, idleEvictionMs: cfg.entities.idle_eviction_ms });
const json = (e) => JSON.stringify(e.snapshot(), (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));

const profiles = [];
function time(name, make) {
  let best = Infinity;
  let heap = null;
  let engine;
  let findings = 0;
  for (let rep = 0; rep < reps; rep++) {
    engine = undefined;
    if (session && rep === reps - 1) session.post('Profiler.start');
    gc?.();
    gc?.();
    const h0 = process.memoryUsage().heapUsed;
    engine = engineFor(make());
    const t = hr();
    findings = 0;
    for (let i = 0; i < evs.length; i++) findings += engine.process(evs[i]).length;
    const s = hr() - t;
    if (session && rep === reps - 1) profiles.push(session.post('Profiler.stop'));
    if (s < best) best = s;
    if (rep === 0 && gc) {
      gc();
      gc();
      heap = Math.round((process.memoryUsage().heapUsed - h0) / engine.deviceCount());
    }
  }
  const bytes = Math.round(Buffer.byteLength(json(engine)) / engine.deviceCount());
  const us = (best / evs.length) * 1e6;
  console.log(`${name.padEnd(22)} ${us.toFixed(3).padStart(7)} µs/ev ${String(Math.round(evs.length / best)).padStart(9)} ev/s  heap ${String(heap).padStart(6)} B/dev  json ${String(bytes).padStart(5)} B/dev  findings ${findings}`);
}

let session = null;
if (profile) {
  const { Session } = await import('node:inspector/promises');
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
}
console.log(`dist ${dist}, ${evs.length} events, ${devices} devices, best of ${reps}`);
const all = buildDetectors(cfg);
const sel = only ? all.filter((d) => only.split(',').includes(d.id)) : all;
time('(engine only)', () => []);
if (each) for (const d of sel) time(d.id, () => buildDetectors(cfg).filter((x) => x.id === d.id));
time(only ? `(${only})` : '(pipeline detectors)', () => (only ? buildDetectors(cfg).filter((d) => only.split(',').includes(d.id)) : buildDetectors(cfg)));
if (session) {
  const { writeFileSync } = await import('node:fs');
  const res = await profiles[profiles.length - 1];
  writeFileSync(profile, JSON.stringify(res.profile));
  console.log(`profile of the last timed run: ${profile}`);
}
