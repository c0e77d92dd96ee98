/**
 * One batch or one checkpoint at a time per partition: a checkpoint must see the engine, the
 * outputs and `next` of whole batches whose findings are durable, never a batch half done. The
 * work in flight is tracked so that stopping can wait for it.
 */
export interface PartitionTurns {
  /** Whether a turn of this partition is running or queued. */
  locked(k: string): boolean;
  /** Run `fn` once the partition's earlier turns are done. */
  exclusive<T>(k: string, fn: () => Promise<T>): Promise<T>;
  /** Count `p` as in flight until it settles. */
  track(p: Promise<void>): void;
  /** Everything in flight, settled. */
  settled(): Promise<unknown>;
}

export function createTurns(): PartitionTurns {
  const locks = new Map<string, Promise<void>>();
  const inFlight = new Set<Promise<void>>();
  return {
    locked: (k) => locks.has(k),
    async exclusive<T>(k: string, fn: () => Promise<T>): Promise<T> {
      const prev = locks.get(k);
      let release!: () => void;
      const mine = new Promise<void>((r) => (release = r));
      const tail = prev ? prev.then(() => mine) : mine;
      locks.set(k, tail);
      if (prev) await prev;
      try {
        return await fn();
      } finally {
        release();
        if (locks.get(k) === tail) locks.delete(k);
      }
    },
    track(p) {
      inFlight.add(p);
      // Settled either way; a rejection stays the caller's to handle.
      const done = (): void => void inFlight.delete(p);
      p.then(done, done);
    },
    settled: () => Promise.allSettled([...inFlight]),
  };
}
