/**
 * `m2m-sentinel maintenance add|list|rm`: ad hoc maintenance windows, written to the compacted
 * maintenance topic every running instance reads (alerts/maintenance-topic.ts). While a window
 * covers a device's event time its findings are stored but not alerted.
 */
import { userInfo } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { parseDuration } from '../../lib/duration.js';
import { makeWindow, type AdhocWindow, type WindowRequest } from '../../alerts/maintenance.js';
import { brokersFromEnv, createKafka } from '../../kafka/client.js';
import { maintenanceTopic, putWindow, readMaintenance, windowJson } from '../../alerts/maintenance-topic.js';
import { EXIT, UsageError } from '../exit.js';
import { interactiveLogging } from '../logging.js';

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function time(v: string): number {
  const t = /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new InvalidArgumentError(`expected an ISO-8601 time with a zone, e.g. 2026-03-28T22:00:00Z, got "${v}"`);
  return t;
}

function duration(v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError(`expected a duration such as 30m or 2h, got "${v}"`);
  return ms;
}

interface AddFlags {
  device: string[];
  class: string[];
  pipeline?: string;
  start?: number;
  end?: number;
  for?: number;
  reason?: string;
  id?: string;
}

/** The window `add` writes, from its flags and the time now. */
export function windowFromFlags(o: AddFlags & { allDevices?: boolean }, now: number, user: string): AdhocWindow {
  const r: WindowRequest = { devices: o.device, classes: o.class, all_devices: o.allDevices === true };
  if (o.id !== undefined) r.id = o.id;
  if (o.pipeline !== undefined) r.pipeline = o.pipeline;
  if (o.start !== undefined) r.start_ms = o.start;
  if (o.end !== undefined) r.end_ms = o.end;
  if (o.for !== undefined) r.for_ms = o.for;
  if (o.reason !== undefined) r.reason = o.reason;
  const w = makeWindow(r, now, user);
  if (typeof w === 'string') throw new UsageError(w.replace('an end or a length', '--end or --for').replace('a length (2h) or an end time', '--for 2h, or --end <time>'));
  return w;
}

function describe(w: AdhocWindow, now: number): string {
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const scope = [...(w.devices ?? []).map((d) => `device ${d}`), ...(w.classes ?? []).map((c) => `class ${c}`)].join(', ') || 'every device';
  const state = now < w.start_ms ? 'scheduled' : now < w.end_ms ? 'active' : 'ended';
  return `${w.id}  ${iso(w.start_ms)} → ${iso(w.end_ms)}  ${state.padEnd(9)} ${w.pipeline ? `pipeline ${w.pipeline}, ` : ''}${scope}${w.reason ? `  "${w.reason}"` : ''}${w.created_by ? `  (by ${w.created_by})` : ''}`;
}

export function register(program: Command): void {
  const cmd = program
    .command('maintenance')
    .summary('ad hoc maintenance windows: findings stored, alerts held')
    .description(
      'Add, list and remove ad hoc maintenance windows. While a window covers a device (by id or class) its findings are ' +
        'stored but not alerted, by every running instance of every pipeline (or one, with --pipeline). Windows are ' +
        `records in the compacted Kafka topic ${maintenanceTopic()} (M2M_MAINTENANCE_TOPIC). Scheduled windows belong in the pipeline file (maintenance:).`,
    )
    .addHelpText(
      'after',
      `
Examples:
  m2m-sentinel maintenance add --device plc-07 --for 2h --reason "firmware 4.3 rollout"
  m2m-sentinel maintenance add --class pos_terminal --pipeline pos-terminals --start 2026-03-28T22:00:00Z --end 2026-03-29T02:00:00Z
  m2m-sentinel maintenance list
  m2m-sentinel maintenance rm mw-20260328-1a2b3c
Exit status: 0 ok; 2 for a bad flag or an unknown id; 3 when Kafka cannot be reached.`,
    );

  cmd
    .command('add')
    .description('add a window (now for --for, or from --start to --end); prints its id')
    .option('-d, --device <id>', 'device in scope (repeatable)', collect, [])
    .option('-c, --class <class>', 'device class in scope (repeatable)', collect, [])
    .option('-p, --pipeline <name>', 'only this pipeline (default: every pipeline)')
    .option('--start <time>', 'start, ISO-8601 with a zone (default: now)', time)
    .option('--end <time>', 'end, ISO-8601 with a zone', time)
    .option('--for <duration>', 'length from the start, e.g. 2h', duration)
    .option('-r, --reason <text>', 'why (shown in list and kept with the window)')
    .option('--id <id>', 'id to use (default: generated); adding an existing id replaces that window')
    .option('--all-devices', 'a window over every device (of the pipeline, or of all of them)')
    .action(async (o: AddFlags & { allDevices?: boolean }) => {
      if (!o.device.length && !o.class.length && !o.allDevices) throw new UsageError('name the devices in scope (--device, --class), or --all-devices for all of them');
      let user = 'cli';
      try {
        user = userInfo().username || user;
      } catch {
        // no passwd entry (containers): keep "cli"
      }
      const w = windowFromFlags(o, Date.now(), user);
      interactiveLogging();
      await putWindow(createKafka({ brokers: brokersFromEnv(), retries: 2 }), w.id, w);
      process.stdout.write(`${w.id}\n`);
      process.stderr.write(`added: ${describe(w, Date.now())}\n`);
      process.exitCode = EXIT.ok;
    });

  cmd
    .command('list')
    .description('list the windows (scheduled, active and ended ones still on the topic)')
    .option('--json', 'NDJSON, one window per line')
    .option('--current', 'only windows not ended yet')
    .action(async (o: { json?: boolean; current?: boolean }) => {
      interactiveLogging();
      const now = Date.now();
      const all = (await readMaintenance(createKafka({ brokers: brokersFromEnv(), retries: 2 }))).filter((w) => !o.current || w.end_ms > now);
      for (const w of all) process.stdout.write((o.json ? JSON.stringify(windowJson(w)) : describe(w, now)) + '\n');
      if (!o.json && !all.length) process.stderr.write('no maintenance windows\n');
    });

  cmd
    .command('rm')
    .alias('remove')
    .description('remove windows by id (a removed window holds nothing from then on)')
    .argument('<ids...>', 'window ids, as add and list print them')
    .action(async (ids: string[]) => {
      interactiveLogging();
      const kafka = createKafka({ brokers: brokersFromEnv(), retries: 2 });
      const known = new Set((await readMaintenance(kafka)).map((w) => w.id));
      const unknown = ids.filter((id) => !known.has(id));
      if (unknown.length) throw new UsageError(`no maintenance window ${unknown.map((u) => `"${u}"`).join(', ')} (see maintenance list)`);
      for (const id of ids) await putWindow(kafka, id, null);
      process.stderr.write(`removed ${ids.join(', ')}\n`);
    });
}
