/** `m2m-sentinel simulate`: a seeded, labeled M2M fleet as NDJSON events plus a labels file. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { createProgress, formatCount } from '../progress.js';
import { DEFAULT_MIX } from '../../sim/fleet.js';
import { simulateToFiles } from '../../sim/write.js';
import { DEVICE_CLASSES, INCIDENT_KINDS, type DeviceClass, type IncidentKind } from '../../sim/types.js';

export const DEFAULT_START = '2026-03-23T00:00:00Z';

function wholeNumber(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number ≥ 0, got "${v}"`);
  return n;
}

function atLeastOne(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number ≥ 1, got "${v}"`);
  return n;
}

function gzipLevel(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new InvalidArgumentError(`expected 1 (fast) to 9 (small), got "${v}"`);
  return n;
}

/**
 * Incidents asked for but not in the labels: a fleet too small (or mixed without the class an
 * incident needs) cannot hold every kind. Said out loud, since a backtest of such a fleet
 * would otherwise report a kind as "not present" rather than "not simulated".
 */
export function missingIncidents(kinds: readonly IncidentKind[], perKind: number, placed: Array<{ kind: string }>): Array<{ kind: IncidentKind; missing: number }> {
  const got = new Map<string, number>();
  for (const l of placed) got.set(l.kind, (got.get(l.kind) ?? 0) + 1);
  return kinds.map((kind) => ({ kind, missing: perKind - (got.get(kind) ?? 0) })).filter((m) => m.missing > 0);
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function isoTime(v: string): number {
  const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new InvalidArgumentError('expected an ISO-8601 time, e.g. 2026-03-23T00:00:00Z');
  return t;
}

function kindList(v: string): IncidentKind[] {
  const out: IncidentKind[] = [];
  for (const k of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(INCIDENT_KINDS as readonly string[]).includes(k)) throw new InvalidArgumentError(`unknown incident kind "${k}" (known: ${INCIDENT_KINDS.join(', ')})`);
    out.push(k as IncidentKind);
  }
  return out;
}

function mixSpec(v: string): Partial<Record<DeviceClass, number>> {
  const out: Partial<Record<DeviceClass, number>> = {};
  for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [k, w] = part.split('=');
    if (!k || !(DEVICE_CLASSES as readonly string[]).includes(k)) throw new InvalidArgumentError(`unknown device class "${k}" (known: ${DEVICE_CLASSES.join(', ')})`);
    const n = Number(w);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`weight for ${k} must be a non-negative number`);
    out[k as DeviceClass] = n;
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('simulate')
    .summary('generate a labeled, seeded M2M fleet (events + ground truth)')
    .description(
      'Generate a simulated machine-to-machine fleet as NDJSON events in event-time order, with a labels ' +
        'file holding the injected incidents (device, start, end, kind, detail) and the benign changes. ' +
        'The same seed and options always produce byte-identical output.',
    )
    .option('-n, --devices <n>', 'number of devices (at least 1)', atLeastOne, 300)
    .option('-d, --days <days>', 'simulated span in days (fractions allowed)', positiveNumber, 1)
    .option('-s, --seed <seed>', 'random seed (a whole number ≥ 0)', wholeNumber, 1)
    .option('-k, --incidents-per-kind <k>', 'labeled incidents injected per incident kind (0: none)', wholeNumber, 1)
    .option('--kinds <list>', `comma-separated incident kinds (default: all)\n(${INCIDENT_KINDS.join(', ')})`, kindList)
    .option('--start <iso>', 'start of the span (UTC)', DEFAULT_START)
    .option('--mix <spec>', `class weights, e.g. smart_meter=0.5,plc=0.5 (default ${Object.entries(DEFAULT_MIX).map(([k, v]) => `${k}=${v}`).join(',')})`, mixSpec)
    .option('--warmup-hours <h>', 'no incident starts in the first h hours (default: min(48, 40% of the span))', positiveNumber)
    .option('--no-rollout', 'no fleet-wide firmware rollout')
    .option('--no-maintenance', 'no PLC maintenance windows')
    .option('--no-outage', 'no network outages')
    .requiredOption('-o, --out <file>', 'events file (.ndjson, or .ndjson.gz to compress)')
    .option('-l, --labels <file>', 'labels file (JSON)')
    .option('--gzip-level <n>', 'compression level for .gz output, 1 (fast) to 9 (small)', gzipLevel, 6)
    .addOption(new Option('-q, --quiet', 'no progress bar or summary'))
    .addHelpText(
      'after',
      `
Device classes and rhythms:
  smart_meter      15-min readings (voltage, current, power, energy, temperature) + MQTT/TLS 8883 to the head end
  vehicle          10-s telemetry during trips, hourly heartbeat when parked; MQTT/TLS to the backend; CGNAT addresses
  plc              polled every 60 s by SCADA over Modbus 502 or OPC UA 4840; shift-driven process values
  patient_monitor  vitals every minute; HL7 over MLLP/TLS 2575 every 5 min
  pos_terminal     card transactions (TLS 443 to the payment gateway) during opening hours; 5-min health

Benign changes (must not alert): firmware rollout, PLC maintenance windows, daylight-saving shifts
(from the calendar: the default start spans the EU change on 2026-03-29), network outages with catch-up.

Examples:
  m2m-sentinel simulate -n 300 -d 1 -k 1 --seed 7 -o fleet.ndjson.gz -l fleet.labels.json
  m2m-sentinel simulate -n 1000 -d 7 -k 30 -o fixtures/generated/q.ndjson.gz -l fixtures/generated/q.labels.json`,
    )
    .action(async (o: {
      devices: number;
      days: number;
      seed: number;
      incidentsPerKind: number;
      kinds?: IncidentKind[];
      start: string;
      mix?: Partial<Record<DeviceClass, number>>;
      warmupHours?: number;
      rollout: boolean;
      maintenance: boolean;
      outage: boolean;
      out: string;
      labels?: string;
      quiet?: boolean;
      gzipLevel: number;
    }) => {
      const bar = createProgress({ label: 'simulate', quiet: o.quiet === true });
      const res = await simulateToFiles(
        {
          devices: o.devices,
          days: o.days,
          seed: o.seed,
          start: isoTime(o.start),
          incidentsPerKind: o.incidentsPerKind,
          ...(o.kinds ? { kinds: o.kinds } : {}),
          ...(o.mix ? { mix: o.mix } : {}),
          ...(o.warmupHours !== undefined ? { warmupMs: o.warmupHours * 3_600_000 } : {}),
          benign: { rollout: o.rollout, maintenance: o.maintenance, outage: o.outage },
        },
        { out: o.out, ...(o.labels ? { labels: o.labels } : {}), gzipLevel: o.gzipLevel, onProgress: (f, n) => bar.update(f, n) },
      );
      for (const m of missingIncidents(o.kinds ?? INCIDENT_KINDS, o.incidentsPerKind, res.labels.incidents)) {
        process.stderr.write(`note: ${m.missing} ${m.kind} incident${m.missing === 1 ? '' : 's'} not in the labels: no fitting device (or no observable span) in a ${o.devices}-device, ${o.days}-day fleet; more devices or days, or a --mix with the class it needs, make room\n`);
      }
      bar.done(
        `${formatCount(res.events)} events (${formatCount(res.byType.telemetry)} telemetry, ${formatCount(res.byType.connection)} connection) ` +
          `from ${res.labels.devices} devices, ${res.labels.incidents.length} incidents, ${res.labels.benign.length} benign changes → ${o.out}`,
      );
    });
}
