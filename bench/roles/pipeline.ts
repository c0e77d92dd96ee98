/** The real service (startService → startPipeline) on one pipeline, measured from outside. */
import { onEvent } from '../../src/obs/events.js';
import { send, waitForStop, type ToWorker, type WorkerSpec } from '../protocol.js';
import { cpuSampler, progressReporter, rssSampler } from '../samplers.js';

/** What the runner's checkpoints and publications wrote, from its typed events. */
function countStoreWrites() {
  const written = { checkpoints: 0, records: 0, bytes: 0, ms: 0, maxMs: 0, devices: new Map<string, number>(), publishes: 0, publishMs: 0, publishMaxMs: 0 };
  const offs = [
    onEvent('checkpointWritten', (c) => {
      written.ms += c.ms;
      written.maxMs = Math.max(written.maxMs, c.ms);
      written.checkpoints++;
      written.records += c.delta;
      written.bytes += c.bytes;
      written.devices.set(`${c.topic}:${c.partition}`, c.devices);
    }),
    onEvent('outputsPublished', (p) => {
      written.publishes++;
      written.publishMs += p.ms;
      written.publishMaxMs = Math.max(written.publishMaxMs, p.ms);
    }),
  ];
  return { written, stop: () => offs.forEach((off) => off()) };
}

export async function pipelineWorker(spec: Extract<WorkerSpec, { role: 'pipeline' }>): Promise<Record<string, unknown>> {
  const rss = rssSampler();
  const { written, stop: stopCounting } = countStoreWrites();
  const { startService } = await import('../../src/pipeline/service.js');
  const prefix = spec.probePrefix;
  if (spec.hold) {
    // Instances of one group start together, so neither owns every partition for the seconds
    // the other spends starting up.
    const go = new Promise<void>((resolve) => process.on('message', (m: ToWorker) => m.kind === 'go' && resolve()));
    send({ kind: 'loaded' });
    await go;
  }
  const svc = await startService([spec.cfg], {
    brokers: spec.brokers,
    clickhouse: { dataDir: spec.dataDir },
    deliver: false,
    ...(spec.checkpointEveryMs !== undefined ? { checkpointEveryMs: spec.checkpointEveryMs } : {}),
    ...(spec.concurrency !== undefined ? { partitionsConsumedConcurrently: spec.concurrency } : {}),
    ...(spec.detectWorkers !== undefined ? { detectWorkers: spec.detectWorkers } : {}),
    ...(spec.eventsPerStateRecord !== undefined ? { minEventsPerStateRecord: spec.eventsPerStateRecord } : {}),
    ...(spec.checkpointSlots !== undefined ? { maxConcurrentCheckpoints: spec.checkpointSlots } : {}),
    ...(prefix
      ? {
          onAlert: (a) => {
            const dev = a.device.uid;
            if (dev.startsWith(prefix)) send({ kind: 'alert', device: dev, t: Date.now() });
          },
        }
      : {}),
  });
  if (svc.failed.length || !svc.pipelines[0]) throw new Error(`pipeline failed to start: ${svc.failed.map((f) => f.error).join('; ')}`);
  const h = svc.pipelines[0];
  const handled = (): number => {
    const s = h.stats();
    return s.events + s.deadLetters;
  };
  const prog = progressReporter(handled);
  const cpu = cpuSampler(handled, spec.brokerPid);
  send({ kind: 'ready' });
  await waitForStop();
  prog.stop();
  cpu.stop();
  const snap = prog.snapshot();
  const stats = h.stats();
  await svc.stop(60_000);
  rss.stop();
  stopCounting();
  const devices = [...written.devices.values()].reduce((a, b) => a + b, 0);
  const state = {
    checkpoints: written.checkpoints,
    records: written.records,
    bytes: written.bytes,
    devices,
    checkpointMs: written.ms,
    maxCheckpointMs: written.maxMs,
    publishes: written.publishes,
    publishMs: written.publishMs,
    publishMaxMs: written.publishMaxMs,
  };
  return { ...snap, stats, state, peakRss: rss.peak(), memoryAtPeak: rss.atPeak(), cpu: cpu.over(snap.first, snap.last) };
}
