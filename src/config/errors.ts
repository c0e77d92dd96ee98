/**
 * Configuration errors are values with places (file, line, column, field path), rendered once at
 * the edge (the CLI, the runner's startup log). Nothing in src/config throws for a user mistake.
 */

export type ConfigErrorCode =
  | 'io_error'
  | 'yaml_syntax'
  | 'multiple_documents'
  | 'not_a_pipeline'
  | 'unknown_key'
  | 'unknown_detector'
  | 'unknown_route_type'
  | 'detector_entry'
  | 'route_entry'
  | 'missing_key'
  | 'wrong_type'
  | 'bad_value'
  | 'bad_duration'
  | 'out_of_range'
  | 'bad_format'
  | 'undefined_variable'
  | 'bad_interpolation'
  | 'duplicate_id'
  | 'duplicate_value'
  | 'undefined_route'
  | 'bad_mapping'
  | 'feedback_loop'
  | 'pipeline_conflict'
  | 'group_conflict'
  | 'route_off';

export interface ConfigError {
  code: ConfigErrorCode;
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Field path in the pipeline file, e.g. `detectors[2].fanout.window`; empty for the document. */
  path: string;
  message: string;
  expected?: string;
  found?: string;
  /** A likely intended value ("did you mean"). */
  hint?: string;
  /** Free-form advice when a did-you-mean does not fit. */
  note?: string;
}

/** `file:line:col: path: message (expected X, found Y) — did you mean "Z"?` */
export function formatConfigError(e: ConfigError): string {
  let s = `${e.file}:${e.line}:${e.column}: `;
  if (e.path) s += `${e.path}: `;
  s += e.message;
  const ef: string[] = [];
  if (e.expected !== undefined) ef.push(`expected ${e.expected}`);
  if (e.found !== undefined) ef.push(`found ${e.found}`);
  if (ef.length) s += ` (${ef.join(', ')})`;
  if (e.hint !== undefined) s += ` — did you mean "${e.hint}"?`;
  if (e.note !== undefined) s += ` — ${e.note}`;
  return s;
}

/**
 * Edit distance counting an adjacent transposition as one edit (optimal string alignment):
 * "paht" → "path" is one slip of the fingers, not two.
 */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, cur[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      cur[j] = d;
    }
    rows.push(cur);
  }
  return rows[a.length]![b.length]!;
}

/**
 * The closest candidate, if it is close enough to be a plausible typo. The bound grows with the
 * word so that "fanot" → "fanout" is offered but "foo" → "fanout" is not.
 */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const cl = c.toLowerCase();
    let d = levenshtein(w, cl);
    // Separator confusion (min-distinct-dst vs min_distinct_dst) is a common habit, not a typo.
    if (w.replace(/[-\s]/g, '_') === cl) d = 0.5;
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.min(3, Math.floor(Math.max(w.length, best.length) / 3)));
  return bestD <= limit ? best : undefined;
}

/** Short rendering of a value for "found …". */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  return 'a map';
}

/** `['detectors', 2, 'fanout', 'window']` → `detectors[2].fanout.window`. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += s ? `.${p}` : p;
  }
  return s;
}
