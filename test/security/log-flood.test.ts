/**
 * A flood of junk against the logs: each undecodable message used to log one WARN line quoting
 * up to 60 KB of the attacker's text, so 10,000 bad messages were 10,000 lines and hundreds of
 * megabytes of log (disk, the log pipeline's licence, the line that mattered scrolled away).
 * Now the lines are few and short, every occurrence is still counted, and the next line logged
 * says how many were left out.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { decodeEvent, type DecodeError } from '../../src/events/decode.js';
import { emit } from '../../src/obs/events.js';
import { setLogger } from '../../src/obs/log.js';
import { registry } from '../../src/obs/metrics.js';

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

beforeAll(() => {
  setLogger(pino({ level: 'info' }, sink));
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.UTC(2026, 2, 1));
});
afterAll(() => {
  vi.useRealTimers();
});

const counter = async (name: string, labels: Record<string, string>): Promise<number> => {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
};

describe('bad-input warnings under a flood', () => {
  it('10,000 junk messages of 60 KB: at most 20 short lines per 10 s, every one counted, the next line says how many were left out', async () => {
    const where = { topic: 'm2m.telemetry', partition: 0, offset: '0' };
    const junk = (i: number) => `{"type":"telemetry","device_id":"${'\u001b[2J'.repeat(2)}${'x'.repeat(60_000)}-${i}"`; // truncated JSON
    const huge: DecodeError = { code: 'bad_field', field: 'f'.repeat(60_000), message: 'm'.repeat(60_000) };
    for (let i = 0; i < 10_000; i++) {
      const r = decodeEvent(junk(i));
      expect(r.ok).toBe(false);
      // Half through the real decoder, half with a reason that is itself 60 KB: the log bounds both.
      emit.eventDeadLettered('flood', i % 2 ? huge : (r as { error: DecodeError }).error, { ...where, offset: String(i) });
    }
    const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'event dead-lettered');
    expect(warned.length).toBe(20);
    for (const l of lines) expect(Buffer.byteLength(l)).toBeLessThan(1_500);
    expect(await counter('m2m_dead_letters_total', { pipeline: 'flood' })).toBe(10_000);
    expect(await counter('m2m_log_lines_throttled_total', { event: 'event_dead_lettered' })).toBe(9_980);

    // The next window: logged again, with the count of what the last one left out.
    vi.setSystemTime(Date.now() + 10_000);
    emit.eventDeadLettered('flood', huge, where);
    const next = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(next).toMatchObject({ msg: 'event dead-lettered', similar_not_logged: 9_980 });
    expect(String(next.msg_detail)).toMatch(/… \(60000 chars\)$/);
    expect(Buffer.byteLength(lines.at(-1)!)).toBeLessThan(1_500);
  });
});
