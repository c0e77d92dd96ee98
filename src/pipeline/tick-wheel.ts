/**
 * When the engine visits each device at a tick: a device is visited only once the watermark has
 * reached its due time (the earliest of its eviction time and its tickers' nextTick()), instead
 * of every device at every tick.
 *
 * Due times are kept in buckets of `every` ms (a timer wheel whose occupied bucket keys sit in a
 * min-heap). A slot has at most one valid entry: the one whose key is its current `sched`, so
 * moving a device earlier just adds an entry, and the later ones are found stale when their
 * bucket comes due. Slots are the engine's (indices reused after eviction).
 */
export class TickWheel {
  private readonly buckets = new Map<number, number[]>();
  /** Min-heap of the keys in `buckets`. */
  private readonly heap: number[] = [];
  /** Per slot: bucket key of its valid entry; +Infinity: none. */
  private sched: Float64Array<ArrayBuffer>;

  constructor(
    private readonly every: number,
    capacity: number,
  ) {
    this.sched = new Float64Array(capacity).fill(Number.POSITIVE_INFINITY);
  }

  /** Room for `n` slots (the engine's slot arrays grew). */
  grow(n: number): void {
    const b = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    b.set(this.sched);
    this.sched = b;
  }

  /** Visit `slot` once the stream watermark reaches `due` (stream frame), unless it is due earlier already. */
  schedule(slot: number, due: number): void {
    // NaN (a detector that cannot say) is "every tick".
    const k = due === due ? Math.floor(due / this.every) : Number.NEGATIVE_INFINITY;
    if (!(k < this.sched[slot]!)) return;
    this.sched[slot] = k;
    let b = this.buckets.get(k);
    if (b === undefined) {
      b = [];
      this.buckets.set(k, b);
      this.heapPush(k);
    }
    b.push(slot);
  }

  /** `slot` has no visit due (a new device, or one evicted): its entries are stale from now. */
  cancel(slot: number): void {
    this.sched[slot] = Number.POSITIVE_INFINITY;
  }

  /** Append to `out` the slots due by bucket `cur` (the watermark's), each once, and unschedule them. */
  takeDue(cur: number, out: number[]): void {
    const heap = this.heap;
    const sched = this.sched;
    while (heap.length && heap[0]! <= cur) {
      const k = this.heapPop();
      const b = this.buckets.get(k)!;
      this.buckets.delete(k);
      for (let i = 0; i < b.length; i++) {
        const slot = b[i]!;
        if (sched[slot] !== k) continue; // stale (moved earlier, visited, or evicted)
        sched[slot] = Number.POSITIVE_INFINITY;
        out.push(slot);
      }
    }
  }

  /** Nothing scheduled (a restore rebuilds the schedule). */
  clear(): void {
    this.buckets.clear();
    this.heap.length = 0;
    this.sched.fill(Number.POSITIVE_INFINITY);
  }

  private heapPush(k: number): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(k);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p]! <= k) break;
      heap[i] = heap[p]!;
      i = p;
    }
    heap[i] = k;
  }

  private heapPop(): number {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && heap[r]! < heap[l]! ? r : l;
        if (heap[c]! >= last) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}
