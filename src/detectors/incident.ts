/**
 * One incident, one finding. A sustained anomaly (the same detector, device and key firing again
 * within `gapMs` of event time) extends the open finding — same first_ts and so the same id, a
 * newer last_ts, a higher count, the peak score — instead of raising a new one per event.
 *
 * The open incidents live inside the detector's own per-device state (plain JSON), so they are
 * checkpointed and replayed like everything else.
 */
import { severityOf } from './score.js';
import type { FindingDraft } from './types.js';

export interface OpenIncident {
  first_ts: number;
  last_ts: number;
  count: number;
  peak: number;
}

export type IncidentBook = Record<string, OpenIncident>;

/**
 * Fold a fresh observation into the book and return the finding to emit (first raise or update).
 * `draft` carries the observation's own score/observed/expected; the returned finding carries the
 * incident's first_ts, count and peak score. The book is updated in place.
 */
export function raise(
  book: IncidentBook,
  draft: Omit<FindingDraft, 'first_ts' | 'last_ts' | 'count' | 'severity'> & { ts: number },
  gapMs: number,
): FindingDraft {
  const open = book[draft.key];
  let inc: OpenIncident;
  if (open && draft.ts - open.last_ts <= gapMs && draft.ts >= open.first_ts) {
    open.last_ts = Math.max(open.last_ts, draft.ts);
    open.count += 1;
    if (draft.score > open.peak) open.peak = draft.score;
    inc = open;
  } else {
    inc = { first_ts: draft.ts, last_ts: draft.ts, count: 1, peak: draft.score };
    book[draft.key] = inc;
  }
  const { ts: _ts, ...rest } = draft;
  return {
    ...rest,
    first_ts: inc.first_ts,
    last_ts: inc.last_ts,
    count: inc.count,
    score: inc.peak,
    severity: severityOf(inc.peak),
  };
}

/** Forget incidents idle for longer than gapMs so the book stays bounded. */
export function closeStale(book: IncidentBook, nowTs: number, gapMs: number): void {
  for (const k in book) if (nowTs - book[k]!.last_ts > gapMs) delete book[k];
}

/** True while an incident for `key` is open at `ts` (used to avoid re-learning from anomalies). */
export function isOpen(book: IncidentBook, key: string, ts: number, gapMs: number): boolean {
  const open = book[key];
  return open !== undefined && ts - open.last_ts <= gapMs;
}

/**
 * Like raise, but returns null for updates that would tell the analyst nothing new, so a
 * sustained condition (a stuck sensor read every second, a policy breach on every poll) does not
 * write one finding version per event. An update is emitted when the incident opens, when its
 * peak score rises, when its count reaches a power of two, and otherwise at most once per
 * `minIntervalMs` of event time. The book always holds the exact count, last_ts and peak, so the
 * stored finding lags the truth by at most `minIntervalMs` (or a doubling of count).
 */
export function raiseThrottled(
  book: IncidentBook,
  draft: Omit<FindingDraft, 'first_ts' | 'last_ts' | 'count' | 'severity'> & { ts: number },
  gapMs: number,
  minIntervalMs = 5 * 60_000,
): FindingDraft | null {
  if (extendQuietly(book, draft.key, draft.ts, draft.score, gapMs, minIntervalMs)) return null;
  const f = raise(book, draft, gapMs);
  (book[draft.key] as EmittedIncident).em = draft.ts;
  return f;
}

/**
 * raiseThrottled's decision, taken before a finding is built: an observation that only extends
 * an open incident without being emitted is folded into the book here (count, last_ts; the peak
 * does not move, or it would be emitted) and true is returned, so a detector on a sustained
 * condition (a scan, every connection a new port) can skip formatting the finding. False: the
 * observation opens an incident or is emitted; call raiseThrottled.
 */
export function extendQuietly(book: IncidentBook, key: string, ts: number, score: number, gapMs: number, minIntervalMs = 5 * 60_000): boolean {
  const open = book[key] as EmittedIncident | undefined;
  // The negation of raise's "extends the open incident" test, so that a NaN (a damaged checkpoint) takes the same branch.
  if (open === undefined || !(ts - open.last_ts <= gapMs && ts >= open.first_ts)) return false;
  const c = open.count + 1;
  if (score > open.peak || (c & (c - 1)) === 0 || ts - (open.em ?? open.first_ts) >= minIntervalMs) return false;
  if (ts > open.last_ts) open.last_ts = ts;
  open.count = c;
  return true;
}

/** An open incident as raiseThrottled keeps it: also when it was last emitted. */
interface EmittedIncident extends OpenIncident {
  em?: number;
}

/** Number of open incidents in a book (books are small; this is for caps, not the hot path). */
function openCount(book: IncidentBook): number {
  let n = 0;
  for (const _ in book) n++;
  return n;
}

/**
 * The key to raise under while keeping the book bounded: a key already open keeps its own
 * incident; past `max` open incidents, new keys share one `overflow` incident.
 */
export function cappedKey(book: IncidentBook, key: string, max: number, overflow = '*'): string {
  return book[key] !== undefined || openCount(book) < max ? key : overflow;
}
