/**
 * Findings fingerprint of the engine with a pipeline's detectors: every finding version raised
 * (in order) and the final engine state, over the demo fleet and the bench generator's fleet.
 * Run before and after an engine or detector change; the hashes must not move unless a change
 * is meant to alter findings. "sorted-key state" hashes the state with object keys sorted, so a
 * change that only reorders a detector's fields (state JSON order) keeps it.
 *
 *   npx tsx bench/golden.ts [pipeline.yaml] [--events N]
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { loadPipelineFile } from '../src/config/load.js';
import { decodeEvent } from '../src/events/decode.js';
import { createEngine } from '../src/pipeline/engine.js';
import { buildDetectors, engineOptions } from '../src/pipeline/build.js';
import { FleetGen } from '../src/sim/bench-fleet.js';
import { decodeDevice, encodeDevice } from '../src/state/changelog.js';
import type { EngineSnapshot } from '../src/pipeline/engine.js';

const args = process.argv.slice(2);
const file = args.find((a) => a.endsWith('.yaml')) ?? 'pipelines/default.yaml';
const ei = args.indexOf('--events');
const N = ei >= 0 ? Number(args[ei + 1]) : 200_000;
const r = await loadPipelineFile(file);
if (!r.pipeline) throw new Error(JSON.stringify(r.errors));
const cfg = r.pipeline;

const newEngine = () => createEngine(engineOptions(cfg, buildDetectors(cfg)));

/**
 * `restoreAt`: after that many events, the engine's snapshot goes through JSON (as a checkpoint
 * does) into a fresh engine, which carries on: the findings hash must equal the straight run's.
 */
type Via = 'json' | 'changelog';
/** A snapshot as a restore sees it: through JSON, or device by device through the changelog codec. */
function roundTrip(snap: EngineSnapshot, via: Via): EngineSnapshot {
  if (via === 'json') return JSON.parse(JSON.stringify(snap)) as EngineSnapshot;
  const devices: EngineSnapshot['devices'] = {};
  for (const [id, st] of Object.entries(snap.devices)) devices[id] = decodeDevice(encodeDevice(st));
  return { ...snap, devices };
}

function run(name: string, input: Iterable<string | Buffer>, restoreAt = -1, via: Via = 'json'): void {
  const lines = [...input];
  let engine = newEngine();
  const h = createHash('sha256');
  let n = 0;
  let f = 0;
  let maxTs = -Infinity;
  for (const line of lines) {
    const d = decodeEvent(typeof line === 'string' ? Buffer.from(line) : line);
    if (!d.ok) continue;
    if (n === restoreAt) {
      const next = newEngine();
      next.restore(roundTrip(engine.snapshot(), via));
      engine = next;
    }
    n++;
    if (d.event.ts > maxTs) maxTs = d.event.ts;
    for (const x of engine.process(d.event)) {
      h.update(JSON.stringify(x));
      f++;
    }
  }
  for (const x of engine.advanceTo(maxTs + 86_400_000)) {
    h.update(JSON.stringify(x));
    f++;
  }
  const snap = engine.snapshot();
  const st = createHash('sha256').update(JSON.stringify(snap)).digest('hex').slice(0, 16);
  // The same state with every object's keys sorted: moves only if a value does, not when a
  // detector merely creates its fields in another order.
  const sorted = (_k: string, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])) : v);
  const sst = createHash('sha256').update(JSON.stringify(snap, sorted)).digest('hex').slice(0, 16);
  process.stdout.write(`${name}${restoreAt >= 0 ? ` (restored from ${via === 'json' ? 'JSON' : 'changelog records'} after ${restoreAt})` : ''}: ${n} events, ${f} finding versions, findings ${h.digest('hex').slice(0, 16)}, state ${st}, sorted-key state ${sst}\n`);
}

const demo = gunzipSync(readFileSync('fixtures/demo-fleet.ndjson.gz')).toString('utf8').split('\n').filter((l) => l.length > 0);
run('demo fleet', demo);
run(`bench fleet ${N}`, new FleetGen({ events: N, devices: 20_000, seed: 7, intervalMs: 60_000 }).take(N));
run('bench mature 300k', new FleetGen({ events: 300_000, devices: 1_000, seed: 7, intervalMs: 900_000 }).take(300_000));
// Findings must equal the straight runs above (state hashes may differ only where JSON cannot
// say what the live state holds, e.g. NaN read back as null before revive()).
run('demo fleet', demo, Math.floor(demo.length / 2));
run('bench mature 300k', new FleetGen({ events: 300_000, devices: 1_000, seed: 7, intervalMs: 900_000 }).take(300_000), 150_000);
run('bench mature 300k', new FleetGen({ events: 300_000, devices: 1_000, seed: 7, intervalMs: 900_000 }).take(300_000), 100_000, 'changelog');
