/** Retry an I/O step until it succeeds or the caller gives up; never skip silently. */
export interface RetryOptions {
  initialMs?: number;
  maxMs?: number;
  /** Give up after this many attempts (default: never). */
  attempts?: number;
  /** Called before each wait; return false to stop retrying (e.g. shutting down). */
  onError?: (err: unknown, attempt: number) => boolean | void | Promise<boolean | void>;
}

export class GaveUp extends Error {}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function retry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  let wait = opts.initialMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const keepGoing = (await opts.onError?.(err, attempt)) !== false;
      if (!keepGoing || (opts.attempts !== undefined && attempt >= opts.attempts)) {
        throw new GaveUp(`gave up after ${attempt} attempts: ${String(err)}`, { cause: err });
      }
      await sleep(wait);
      wait = Math.min(wait * 2, opts.maxMs ?? 10_000);
    }
  }
}
