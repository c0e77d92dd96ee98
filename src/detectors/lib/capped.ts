/**
 * A capped key → last-seen map stored as a plain object. When it grows past `cap` the least
 * recently seen tenth is dropped in one pass, so eviction is amortised O(1) per insert and the
 * map never exceeds `cap` entries.
 */
export function touchCapped(map: Record<string, number>, size: number, key: string, ts: number, cap: number): number {
  const prev = map[key];
  if (prev !== undefined) {
    if (ts > prev) map[key] = ts;
    return size;
  }
  map[key] = ts;
  size++;
  if (size > cap) size = evictOldest(map, size, Math.max(1, Math.ceil(cap / 10)));
  return size;
}

/** Drop the `k` entries with the smallest values; returns the new size. */
function evictOldest(map: Record<string, number>, size: number, k: number): number {
  const vals: number[] = [];
  for (const key in map) vals.push(map[key]!);
  if (vals.length <= k) {
    for (const key in map) delete map[key];
    return 0;
  }
  vals.sort((a, b) => a - b);
  const cut = vals[k - 1]!;
  let dropped = 0;
  for (const key in map) {
    if (dropped >= k) break;
    if (map[key]! <= cut) {
      delete map[key];
      dropped++;
    }
  }
  return size - dropped;
}
