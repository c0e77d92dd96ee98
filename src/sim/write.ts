/**
 * Writing a simulated fleet: NDJSON events (gzip when the name ends in .gz) and the labels file.
 * The wire format is the design brief's: ISO-8601 `ts`, one event per line, event-time order.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { createGzip, constants as zc } from 'node:zlib';
import type { Writable } from 'node:stream';
import { createFleet, type SimOptions } from './fleet.js';
import { iso } from './time.js';
import type { LabelsFile, SimEvent } from './types.js';

export interface SimulateResult {
  events: number;
  bytes: number;
  labels: LabelsFile;
  byType: { telemetry: number; connection: number };
}

export interface SimulateIo {
  out: string;
  labels?: string;
  /** Called after each chunk with the fraction of event time done and events written so far. */
  onProgress?: (fraction: number, events: number) => void;
  /** zlib level for .gz outputs (1 fast … 9 small). */
  gzipLevel?: number;
}

export function eventLine(e: SimEvent): string {
  return JSON.stringify({ ...e, ts: iso(e.ts) });
}

export async function simulateToFiles(opts: SimOptions, io: SimulateIo): Promise<SimulateResult> {
  const fleet = createFleet(opts);
  await mkdir(dirname(io.out), { recursive: true });
  const file: WriteStream = createWriteStream(io.out);
  const sink: Writable = io.out.endsWith('.gz') ? createGzip({ level: io.gzipLevel ?? zc.Z_DEFAULT_COMPRESSION }) : file;
  if (sink !== file) sink.pipe(file);
  let events = 0;
  let bytes = 0;
  const byType = { telemetry: 0, connection: 0 };
  const span = fleet.end - fleet.start;
  for (const { events: evs, until } of fleet.chunks()) {
    if (evs.length > 0) {
      let s = '';
      for (const e of evs) {
        s += eventLine(e) + '\n';
        byType[e.type]++;
      }
      events += evs.length;
      bytes += Buffer.byteLength(s);
      if (!sink.write(s)) await once(sink, 'drain');
    }
    io.onProgress?.((until - fleet.start) / span, events);
  }
  sink.end();
  await once(file, 'close');
  if (io.labels) {
    await mkdir(dirname(io.labels), { recursive: true });
    await writeFile(io.labels, JSON.stringify(fleet.labels, null, 1) + '\n');
  }
  return { events, bytes, labels: fleet.labels, byType };
}
