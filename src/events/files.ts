/**
 * Reading recorded events from files (replay, backtest, fixtures). NDJSON, optionally gzipped;
 * lines are yielded raw so that replay sends the original bytes and backtest decodes them with
 * the same decoder as the consumers.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';

export interface RawLine {
  line: string;
  /** 1-based line number in the file, for error messages. */
  lineNo: number;
}

export async function* readNdjsonLines(file: string): AsyncGenerator<RawLine> {
  const input = createReadStream(file);
  const stream = file.endsWith('.gz') ? input.pipe(createGunzip()) : input;
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    if (line.trim().length === 0) continue;
    yield { line, lineNo };
  }
}

/** Count non-empty lines, for progress bars (a fast pass; files are read again to replay). */
export async function countLines(file: string): Promise<number> {
  let n = 0;
  for await (const _ of readNdjsonLines(file)) n++;
  return n;
}
