import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/events/decode.js';
import { CsvHeaderError, CsvMapper, normalizeTimestamp, parseCell, sniffDelimiter, splitCsvLine } from '../../src/events/csv.js';

describe('historian CSV', () => {
  it('splits quoted fields and sniffs the delimiter', () => {
    expect(splitCsvLine('a,"b,c","d ""q"""', ',')).toEqual(['a', 'b,c', 'd "q"']);
    expect(sniffDelimiter('time;pressure;temp')).toBe(';');
    expect(sniffDelimiter('time\tpressure\ttemp')).toBe('\t');
    expect(sniffDelimiter('time,pressure')).toBe(',');
  });

  it('reads numbers, decimal commas and missing markers', () => {
    expect(parseCell('4.25', false)).toBe(4.25);
    expect(parseCell('4,25', true)).toBe(4.25);
    expect(parseCell('4,25', false)).toBe('4,25');
    expect(parseCell('NaN', false)).toBeNull();
    expect(parseCell('', false)).toBeNull();
    expect(parseCell('Bad Input', false)).toBe('Bad Input');
    expect(parseCell('TRUE', false)).toBe(1);
  });

  it('pins naive timestamps to an explicit offset', () => {
    expect(normalizeTimestamp('2026-03-01 12:00:00', 0)).toBe('2026-03-01T12:00:00+00:00');
    expect(normalizeTimestamp('2026-03-01 12:00:00.250', 60)).toBe('2026-03-01T12:00:00.250+01:00');
    expect(normalizeTimestamp('2026-03-01T12:00:00Z', 60)).toBe('2026-03-01T12:00:00Z');
    expect(Date.parse(normalizeTimestamp('2026-03-01 12:00', -300))).toBe(Date.parse('2026-03-01T17:00:00Z'));
  });

  it('maps rows to telemetry the decoder accepts or rejects for the right reason', () => {
    const m = new CsvMapper('Timestamp;Tag;Pressure;Temp', { deviceColumn: 'Tag', deviceClass: 'plc' });
    const ok = decodeEvent(JSON.stringify(m.row('2026-03-01 12:00:00;plc-07;4,1;NaN')));
    expect(ok.ok).toBe(true);
    if (ok.ok && ok.event.type === 'telemetry') {
      expect(ok.event.device_id).toBe('plc-07');
      expect(ok.event.device_class).toBe('plc');
      expect(ok.event.ts).toBe(Date.parse('2026-03-01T12:00:00Z'));
      expect(ok.event.metrics).toEqual({ Pressure: 4.1 });
    }
    const bad = decodeEvent(JSON.stringify(m.row('2026-03-01 12:01:00;plc-07;Bad;20')));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.field).toBe('metrics.Pressure');
    const badTs = decodeEvent(JSON.stringify(m.row('yesterday;plc-07;4;20')));
    expect(!badTs.ok && badTs.error.code).toBe('bad_timestamp');
  });

  it('needs a timestamp column and a device', () => {
    expect(() => new CsvMapper('a,b', { device: 'x' })).toThrow(CsvHeaderError);
    expect(() => new CsvMapper('time,b', {})).toThrow(/--device/);
    expect(new CsvMapper('time,b', { device: 'x' }).columns).toEqual(['time', 'b']);
  });
});
