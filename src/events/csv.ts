/**
 * Reading data-historian CSV exports (PI, Ignition, Wonderware, Grafana): a header row, a
 * timestamp column and one column per metric; the device comes from a column or is given once
 * for the whole file. Each row becomes one telemetry object in the canonical shape, which the
 * caller then decodes with the consumers' decoder, so CSV input is validated exactly like Kafka
 * input and bad rows are counted by the same reasons.
 */

export interface CsvOptions {
  /** Timestamp column; default: the first header named ts, timestamp, time, datetime, date or _time. */
  tsColumn?: string;
  /** Column holding the device id. */
  deviceColumn?: string;
  /** Device id for every row (single-device exports). */
  device?: string;
  /** Column holding the device class, or a class for every row. */
  classColumn?: string;
  deviceClass?: string;
  /** Field delimiter; default: sniffed from the header (`,` `;` tab `|`). */
  delimiter?: string;
  /**
   * Offset of naive timestamps ("2026-03-01 12:00:00", no zone) from UTC, in minutes. Historians
   * often export plant local time; default 0 (UTC). Timestamps with a zone are left alone.
   */
  naiveUtcOffsetMin?: number;
  /** Columns to ignore (quality flags, units). */
  ignore?: string[];
}

export type CsvProblem = { lineNo: number; message: string };

const TS_NAMES = ['ts', 'timestamp', 'time', 'datetime', 'date', '_time', 'time_stamp', 'date_time'];
/** Historian placeholders for "no reading". */
const MISSING = new Set(['', 'nan', 'null', 'none', 'n/a', 'na', '-', '#n/a']);

export function sniffDelimiter(header: string): string {
  let best = ',';
  let bestN = -1;
  for (const d of [',', ';', '\t', '|']) {
    const n = splitCsvLine(header, d).length;
    if (n > bestN) {
      best = d;
      bestN = n;
    }
  }
  return best;
}

/** RFC 4180 field splitting for one physical line (quoted fields, doubled quotes). */
export function splitCsvLine(line: string, delim: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else quoted = false;
      } else cur += c;
    } else if (c === '"' && cur.length === 0) quoted = true;
    else if (c === delim) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

/**
 * A number in a cell. Every quantifier here is followed by something it cannot also match, so a
 * long run of digits is scanned once: the pattern this replaces, `\d+\.?\d*`, could split the
 * run between its two quantifiers at every position and took quadratic time to refuse one.
 */
const NUMBER_CELL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Longer cells are text: no reading needs more digits than this. */
const MAX_NUMBER_CHARS = 64;

/** A cell as a number when it is one (decimal comma accepted with `;` files), else the raw text. */
export function parseCell(cell: string, decimalComma: boolean): number | string | null {
  if (MISSING.has(cell.toLowerCase())) return null;
  if (cell.length > MAX_NUMBER_CHARS) return cell;
  const s = decimalComma && /^[+-]?\d+,\d+$/.test(cell) ? cell.replace(',', '.') : cell;
  if (NUMBER_CELL.test(s)) return Number(s);
  if (/^(true|false)$/i.test(s)) return s.toLowerCase() === 'true' ? 1 : 0;
  return cell;
}

/** Naive "YYYY-MM-DD[ T]HH:MM[:SS[.fff]]" → ISO with an explicit offset, so Date.parse never uses the host zone. */
export function normalizeTimestamp(v: string, offsetMin: number): string {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)$/.exec(v);
  if (!m) return v;
  const sign = offsetMin < 0 ? '-' : '+';
  const a = Math.abs(offsetMin);
  const off = `${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
  return `${m[1]}T${m[2]!.replace(',', '.')}${off}`;
}

export class CsvMapper {
  private readonly cols: string[];
  private readonly tsIdx: number;
  private readonly devIdx: number;
  private readonly clsIdx: number;
  private readonly metricIdx: number[];
  readonly delimiter: string;

  constructor(header: string, private readonly opts: CsvOptions) {
    this.delimiter = opts.delimiter ?? sniffDelimiter(header);
    this.cols = splitCsvLine(header.replace(/^\uFEFF/, ''), this.delimiter);
    const find = (name: string | undefined): number => (name === undefined ? -1 : this.cols.indexOf(name));
    this.tsIdx = opts.tsColumn !== undefined ? find(opts.tsColumn) : this.cols.findIndex((c) => TS_NAMES.includes(c.toLowerCase()));
    if (this.tsIdx < 0) {
      throw new CsvHeaderError(opts.tsColumn !== undefined ? `no column "${opts.tsColumn}" in the header (${this.cols.join(', ')})` : `no timestamp column (looked for ${TS_NAMES.join(', ')}); name it with --ts-column`);
    }
    this.devIdx = find(opts.deviceColumn);
    if (opts.deviceColumn !== undefined && this.devIdx < 0) throw new CsvHeaderError(`no column "${opts.deviceColumn}" in the header (${this.cols.join(', ')})`);
    if (opts.deviceColumn === undefined && opts.device === undefined) throw new CsvHeaderError('CSV input needs the device: --device-column <name> or --device <id>');
    this.clsIdx = find(opts.classColumn);
    const skip = new Set([this.tsIdx, this.devIdx, this.clsIdx]);
    const ignore = new Set(opts.ignore ?? []);
    this.metricIdx = this.cols.map((_, i) => i).filter((i) => !skip.has(i) && !ignore.has(this.cols[i]!));
  }

  get columns(): readonly string[] {
    return this.cols;
  }

  row(line: string): Record<string, unknown> {
    const cells = splitCsvLine(line, this.delimiter);
    const decimalComma = this.delimiter === ';';
    const rawTs = cells[this.tsIdx] ?? '';
    const tsCell = parseCell(rawTs, false);
    const ts = typeof tsCell === 'string' ? normalizeTimestamp(tsCell, this.opts.naiveUtcOffsetMin ?? 0) : tsCell;
    const metrics: Record<string, unknown> = {};
    for (const i of this.metricIdx) {
      const v = parseCell(cells[i] ?? '', decimalComma);
      if (v !== null) metrics[this.cols[i]!] = v;
    }
    const obj: Record<string, unknown> = {
      type: 'telemetry',
      device_id: this.devIdx >= 0 ? cells[this.devIdx] : this.opts.device,
      ts,
      metrics,
    };
    const cls = this.clsIdx >= 0 ? cells[this.clsIdx] : this.opts.deviceClass;
    if (cls) obj.device_class = cls;
    return obj;
  }
}

export class CsvHeaderError extends Error {}

