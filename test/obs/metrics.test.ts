/**
 * The metrics use the names stock dashboards expect, with a pipeline label wherever a route name
 * could repeat.
 */
import { describe, expect, it } from 'vitest';
import { emit } from '../../src/obs/events.js';
import { metrics, registry } from '../../src/obs/metrics.js';

describe('metrics', () => {
  it('default process and Node.js series are unprefixed', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
    expect(text).not.toMatch(/^m2m_process_|^m2m_nodejs_/m);
  });

  it('deliveries and outbox depth carry the pipeline, so two pipelines with a route "soc" stay apart', async () => {
    emit.alertDelivered('meters', 'soc');
    emit.alertDelivered('plant', 'soc');
    emit.alertDelivered('plant', 'soc');
    const text = await registry.metrics();
    expect(text).toContain('m2m_alert_deliveries_total{pipeline="meters",route="soc",outcome="ok"} 1');
    expect(text).toContain('m2m_alert_deliveries_total{pipeline="plant",route="soc",outcome="ok"} 2');
    metrics.outboxDepth.set({ pipeline: 'plant', route: 'soc' }, 3);
    expect(await registry.metrics()).toContain('m2m_outbox_depth{pipeline="plant",route="soc"} 3');
  });
});
