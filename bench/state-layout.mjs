/**
 * What would a detector-state redesign buy, and which one? This isolates the layout of the state
 * from the detectors' arithmetic: the same synthetic per-event work (read every field of each
 * detector state the event touches, update half of them) over the same device order, with the
 * state kept as
 *
 *   objects  the detectors keep it now: per device, per detector, a packed number[] created on
 *            the device's first event (a young fleet allocates all of it during the run), the
 *            device's detector states in an array, devices found by id in a Map;
 *   slabs    one Float64Array per detector, indexed by device slot (slot × fields);
 *   rows     one Float64Array for all, each device's detector states side by side in its row.
 *
 *   node --expose-gc bench/state-layout.mjs [--devices N] [--rounds R] [--reps K]
 *
 * Prints µs per event for the first round (every device's state is created: a young fleet) and
 * the later rounds (state updated in place: mature devices), and live bytes per device. 12
 * states and 262 doubles per event stand for a young device of the default pipeline (its
 * checkpoint record holds ~340 numbers over all its detectors). Every device gets the same
 * fixed-size row here; real state varies in size per device (metrics, peers), so a real layout
 * needs an allocator for rows. The work per field is a stand-in: the figures say what the
 * layout alone changes, not what the real detectors would reach.
 */
const args = process.argv.slice(2);
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const N = opt('--devices', 100_000);
const ROUNDS = opt('--rounds', 20);
const REPS = opt('--reps', 3);
const gc = globalThis.gc ?? (() => undefined);

/** Doubles of state per detector that applies to an event (about a dozen do, of 19). */
const FIELDS = [80, 40, 24, 20, 16, 16, 14, 12, 12, 10, 10, 8];
const D = FIELDS.length;

// Device order: every round visits every device once, in a fresh pseudo-random order (devices
// report on their own clocks), the same order for both layouts.
function orders() {
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const out = [];
  for (let r = 0; r < ROUNDS; r++) {
    const o = new Int32Array(N);
    for (let i = 0; i < N; i++) o[i] = i;
    for (let i = N - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      const t = o[i];
      o[i] = o[j];
      o[j] = t;
    }
    out.push(o);
  }
  return out;
}
const ORDER = orders();
const IDS = Array.from({ length: N }, (_v, i) => `dev-${String(i).padStart(6, '0')}`);

/** The stand-in step: read every field, move half of them towards the reading. */
function stepArray(a, x) {
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += a[k];
  for (let k = 0; k < a.length; k += 2) a[k] += 0.05 * (x - a[k]);
  return sum;
}
function stepSlab(s, off, n, x) {
  let sum = 0;
  for (let k = 0; k < n; k++) sum += s[off + k];
  for (let k = 0; k < n; k += 2) s[off + k] += 0.05 * (x - s[off + k]);
  return sum;
}

function runObjects() {
  const devices = new Map();
  const states = [];
  let sink = 0;
  const times = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    const o = ORDER[r];
    for (let i = 0; i < N; i++) {
      // A fresh id string per event, as decoding a message gives.
      const id = (' ' + IDS[o[i]]).slice(1);
      let slot = devices.get(id);
      if (slot === undefined) {
        slot = states.length;
        devices.set(id, slot);
        states.push(new Array(D).fill(undefined));
      }
      const ds = states[slot];
      const x = i & 255;
      for (let d = 0; d < D; d++) {
        let a = ds[d];
        if (a === undefined) a = ds[d] = new Array(FIELDS[d]).fill(0.5);
        sink += stepArray(a, x);
      }
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e3 / N);
  }
  return { times, sink, keep: [devices, states] };
}

/**
 * Typed-array layouts: detector d's state of device `slot` is arrays[d][slot × stride[d] + start[d]
 * …] — one array per detector (stride = its fields, start 0), or one row per device (every
 * detector in the same array, stride = all fields, start = the detectors before it).
 */
function runTyped(arrays, stride, start) {
  const devices = new Map();
  const born = new Uint8Array(N * D);
  let used = 0;
  let sink = 0;
  const times = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    const o = ORDER[r];
    for (let i = 0; i < N; i++) {
      const id = (' ' + IDS[o[i]]).slice(1);
      let slot = devices.get(id);
      if (slot === undefined) {
        slot = used++;
        devices.set(id, slot);
      }
      const x = i & 255;
      for (let d = 0; d < D; d++) {
        const f = FIELDS[d];
        const s = arrays[d];
        const off = slot * stride[d] + start[d];
        if (born[slot * D + d] === 0) {
          born[slot * D + d] = 1;
          s.fill(0.5, off, off + f);
        }
        sink += stepSlab(s, off, f, x);
      }
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e3 / N);
  }
  return { times, sink, keep: [devices, arrays, born] };
}

const runSlabs = () =>
  runTyped(
    FIELDS.map((f) => new Float64Array(N * f)),
    FIELDS,
    FIELDS.map(() => 0),
  );

function runRows() {
  const total = FIELDS.reduce((a, f) => a + f, 0);
  const rows = new Float64Array(N * total);
  const start = FIELDS.map((_f, d) => FIELDS.slice(0, d).reduce((a, f) => a + f, 0));
  return runTyped(
    FIELDS.map(() => rows),
    FIELDS.map(() => total),
    start,
  );
}

function measure(name, run) {
  let best = null;
  for (let rep = 0; rep < REPS; rep++) {
    gc();
    gc();
    const before = process.memoryUsage();
    const r = run();
    gc();
    gc();
    const after = process.memoryUsage();
    const first = r.times[0];
    const later = r.times.slice(1).reduce((a, b) => a + b, 0) / (r.times.length - 1);
    const bytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    if (!best || first + later < best.first + best.later) best = { first, later, bytes, sink: r.sink };
    r.keep.length = 0;
  }
  const f = (x) => x.toFixed(3).padStart(7);
  console.log(`${name.padEnd(8)} first round ${f(best.first)} µs/event · later rounds ${f(best.later)} µs/event · ${String(Math.round(best.bytes / N)).padStart(6)} B/device (live, heap + typed arrays)`);
  return best;
}

console.log(`${N.toLocaleString('en')} devices × ${ROUNDS} rounds, ${D} detector states per event (${FIELDS.reduce((a, b) => a + b, 0)} doubles), best of ${REPS}`);
const a = measure('objects', runObjects);
const b = measure('slabs', runSlabs);
const c = measure('rows', runRows);
for (const [name, x] of [
  ['slabs', b],
  ['rows', c],
]) {
  console.log(`${name} / objects: first round ${(x.first / a.first).toFixed(2)}×, later rounds ${(x.later / a.later).toFixed(2)}×, memory ${(x.bytes / a.bytes).toFixed(2)}×`);
  if (x.sink !== a.sink) throw new Error(`${name} computed different results from objects`);
}
