/**
 * Flat numeric detector state: plain arrays of numbers that V8 keeps as packed doubles (8 bytes a
 * value, written in place without allocating), NaN standing for "no value yet". JSON writes NaN as
 * null, so state read back from a JSON checkpoint goes through packedDoubles() in revive().
 */

/** An array of n copies of x whose elements V8 keeps as unboxed doubles (packed, exact length). */
export function doubles(n: number, x: number): number[] {
  if (n === 0) return [];
  // Built from a double so the elements kind is PACKED_DOUBLE from the start, then copied so the
  // backing store has no spare capacity left over from the pushes.
  const a: number[] = [0.5];
  for (let i = 1; i < n; i++) a.push(0.5);
  for (let i = 0; i < n; i++) a[i] = x;
  return a.slice(0, n);
}

/**
 * A JSON array of numbers (null: NaN, unless `nulls` is false) rebuilt as packed doubles;
 * undefined if it is not one.
 */
export function packedDoubles(a: unknown, nulls = true): number[] | undefined {
  if (!Array.isArray(a)) return undefined;
  const out = doubles(a.length, 0);
  for (let i = 0; i < a.length; i++) {
    const x: unknown = a[i];
    if (x === null && nulls) out[i] = NaN;
    else if (typeof x === 'number') out[i] = x;
    else return undefined;
  }
  return out;
}

/** x, or 0 where it is absent (NaN). */
export function orZero(x: number): number {
  return x === x ? x : 0;
}

/** What optionalPacked() returns for a value that is not an array of numbers of the length asked for. */
export const NOT_PACKED: unique symbol = Symbol('not packed');

/**
 * An optional array of a checkpointed state: null and undefined as they are (each layout says which
 * one means absent and refuses the other), an array of numbers (null: NaN) as packed doubles of
 * length `len` (any length when negative), NOT_PACKED for anything else.
 */
export function optionalPacked(a: unknown, len = -1): number[] | null | undefined | typeof NOT_PACKED {
  if (a === null || a === undefined) return a;
  const p = packedDoubles(a);
  return p === undefined || (len >= 0 && p.length !== len) ? NOT_PACKED : p;
}
