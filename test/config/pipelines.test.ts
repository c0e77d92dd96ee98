/**
 * The shipped pipelines: each is valid (with and without the optional routes' variables), and
 * each one's mapping turns recorded raw messages from its fleet into the expected events.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatConfigError, loadPipelineFile, loadPipelines } from '../../src/config/load.js';
import type { PipelineConfig } from '../../src/config/types.js';
import { decodeEvent } from '../../src/events/decode.js';
import type { ConnectionEvent, M2MEvent, TelemetryEvent } from '../../src/events/types.js';
import { DETECTORS } from '../../src/detectors/registry.js';

const DIR = 'pipelines';
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

/** Every variable an optional route in the examples switches on with. */
const FULL_ENV = {
  SOC_WEBHOOK_URL: 'https://soc.example.com/hooks/m2m',
  SOC_WEBHOOK_SECRET: 'not-a-real-secret',
  SIEM_HOST: 'siem.example.com',
  FLEET_SOC_URL: 'https://fleet-soc.example.com/alerts',
  FLEET_SOC_SECRET: 'fleet-secret',
  OT_SLACK_WEBHOOK: 'https://hooks.slack.com/services/T000/B000/XXXX',
  OT_SIEM_HOST: '10.99.0.5',
  HOSPITAL_SOC_URL: 'https://soc.hospital.example/api/events',
  PCI_SOC_URL: 'https://pci-soc.example.com/in',
  PCI_SOC_SECRET: 'pci-secret',
  RETAIL_SECOPS_SLACK: 'https://hooks.slack.com/services/T111/B111/YYYY',
};

async function load(name: string, env: Record<string, string | undefined> = {}): Promise<PipelineConfig> {
  const r = await loadPipelineFile(`${DIR}/${name}.yaml`, env);
  expect(r.errors.map(formatConfigError)).toEqual([]);
  return r.pipeline!;
}

function decodeFixture(cfg: PipelineConfig, name: string): M2MEvent[] {
  const lines = readFileSync(`test/fixtures/pipelines/${name}.ndjson`, 'utf8').split('\n').filter((l) => l.trim());
  return lines.map((l, i) => {
    const r = decodeEvent(l, cfg.mapping ? { mapping: cfg.mapping } : {});
    if (!r.ok) throw new Error(`${name}.ndjson line ${i + 1}: ${r.error.message}`);
    return r.event;
  });
}

describe('shipped pipelines', () => {
  it('ships the default and the five fleet examples', () => {
    expect(FILES).toEqual(['default.yaml', 'patient-monitors.yaml', 'plant-floor.yaml', 'pos-terminals.yaml', 'smart-meters.yaml', 'vehicle-telematics.yaml']);
  });

  it('all load together without errors or conflicts, with and without optional routes', async () => {
    for (const env of [{}, FULL_ENV]) {
      const r = await loadPipelines([DIR], env);
      expect(r.errors.map(formatConfigError)).toEqual([]);
      expect(r.pipelines.map((p) => p.name).sort()).toEqual(FILES.map((f) => f.replace('.yaml', '')).sort());
    }
  });

  it('switch optional routes on from the environment', async () => {
    const off = await load('pos-terminals');
    const on = await load('pos-terminals', FULL_ENV);
    expect(off.alerts.routes.map((r) => r.name)).toEqual(['kafka']);
    expect(on.alerts.routes.map((r) => r.name)).toEqual(['kafka', 'pci-soc', 'retail-secops']);
  });

  for (const f of FILES) {
    it(`${f} carries the editor schema comment and one file-level description`, () => {
      const text = readFileSync(`${DIR}/${f}`, 'utf8');
      expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/pipeline.schema.json');
      expect(text).toMatch(/^name: /m);
    });
  }

  it('default.yaml runs every registered detector', async () => {
    const cfg = await load('default');
    expect(cfg.detectors.map((d) => d.type).sort()).toEqual(DETECTORS.map((d) => d.name).sort());
    expect(cfg.mapping).toBeUndefined();
  });

  it('default.yaml: stdout and the m2m.alerts outbox, webhook only when SOC_WEBHOOK_URL is set', async () => {
    const off = await load('default');
    expect(off.alerts.routes.map((r) => [r.type, r.name])).toEqual([['stdout', 'stdout'], ['kafka', 'kafka']]);
    expect(off.alerts.routes[1]!.options.topic).toBe('m2m.alerts');
    const on = await load('default', { SOC_WEBHOOK_URL: 'https://soc.example.com/h' });
    const hook = on.alerts.routes.find((r) => r.name === 'soc')!;
    expect(hook.options).toEqual({ url: 'https://soc.example.com/h', timeout: 10_000 });
    const signed = await load('default', { SOC_WEBHOOK_URL: 'https://soc.example.com/h', SOC_WEBHOOK_SECRET: 'k' });
    expect(signed.alerts.routes.find((r) => r.name === 'soc')!.options.secret).toBe('k');
  });

  it('default.yaml decodes the plain event contracts unchanged', async () => {
    const cfg = await load('default');
    const [t, c, c2] = decodeFixture(cfg, 'default') as [TelemetryEvent, ConnectionEvent, ConnectionEvent];
    expect(t).toEqual({
      type: 'telemetry', device_id: 'meter-0042', device_class: 'smart_meter', ts: Date.parse('2026-03-01T12:00:00.000Z'),
      metrics: { voltage: 229.8, current: 4.1, temperature_c: 31.2 }, firmware: '4.2.1', seq: 18233,
    });
    expect(c).toMatchObject({ type: 'connection', device_id: 'plc-07', dst_port: 502, app_protocol: 'modbus', tls: false, auth: 'ok' });
    expect(c2).toMatchObject({ device_id: 'cam-3', device_class: 'unknown', ts: 1772366400_000, protocol: 'tcp' });
  });

  it('smart-meters.yaml: renamed fields, mV/mA → V/A, constants for type and class', async () => {
    const cfg = await load('smart-meters');
    const [a, b, c] = decodeFixture(cfg, 'smart-meters') as TelemetryEvent[];
    expect(a).toEqual({
      type: 'telemetry', device_id: 'SM-00042', device_class: 'smart_meter', ts: Date.parse('2026-03-01T12:00:00Z'),
      metrics: { voltage: 229.8, current: 4.1, temperature_c: 31.2, kwh_total: 10234.5 }, firmware: '4.2.1', seq: 18233,
    });
    expect(b!.seq).toBe(18234);
    expect(b!.metrics.voltage).toBeCloseTo(230.15, 9);
    // A timezone offset is honoured; a null reading is a missing reading, not an error.
    expect(c!.ts).toBe(Date.parse('2026-03-01T11:00:03Z'));
    expect(c!.metrics).toEqual({ voltage: 231.02, current: 0, kwh_total: 88.1 });
  });

  it('vehicle-telematics.yaml: epoch seconds, nested identity, kelvin → °C, mV → V', async () => {
    const cfg = await load('vehicle-telematics');
    const [a, b, c] = decodeFixture(cfg, 'vehicle-telematics') as TelemetryEvent[];
    expect(a!.device_id).toBe('1FTFW1E50NFA00001');
    expect(a!.ts).toBe(1772366400_000);
    expect(a!.device_class).toBe('TCU-7');
    expect(a!.firmware).toBe('7.1.0');
    expect(a!.seq).toBe(991);
    expect(a!.metrics.coolant_c).toBeCloseTo(90, 9);
    expect(a!.metrics.battery_v).toBeCloseTo(13.8, 9);
    expect(a!.metrics).not.toHaveProperty('coolant_k');
    expect(a!.metrics).not.toHaveProperty('lat');
    expect(b!.ts).toBe(1772366430_500);
    expect(c!.metrics.speed_kmh).toBe(0);
  });

  it('plant-floor.yaml: one envelope for flows and readings, seconds → ms', async () => {
    const cfg = await load('plant-floor');
    const [flow, flow2, reading] = decodeFixture(cfg, 'plant-floor') as [ConnectionEvent, ConnectionEvent, TelemetryEvent];
    expect(flow).toEqual({
      type: 'connection', device_id: 'plc-07', device_class: 'plc', ts: Date.parse('2026-03-01T12:00:00.120Z'),
      src_ip: '10.20.0.7', dst_ip: '10.20.0.1', dst_port: 502, protocol: 'tcp', app_protocol: 'modbus',
      bytes_out: 312, bytes_in: 128, duration_ms: 40, tls: false,
    });
    expect(flow2).toMatchObject({ device_id: 'hmi-02', device_class: 'hmi', dst_port: 44818, app_protocol: 'enip' });
    expect(flow2.duration_ms).toBeCloseTo(12, 9);
    expect(reading.type).toBe('telemetry');
    expect(reading.device_class).toBe('vibration_sensor');
    expect(reading.seq).toBe(44120);
    expect(reading.metrics.rms_mm_s).toBe(2.31);
    expect(reading.metrics.temperature_c).toBeCloseTo(45.25, 9);
  });

  it('patient-monitors.yaml: epoch milliseconds, vendor metric names', async () => {
    const cfg = await load('patient-monitors');
    const [a, b, pump] = decodeFixture(cfg, 'patient-monitors') as TelemetryEvent[];
    expect(a).toEqual({
      type: 'telemetry', device_id: 'PM-ICU3-07', device_class: 'bedside_monitor', ts: 1772366400123,
      metrics: { wifi_rssi_dbm: -61, battery_pct: 88, cpu_pct: 23, alarms_active: 0, uptime_s: 86400 }, firmware: '3.4.2', seq: 5521,
    });
    expect(b!.ts - a!.ts).toBe(60_000);
    expect(pump).toMatchObject({ device_id: 'IP-WARD5-31', device_class: 'infusion_pump', seq: 310 });
  });

  it('pos-terminals.yaml: ECS fields, "@timestamp", nanoseconds → ms, auth outcome', async () => {
    const cfg = await load('pos-terminals');
    const [ok, failed, other] = decodeFixture(cfg, 'pos-terminals') as ConnectionEvent[];
    expect(ok).toEqual({
      type: 'connection', device_id: 'POS-0193', device_class: 'pos_terminal', ts: Date.parse('2026-03-01T12:00:00.120Z'),
      src_ip: '10.118.4.23', dst_ip: '198.51.100.10', dst_port: 443, protocol: 'tcp', app_protocol: 'https',
      bytes_out: 1840, bytes_in: 5120, duration_ms: 85, tls: true, auth: 'ok', firmware: '2.31.4',
    });
    expect(failed).toMatchObject({ dst_port: 22, app_protocol: 'ssh', tls: false, auth: 'failed' });
    expect(other!.auth).toBeUndefined();
    expect(other!.duration_ms).toBeCloseTo(120, 9);
  });
});

describe('the tuning keys (issue #24) are each used by a shipped pipeline that loads', () => {
  it('sensitivity, min_severity, direction, min_deviation, allow and maintenance', async () => {
    const { pipelines, errors } = await loadPipelines(['pipelines/'], {});
    expect(errors.map(formatConfigError)).toEqual([]);
    const used = new Set<string>();
    for (const p of pipelines) {
      for (const d of p.detectors) for (const k of ['sensitivity', 'min_severity', 'direction', 'min_deviation'] as const) if (d[k] !== undefined) used.add(k);
      if (p.allow?.length) used.add('allow');
      if (p.maintenance?.length) used.add('maintenance');
    }
    expect([...used].sort()).toEqual(['allow', 'direction', 'maintenance', 'min_deviation', 'min_severity', 'sensitivity']);
  });
});
