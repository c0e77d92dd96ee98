/**
 * Findings to ClickHouse, coalesced across batches and partitions.
 *
 * An insert costs the embedded engine 6–13 ms of CPU whatever its size (a new MergeTree part
 * each time; 40 µs more per row), and a server a round trip and a part too. Written per batch,
 * a fleet where nearly every batch raises something paid that fixed cost for every batch:
 * removing finding versions from the bench fleet (most batches then raise nothing) made the
 * pipeline 30% faster. So findings wait in memory until an insert is worth it (`maxRows`), has
 * waited `maxDelayMs`, or something that must come after them asks for them: a checkpoint (the
 * state must never move past findings that are not durable, or a crash would lose them) or a
 * publication of alerts (an alert names a finding the analyst must be able to look up).
 *
 * Tickets: add() returns the count of findings queued so far; durable(t) resolves true once
 * every finding up to ticket t is written, false if any of them was given up (only when
 * shutting down: a restart replays them from the last checkpoint). Inserts run one at a time,
 * in order.
 */
import type { Finding } from '../detectors/types.js';
import { retry } from '../lib/retry.js';

/** What the writer carries: findings, and (for the runner) the alert rows that must be as durable as they are. */
export interface FindingsWriterOptions<T = Finding> {
  /** One insert (retried here until it succeeds or giveUp says so); resolves to the rows written. */
  write(findings: T[]): Promise<number>;
  /** Queued findings that make an insert due at once. Default 5,000. */
  maxRows?: number;
  /** Longest a queued finding waits for an insert when nothing asks for it. Default 500 ms. */
  maxDelayMs?: number;
  /** A failed attempt (to report and count), before the wait for the next one. */
  onError?(err: unknown, attempt: number): void;
  onWritten?(rows: number, ms: number): void;
  /** After a failed attempt: whether to stop retrying (the findings are then given up). */
  giveUp?(attempt: number): boolean;
  /** Retry waits (ms): first and longest. Defaults 250 and 5,000. */
  initialRetryMs?: number;
  maxRetryMs?: number;
}

export interface FindingsWriter<T = Finding> {
  /** Queue findings; the returned ticket is what durable() takes to wait for them. */
  add(findings: readonly T[]): number;
  /** Resolves once every finding up to `ticket` is written (true) or given up (false); asks for an insert if none covers it. */
  durable(ticket: number): Promise<boolean>;
  /** Whether every finding up to `ticket` is written already. */
  isWritten(ticket: number): boolean;
  /** Findings queued or being inserted, not yet written. */
  backlog(): number;
  /** True from a failed insert attempt until an insert succeeds: callers stop adding work. */
  failing(): boolean;
  /** Write what is queued and stop the timer; resolves as durable() does. */
  close(): Promise<boolean>;
}

export function createFindingsWriter<T = Finding>(opts: FindingsWriterOptions<T>): FindingsWriter<T> {
  const maxRows = opts.maxRows ?? 5_000;
  const maxDelay = opts.maxDelayMs ?? 500;
  let queued: T[] = [];
  /** Tickets issued: findings added since the start. */
  let added = 0;
  /** Every finding up to this ticket is written. */
  let written = 0;
  /** Every finding up to this ticket is written or given up. */
  let settledUpTo = 0;
  /** Findings after this ticket were given up once: no later ticket can be "all written" again. */
  let lostAfter = Number.POSITIVE_INFINITY;
  const ok = (t: number): boolean => t <= written && t <= lostAfter;
  let inserting = 0;
  let busy = false;
  /** An insert was due (timer, rows) while another ran: start the next one as soon as it ends. */
  let due = false;
  let lastFailed = false;
  let timer: NodeJS.Timeout | undefined;
  const waiters: { t: number; resolve: (ok: boolean) => void }[] = [];

  function settle(): void {
    let keep = 0;
    for (const w of waiters) {
      if (w.t <= settledUpTo) w.resolve(ok(w.t));
      else waiters[keep++] = w;
    }
    waiters.length = keep;
  }

  function durable(t: number): Promise<boolean> {
    // Past a loss no ticket can be "all written" again: say so without waiting for inserts.
    if (t <= settledUpTo || t > lostAfter) return Promise.resolve(ok(t));
    const p = new Promise<boolean>((resolve) => waiters.push({ t, resolve }));
    // Its findings are queued (an insert now, or right after the one running) or being inserted.
    kick();
    return p;
  }

  function arm(): void {
    if (timer !== undefined || queued.length === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      kick();
    }, maxDelay);
    timer.unref?.();
  }

  /** A caller's hook must not break the writer (an exception here would leave its promises hanging). */
  function safely(fn: () => void): void {
    try {
      fn();
    } catch {
      /* reporting is best effort */
    }
  }

  function kick(): void {
    if (queued.length === 0) return;
    if (busy) {
      due = true;
      return;
    }
    due = false;
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    const batch = queued;
    queued = [];
    const upTo = added;
    inserting = batch.length;
    busy = true;
    const t0 = Date.now();
    void retry(() => opts.write(batch), {
      initialMs: opts.initialRetryMs ?? 250,
      maxMs: opts.maxRetryMs ?? 5_000,
      onError: (e, n) => {
        lastFailed = true;
        safely(() => opts.onError?.(e, n));
        let stop = false;
        safely(() => (stop = opts.giveUp?.(n) ?? false));
        return !stop;
      },
    })
      .then(
        (rows) => {
          lastFailed = false;
          written = upTo;
          safely(() => opts.onWritten?.(rows, Date.now() - t0));
        },
        () => {
          // Given up (the hooks cannot throw into retry, so only giveUp stops it).
          if (lostAfter > settledUpTo) lostAfter = settledUpTo;
        },
      )
      .finally(() => {
        settledUpTo = upTo;
        inserting = 0;
        busy = false;
        settle();
        if (due || queued.length >= maxRows) kick();
        else arm();
      })
      .catch(() => undefined);
  }

  return {
    add(findings) {
      if (findings.length === 0) return added;
      for (const f of findings) queued.push(f);
      added += findings.length;
      if (queued.length >= maxRows) kick();
      else arm();
      return added;
    },
    isWritten: ok,
    durable,
    backlog: () => queued.length + inserting,
    failing: () => lastFailed,
    close() {
      // Write what is queued even past a loss (durable() then answers at once, without waiting).
      kick();
      const p = durable(added);
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      return p;
    },
  };
}
