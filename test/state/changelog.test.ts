/**
 * The changelog's device encoding: every number a detector keeps reads back exactly, records
 * written before MessagePack still read, and an unknown record is refused.
 */
import { describe, expect, it } from 'vitest';
import type { DeviceState } from '../../src/pipeline/engine.js';
import { decodeDevice, encodeDevice, jsonReplacer } from '../../src/state/changelog.js';

describe('changelog device encoding', () => {
  const st: DeviceState = {
    device_class: 'meter',
    first_ts: 1,
    last_ts: 2,
    d: { a: { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY, nan: Number.NaN, xs: [1.5, 0, 1e300, 1772323200123, 0.1 + 0.2], s: 'é"\n', n: null } },
  };

  // (-0 reads back as 0, as it did from JSON.)
  it('round-trips every number exactly, NaN and ±Infinity included (JSON cannot)', () => {
    expect(decodeDevice(encodeDevice(st))).toEqual(st);
  });

  it('keeps earlier records intact while later ones are encoded (no shared buffer reuse)', () => {
    const many = Array.from({ length: 5_000 }, (_, i) => ({ ...st, last_ts: i, d: { a: { xs: Array.from({ length: 50 }, (_v, j) => i * 1000 + j + 0.5) } } }));
    const encoded = many.map((x) => encodeDevice(x));
    encoded.forEach((b, i) => expect(decodeDevice(b)).toEqual(many[i]));
  });

  it('still reads the JSON records (v1) written before MessagePack', () => {
    const v1 = Buffer.from(JSON.stringify({ v: 1, s: st }, jsonReplacer));
    expect(decodeDevice(v1).d.a).toEqual({ lo: null, hi: null, nan: null, xs: [1.5, 0, 1e300, 1772323200123, 0.1 + 0.2], s: 'é"\n', n: null });
  });

  it('refuses a record it does not know instead of restoring garbage', () => {
    expect(() => decodeDevice(Buffer.from([0x92, 0x07, 0xc0]))).toThrow(/unknown device state record format/);
  });
});
