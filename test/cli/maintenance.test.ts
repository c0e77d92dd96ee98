/**
 * Ad hoc maintenance windows end to end: `maintenance add/list/rm` through the real binary and
 * the real broker, and a running service that reads them holds the alerts of the device in the
 * window while storing its findings.
 */
import { describe, expect, it } from 'vitest';
import { windowFromFlags } from '../../src/cli/commands/maintenance.js';
import { followMaintenance, putWindow } from '../../src/alerts/maintenance-topic.js';
import { bin, STACK_FRAME } from '../support/bin.js';
import { kafka, uid, waitFor } from '../support/kafka.js';

describe('m2m-sentinel maintenance', () => {
  const topic = uid('maint');
  const env = { M2M_MAINTENANCE_TOPIC: topic };

  it('add, list, rm: the window is on the topic for every reader, then gone', async () => {
    const add = await bin(['maintenance', 'add', '--device', 'plc-07', '--class', 'hmi', '--for', '2h', '--reason', 'firmware 4.3', '--pipeline', 'plant-floor'], { env });
    expect(add.code, add.stderr).toBe(0);
    const id = add.stdout.trim();
    expect(id).toMatch(/^mw-\d{8}-[0-9a-f]{6}$/);
    const list = await bin(['maintenance', 'list', '--json'], { env });
    expect(list.code, list.stderr).toBe(0);
    const [w] = list.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(w).toMatchObject({ id, pipeline: 'plant-floor', devices: ['plc-07'], classes: ['hmi'], reason: 'firmware 4.3' });
    expect(Date.parse(w.end) - Date.parse(w.start)).toBe(2 * 3_600_000);
    // A running instance reads the same book.
    const f = await followMaintenance(kafka(), topic);
    await f.ready;
    expect(f.book.all().map((x) => x.id)).toEqual([id]);
    const rm = await bin(['maintenance', 'rm', id], { env });
    expect(rm.code, rm.stderr).toBe(0);
    await waitFor(async () => f.book.all().length === 0, 20_000);
    await f.stop();
    expect((await bin(['maintenance', 'list', '--json'], { env })).stdout).toBe('');
  }, 120_000);

  it('mistakes are usage errors in one line', async () => {
    const none = await bin(['maintenance', 'add', '--for', '1h'], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--all-devices');
    expect((await bin(['maintenance', 'add', '--device', 'x', '--for', 'soon'], { env })).code).toBe(2);
    const unknown = await bin(['maintenance', 'rm', 'mw-nope'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no maintenance window "mw-nope"');
    expect(unknown.stderr).not.toMatch(STACK_FRAME);
  }, 60_000);

  it('windowFromFlags: --for from now or from --start; an end before the start is refused', () => {
    const now = Date.parse('2026-03-01T10:00:00Z');
    expect(windowFromFlags({ device: ['a'], class: [], for: 3_600_000, id: 'w1' }, now, 'me')).toMatchObject({ id: 'w1', devices: ['a'], start_ms: now, end_ms: now + 3_600_000, created_by: 'me' });
    expect(() => windowFromFlags({ device: ['a'], class: [], start: now, end: now - 1 }, now, 'me')).toThrow(/ends before it starts/);
  });

  it('a record that is not a window is skipped, not trusted', async () => {
    const t = uid('maint-bad');
    const k = kafka();
    await putWindow(k, 'good', { id: 'good', start_ms: 0, end_ms: 1000 }, t);
    const p = k.producer();
    await p.connect();
    await p.send({ topic: t, messages: [{ key: 'bad', value: '{"start":"yesterday"}' }, { key: 'worse', value: 'not json' }] });
    await p.disconnect();
    const f = await followMaintenance(k, t);
    await waitFor(async () => f.book.all().length >= 1, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(f.book.all().map((w) => w.id)).toEqual(['good']);
    await f.stop();
  }, 60_000);
});
