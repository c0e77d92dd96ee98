/**
 * The fault suite's input: a small deterministic fleet (seeded, no clock) with anomalies each
 * detector under test should find, some malformed records, and the pipeline YAML every run of
 * the suite uses, so a faulty run and the clean run differ only in the faults.
 */
export const T0 = Date.UTC(2026, 2, 2, 0, 0, 0);

/** Park–Miller: tiny, seedable, identical everywhere. */
export function prng(seed: number): () => number {
  let s = seed % 2147483647;
  if (s <= 0) s += 2147483646;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

export interface FleetEvent {
  key: string;
  value: string;
  /** True for records the decoder must dead-letter. */
  bad: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Sensors report once a minute for `minutes`; two of them spike late (one a sustained spike,
 * extended into one finding). Two PLCs talk to a fixed set of peers, then one reaches new peers
 * and the other scans a subnet. Bad records are spread over the stream (and so partitions).
 */
export function fleet(opts: { minutes?: number; seed?: number } = {}): FleetEvent[] {
  const minutes = opts.minutes ?? 150;
  const rnd = prng(opts.seed ?? 42);
  const out: FleetEvent[] = [];
  const sensors = ['sensor-00', 'sensor-01', 'sensor-02', 'sensor-03', 'sensor-04', 'sensor-05'];
  const plcs = ['plc-00', 'plc-01', 'plc-02'];
  for (let i = 0; i < minutes; i++) {
    const t = T0 + i * 60_000;
    for (const [n, d] of sensors.entries()) {
      let temp = 20 + n + Math.sin(i / 20) * 0.5 + (rnd() - 0.5) * 0.4;
      if (n === 1 && i >= minutes - 20 && i < minutes - 15) temp += 30; // sustained: one incident, several versions
      if (n === 3 && i === minutes - 8) temp -= 25;
      if (n === 4 && (i === minutes - 40 || i === minutes - 5)) temp += 40; // two incidents (gap > incident_gap)
      const v = { type: 'telemetry', device_id: d, device_class: 'sensor', ts: iso(t + n * 1000), metrics: { temperature_c: Math.round(temp * 1000) / 1000, voltage: 230 + Math.round((rnd() - 0.5) * 100) / 100 }, seq: i };
      out.push({ key: d, value: JSON.stringify(v), bad: false });
    }
    for (const [n, d] of plcs.entries()) {
      const peers = ['10.20.0.1', '10.20.0.2', '10.20.0.3'];
      const conn = (dst: string, port: number, dt: number) => ({
        key: d,
        value: JSON.stringify({ type: 'connection', device_id: d, device_class: 'plc', ts: iso(t + 10_000 + n * 1000 + dt), src_ip: `10.20.1.${n + 10}`, dst_ip: dst, dst_port: port, protocol: 'tcp', app_protocol: 'modbus', bytes_out: 300 + Math.floor(rnd() * 50), bytes_in: 120, duration_ms: 40, tls: false, auth: 'ok' }),
        bad: false,
      });
      out.push(conn(peers[i % peers.length]!, 502, 0));
      if (n === 0 && i >= minutes - 30 && i % 7 === 0) out.push(conn(`203.0.113.${10 + (i % 3)}`, 443, 500));
      if (n === 1 && i === minutes - 12) for (let h = 1; h <= 60; h++) out.push(conn(`10.30.0.${h}`, 502, 500 + h * 200));
      if (n === 2 && i === minutes - 25) for (let p = 1; p <= 30; p++) out.push(conn('10.20.0.1', 1000 + p, 500 + p * 300));
    }
    if (i % 23 === 11) {
      const k = sensors[i % sensors.length]!;
      const bad = i % 2 ? '{"type":"telemetry","device_id":"' + k + '",' : JSON.stringify({ type: 'telemetry', device_id: k, ts: iso(t), metrics: 'n/a' });
      out.push({ key: k, value: bad, bad: true });
    }
  }
  return out;
}

/** The pipeline under test, as an operator would write it. */
export function pipelineYaml(o: { name: string; topic: string; group: string; dlq: string; alerts: string; webhook?: string }): string {
  return `name: ${o.name}
source:
  kafka: { topics: [${o.topic}], group: ${o.group}, start: earliest, dead_letter_topic: ${o.dlq} }
detectors:
  - metric_baseline: { min_samples: 30, min_learning: 45m, incident_gap: 10m }
  - new_peer: { learning: 45m, min_connections: 20 }
  - fanout: { window: 5m, min_distinct_dst: 40 }
findings: { clickhouse: { table: findings } }
# The device stage alone: its faults are what these runs pin down (the fleet stage's are in
# test/fault/fleet.test.ts). With the fleet view, the findings of the last hour would wait for it.
fleet: { enabled: false }
alerts:
  min_severity: low
  suppress: 5m
  routes:
    - kafka: { topic: ${o.alerts} }
${o.webhook ? `    - webhook: { url: "${o.webhook}" }\n` : ''}`;
}
