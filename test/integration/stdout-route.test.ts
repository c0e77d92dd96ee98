/**
 * The stdout route as a log collector reads it from the shipped command: `m2m-sentinel run` with
 * a pipeline routing to stdout writes one OCSF Detection Finding JSON document per line on
 * stdout and nothing else there; its own logs (pino JSON) go to stderr (issue #24: the route
 * printed a text line into the same stream as the logs).
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, kafkaAt, produceEvents, ROOT, waitFor } from '../fault/support/harness.js';
import { tempDir, uid } from '../support/kafka.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const T0 = Date.UTC(2026, 2, 2, 0, 0, 0);

describe('stdout route of `m2m-sentinel run`', () => {
  it('stdout carries only OCSF JSON lines, one per alert; the logs are on stderr', async () => {
    const id = uid('stdout-route');
    const dir = tempDir('m2m-stdout-route');
    const yaml = join(dir, 'pipeline.yaml');
    // range_limits judges each value as it comes (no learning), so two readings out of range are
    // two findings from two devices, whatever the timing.
    writeFileSync(
      yaml,
      `name: stdout-route
source:
  kafka: { topics: [${id}.events], group: ${id}-group, start: earliest, dead_letter_topic: ${id}.dlq }
detectors:
  - range_limits: { limits: { temperature_c: { min: -20, max: 100 } } }
findings: { clickhouse: { table: findings } }
alerts:
  min_severity: low
  routes:
    - kafka: { topic: ${id}.alerts }
    - stdout: {}
`,
    );
    const access = join(dir, 'access.yaml');
    writeFileSync(access, 'tokens: [{ name: prometheus, role: viewer, token_env: M2M_TOKEN_PROM }]\n');
    const httpPort = await freePort();
    const proc = spawn(process.execPath, ['bin/m2m-sentinel.js', 'run', yaml, '--http-port', String(httpPort), '--checkpoint-every', '1000', '--access', access], {
      cwd: ROOT,
      env: { ...process.env, KAFKA_BROKERS: brokers, CLICKHOUSE_DATA_DIR: join(dir, 'ch'), CLICKHOUSE_URL: '', LOG_LEVEL: 'info', M2M_TOKEN_PROM: 'prometheus-scrape-token-0123456789' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      const events = [];
      for (let i = 0; i < 10; i++) {
        for (const d of ['sensor-a', 'sensor-b', 'sensor-c']) {
          const hot = i === 8 && d !== 'sensor-c';
          const v = { type: 'telemetry', device_id: d, device_class: 'sensor', ts: new Date(T0 + i * 60_000).toISOString(), metrics: { temperature_c: hot ? 180 : 21.5 } };
          events.push({ key: d, value: JSON.stringify(v), bad: false });
        }
      }
      await produceEvents(kafkaAt(brokers), `${id}.events`, events, 30);
      await waitFor(`two alerts on stdout (stderr: ${stderr.slice(-2000)})`, async () => {
        if (proc.exitCode !== null) throw new Error(`service exited ${proc.exitCode}: ${stderr.slice(-2000)}`);
        return stdout.split('\n').filter(Boolean).length >= 2;
      }, 120_000);
    } finally {
      proc.kill('SIGTERM');
      await exited;
    }
    const lines = stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    const docs = lines.map((l) => JSON.parse(l) as { class_uid: number; category_uid: number; finding_info: { uid: string; title: string }; device?: { uid?: string; name?: string } });
    for (const d of docs) {
      // OCSF Detection Finding (class 2004, category Findings).
      expect(d.class_uid).toBe(2004);
      expect(d.category_uid).toBe(2);
      expect(d.finding_info.uid).toBeTruthy();
    }
    expect(lines.join('\n')).toContain('sensor-a');
    expect(lines.join('\n')).toContain('sensor-b');
    expect(lines.join('\n')).not.toContain('sensor-c');
    // The service did log, and every log line is on stderr.
    const logs = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { svc?: string; msg?: string });
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.every((l) => l.svc === 'm2m-sentinel')).toBe(true);
    expect(stdout).not.toContain('"svc":"m2m-sentinel"');
  }, 240_000);
});
