/**
 * Decode micro-benchmark and fast-path self-check, one core:
 *   npx tsx bench/decode-micro.ts [events]
 * First checks decode.ts's hand-written fast paths (ISO timestamps, IPv4) against the general
 * ones they short-cut (Date.parse, net.isIP) on random near-miss inputs, then times decodeEvent
 * against bare JSON.parse on the bench fleet's events so the validation overhead is visible.
 */
import { isIP } from 'node:net';
import { decodeEvent, parseTimestamp } from '../src/events/decode.js';
import { FleetGen } from '../src/sim/bench-fleet.js';

let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const dig = (n: number) => Array.from({ length: n }, () => String(Math.floor(rand() * 10))).join('');

// Timestamps: the pre-fast-path semantics were "looks like a date → Date.parse".
const oldParse = (v: string) => (/^\d+(\.\d+)?$/.test(v) ? parseTimestamp(Number(v)) : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN);
let checked = 0;
for (let i = 0; i < 300_000; i++) {
  const y = pick(['2026', '1999', '0099', '0100', '9999', dig(4)]);
  const mo = pick(['01', '02', '12', '13', '00', dig(2)]);
  const d = pick(['01', '28', '29', '30', '31', '32', '00', dig(2)]);
  const h = pick(['00', '12', '23', '24', dig(2)]);
  const mi = pick(['00', '59', '60', dig(2)]);
  const se = pick(['00', '59', '60', dig(2)]);
  const frac = pick(['', '.', '.1', '.12', '.123', '.1234', '.123456789', '.1234567890', '.' + dig(4), '.1a3']);
  const tz = pick(['Z', 'z', '', '+02:00', '-00:00', 'ZZ', ' Z']);
  const t = pick(['T', 't', ' ', 'X']);
  const s = `${y}-${mo}-${d}${t}${h}:${mi}:${se}${frac}${tz}`;
  const a = parseTimestamp(s);
  const b = oldParse(s);
  if (!(a === b || (Number.isNaN(a) && Number.isNaN(b)))) throw new Error(`timestamp fast path differs on ${s}: ${a} vs ${b}`);
  checked++;
}
// IPs: the connection decode must accept exactly what net.isIP accepts.
const conn = (ip: string) => JSON.stringify({ type: 'connection', device_id: 'p', ts: '2026-03-01T00:00:00Z', src_ip: ip, dst_ip: '10.0.0.1', dst_port: 1, protocol: 'tcp' });
for (let i = 0; i < 200_000; i++) {
  const part = () => pick(['0', '1', '10', '255', '256', '01', '00', '999', '1000', '', dig(1), dig(2), dig(3)]);
  const n = pick([3, 4, 4, 4, 5]);
  const ip = Array.from({ length: n }, part).join(pick(['.', '.', '.', ':', ',']));
  const ok = decodeEvent(conn(ip)).ok;
  if (ok !== (isIP(ip) !== 0)) throw new Error(`IP fast path differs on ${ip}: decode ok=${ok}, isIP=${isIP(ip)}`);
  checked++;
}
process.stdout.write(`fast paths agree with Date.parse / net.isIP on ${checked.toLocaleString('en')} random inputs\n`);

const n = Number(process.argv[2] ?? 200_000);
const raws = new FleetGen({ events: n, devices: 20_000, seed: 7, intervalMs: 60_000 }).take(n).map((s) => Buffer.from(s));
const time = (label: string, f: (b: Buffer) => unknown) => {
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    const t = process.hrtime.bigint();
    for (const b of raws) f(b);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  process.stdout.write(`${label.padEnd(28)} ${Math.round(n / best).toLocaleString('en').padStart(10)} ev/s  ${((best / n) * 1e6).toFixed(2)} µs/event (best of 5)\n`);
};
time('toString + JSON.parse', (b) => JSON.parse(b.toString('utf8')));
time('decodeEvent', (b) => decodeEvent(b));
