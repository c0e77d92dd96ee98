/**
 * Writing a world: its wire lines in arrival order (gzip when the name ends in .gz) and its
 * labels file, which carries the world's spec. World 0, the benchmark, is written by the plain
 * simulator exactly as scripts/gen-quality-fleet.sh writes it.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { simulateToFiles } from '../write.js';
import type { LabelsFile } from '../types.js';
import { createWorld } from './fleet.js';
import type { WorldSpec } from './spec.js';

export interface WorldFiles {
  out: string;
  labels: string;
  gzipLevel?: number;
  onProgress?: (fraction: number, events: number) => void;
}

export interface WorldWritten {
  lines: number;
  labels: LabelsFile & { world: WorldSpec };
}

export async function writeWorld(spec: WorldSpec, io: WorldFiles): Promise<WorldWritten> {
  if (spec.kind === 'benchmark') {
    const res = await simulateToFiles(
      { devices: spec.devices, days: spec.days, seed: spec.seed, incidentsPerKind: spec.incidents_per_kind, start: Date.parse(spec.start) },
      { out: io.out, labels: io.labels, gzipLevel: io.gzipLevel ?? 1, ...(io.onProgress ? { onProgress: io.onProgress } : {}) },
    );
    // The benchmark's own labels file, plus the spec, so every world's labels say what it assumed.
    const labels = { ...res.labels, world: spec };
    await writeFile(io.labels, JSON.stringify(labels, null, 1) + '\n');
    return { lines: res.events, labels };
  }
  const fleet = createWorld(spec);
  await mkdir(dirname(io.out), { recursive: true });
  const file = createWriteStream(io.out);
  const sink: Writable = io.out.endsWith('.gz') ? createGzip({ level: io.gzipLevel ?? 1 }) : file;
  if (sink !== file) sink.pipe(file);
  let lines = 0;
  const span = fleet.end - fleet.start;
  for (const chunk of fleet.lines()) {
    if (chunk.lines.length) {
      lines += chunk.lines.length;
      if (!sink.write(chunk.lines.join('\n') + '\n')) await once(sink, 'drain');
    }
    io.onProgress?.((chunk.until - fleet.start) / span, lines);
  }
  sink.end();
  await once(file, 'close');
  await mkdir(dirname(io.labels), { recursive: true });
  await writeFile(io.labels, JSON.stringify(fleet.labels, null, 1) + '\n');
  return { lines, labels: fleet.labels };
}
