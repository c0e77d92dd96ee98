/** The outbox's one owner: the topic rule, and a record as the producers write it and delivery reads it. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_OUTBOX_TOPIC, OUTBOX_HEADER, outboxMessage, outboxPipeline, outboxTopic, readOutboxRecord, type OutboxAlert } from '../../src/alerts/outbox.js';

const doc = {
  class_uid: 2004,
  time: 1_700_000_000_000,
  severity_id: 4,
  metadata: { uid: 'alert-1:high' },
  finding_info: { uid: 'alert-1', analytic: { name: 'fanout' }, attacks: [] },
  device: { uid: 'plc-07' },
};

describe('alert outbox', () => {
  it('is the first kafka route’s topic, else the default', () => {
    expect(outboxTopic({ alerts: { routes: [] } })).toBe(DEFAULT_OUTBOX_TOPIC);
    expect(outboxTopic({ alerts: { routes: [{ type: 'webhook', options: { url: 'x' } }, { type: 'kafka', options: { topic: 'soc.alerts' } }] } })).toBe('soc.alerts');
  });

  it('reads back what the producers write: the document, its pipeline, keyed by device', () => {
    const m = outboxMessage(doc, 'plant-floor');
    expect(m.key).toBe('plc-07');
    expect(m.headers).toEqual({ [OUTBOX_HEADER.alertId]: 'alert-1:high', [OUTBOX_HEADER.alert]: 'alert-1', [OUTBOX_HEADER.pipeline]: 'plant-floor' });
    // As the consumer gets it: values and headers as Buffers.
    const got = { value: Buffer.from(m.value as string), headers: Object.fromEntries(Object.entries(m.headers!).map(([k, v]) => [k, Buffer.from(String(v))])) };
    expect(outboxPipeline(got)).toBe('plant-floor');
    const rec = readOutboxRecord<OutboxAlert>(got.value);
    expect(rec).toEqual({ ok: true, alert: doc });
  });

  it('refuses a record that is not an alert, with the reason', () => {
    expect(readOutboxRecord(null)).toEqual({ ok: false, reason: 'empty record' });
    expect(readOutboxRecord(Buffer.from('{"class_uid":2004'))).toMatchObject({ ok: false, reason: expect.stringContaining('not JSON') });
    expect(readOutboxRecord(Buffer.from(JSON.stringify({ ...doc, device: {} })))).toEqual({ ok: false, reason: 'device.uid missing' });
    expect(outboxPipeline({ headers: {} })).toBeUndefined();
  });
});
