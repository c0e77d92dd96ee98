import { describe, expect, it } from 'vitest';
import { decodeEvent, parseTimestamp } from '../../src/events/decode.js';
import type { MappingConfig } from '../../src/config/types.js';

const tel = (o: Record<string, unknown> = {}) => JSON.stringify({ type: 'telemetry', device_id: 'm1', ts: '2026-03-01T12:00:00.000Z', metrics: { v: 1.5 }, ...o });
const conn = (o: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'connection', device_id: 'p1', ts: '2026-03-01T12:00:00.000Z', src_ip: '10.0.0.1', dst_ip: '10.0.0.2', dst_port: 502, protocol: 'TCP', ...o });

describe('decodeEvent', () => {
  it('decodes the design-brief contracts', () => {
    const t = decodeEvent(tel({ device_class: 'smart_meter', firmware: '4.2.1', seq: 7 }));
    expect(t).toEqual({ ok: true, event: { type: 'telemetry', device_id: 'm1', device_class: 'smart_meter', ts: Date.UTC(2026, 2, 1, 12), metrics: { v: 1.5 }, firmware: '4.2.1', seq: 7 } });
    const c = decodeEvent(conn({ tls: false, auth: 'failed', bytes_out: 10, app_protocol: 'Modbus' }));
    expect(c.ok && c.event).toMatchObject({ type: 'connection', protocol: 'tcp', app_protocol: 'modbus', tls: false, auth: 'failed', bytes_out: 10, device_class: 'unknown' });
  });

  it.each([
    ['{oops', 'bad_json', undefined],
    ['[1,2]', 'not_object', undefined],
    [JSON.stringify({ device_id: 'x', ts: 1 }), 'missing_field', 'type'],
    [tel({ type: 'log' }), 'unknown_type', 'type'],
    [tel({ device_id: '' }), 'bad_field', 'device_id'],
    [tel({ device_id: 42 }), 'bad_field', 'device_id'],
    [tel({ ts: 'yesterday' }), 'bad_timestamp', 'ts'],
    [tel({ ts: '1970-01-01T00:00:00Z' }), 'bad_timestamp', 'ts'],
    [tel({ ts: 99999999999999 }), 'bad_timestamp', 'ts'],
    [tel({ metrics: undefined }), 'missing_field', 'metrics'],
    [tel({ metrics: [1, 2] }), 'bad_field', 'metrics'],
    [tel({ metrics: { v: 'high' } }), 'bad_field', 'metrics.v'],
    [tel({ metrics: {} }), 'bad_field', 'metrics'],
    [tel({ metrics: { v: 1, constructor: 2 } }), 'bad_field', 'metrics.constructor'],
    ['{"type":"telemetry","device_id":"m1","ts":"2026-03-01T12:00:00Z","metrics":{"__proto__":1}}', 'bad_field', 'metrics.__proto__'],
    [tel({ seq: -1 }), 'bad_field', 'seq'],
    [conn({ src_ip: '10.0.0' }), 'bad_field', 'src_ip'],
    [conn({ dst_port: 70000 }), 'bad_field', 'dst_port'],
    [conn({ dst_port: undefined }), 'missing_field', 'dst_port'],
    [conn({ auth: 'maybe' }), 'bad_field', 'auth'],
    [conn({ tls: 'yes' }), 'bad_field', 'tls'],
    [conn({ bytes_out: -5 }), 'bad_field', 'bytes_out'],
  ])('rejects %s as %s', (input, code, field) => {
    const r = decodeEvent(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe(code);
      expect(r.error.field).toBe(field);
      expect(r.error.message.length).toBeGreaterThan(5);
    }
  });

  it('rejects oversized messages before parsing them', () => {
    const r = decodeEvent(tel({ pad: 'x'.repeat(100) }), { maxBytes: 64 });
    expect(r.ok || r.error.code).toBe('oversized');
  });

  it('treats null readings as missing and booleans as 0/1', () => {
    const r = decodeEvent(tel({ metrics: { a: null, b: true, c: 2 } }));
    expect(r.ok && r.event.type === 'telemetry' && r.event.metrics).toEqual({ b: 1, c: 2 });
  });

  it('applies a field mapping: nested paths, epoch seconds, constants and unit conversion', () => {
    const mapping: MappingConfig = {
      fields: { device_id: { path: '$.meta.vin' }, ts: { path: 'meta.time', format: 'epoch_s' }, metrics: { path: 'readings' } },
      constants: { type: 'telemetry', device_class: 'vehicle' },
      metrics: { speed_mph: { rename: 'speed_kmh', scale: 1.609344 } },
    };
    const raw = JSON.stringify({ meta: { vin: 'VIN1', time: 1772366400 }, readings: { speed_mph: 10, rpm: 900 } });
    const r = decodeEvent(raw, { mapping });
    expect(r.ok).toBe(true);
    if (r.ok && r.event.type === 'telemetry') {
      expect(r.event.device_id).toBe('VIN1');
      expect(r.event.ts).toBe(1772366400_000);
      expect(r.event.device_class).toBe('vehicle');
      expect(r.event.metrics.speed_kmh).toBeCloseTo(16.09344, 5);
      expect(r.event.metrics.rpm).toBe(900);
    }
  });
});

describe('parseTimestamp', () => {
  it('reads ISO-8601 and epoch seconds or milliseconds', () => {
    expect(parseTimestamp('2026-03-01T12:00:00Z')).toBe(Date.UTC(2026, 2, 1, 12));
    expect(parseTimestamp(1772366400)).toBe(1772366400_000);
    expect(parseTimestamp(1772366400123)).toBe(1772366400123);
    expect(parseTimestamp('1772366400')).toBe(1772366400_000);
    expect(parseTimestamp('March 1')).toBeNaN();
    expect(parseTimestamp(1772366400, 'iso')).toBeNaN();
  });
});
