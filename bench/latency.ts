/** The latency phase: a fixed offered load with probes, timed to detection and to the outbox. */
import type { Consumer, Kafka, Message, Producer } from 'kafkajs';
import type { PipelineConfig } from '../src/config/types.js';
import { FleetGen, T0, type GenOptions } from '../src/sim/bench-fleet.js';
import { quantile, sleep, startWorker, waitUntil } from './orchestrate.js';
import type { RunnerSettings } from './protocol.js';
import { percentiles } from './results.js';
import { benchPipeline } from './topics.js';

export interface LatencyOpts {
  brokers: string[];
  runId: string;
  rate: number;
  duration: number;
  partitions: number;
  gen: GenOptions;
  dataDir: string;
  profileDir?: string;
  /** Runner settings under experiment (bench's runnerOpts). */
  runner: RunnerSettings;
}

/**
 * Background events to send now in the latency phase: what the offered rate asks for by
 * `elapsedMs`, less what was sent, at most `cap` per request (a generator that fell behind
 * catches up in capped requests rather than one that grows with the backlog).
 */
export function backgroundDue(elapsedMs: number, rate: number, sent: number, cap: number): number {
  const due = Math.floor((elapsedMs / 1000) * rate) - sent;
  return due <= 0 ? 0 : due < cap ? due : cap;
}

/**
 * Offered load at a fixed rate into a fresh topic while the real runner consumes it. Among the
 * background events, every 100 ms one fresh "probe" device sends a burst of connections to
 * distinct ports: the last one of the burst completes a vertical scan (fanout's fixed minimum
 * applies from a device's first event, so no warm-up is needed) and must raise an alert.
 *   detected = probe sent → the runner's onAlert hook (decoded, detected, routed; not yet durable)
 *   durable  = probe sent → the alert readable on the outbox topic, i.e. after the finding was
 *              inserted into ClickHouse and the alert produced with acks=all. This is the figure
 *              an analyst (or SIEM) sees and the one the ≤ 1 s target applies to.
 */
export async function latencyPhase(kafka: Kafka, base: PipelineConfig, o: LatencyOpts, log: (s: string) => void): Promise<Record<string, unknown>> {
  const fan = base.detectors.find((d) => d.type === 'fanout');
  if (!fan) throw new Error('the latency probes need the fanout detector in the pipeline');
  const th = Number(fan.params.min_distinct_ports ?? 20);
  const floors: Record<string, number> = { info: 0, low: 0.3, medium: 0.5, high: 0.7, critical: 0.9 };
  const need = floors[base.alerts.min_severity] ?? 0.5;
  // fanout's score is 0.5 + 0.15·log2(count/threshold); ports needed for the alert band.
  const burst = Math.max(th, Math.ceil(th * 2 ** (Math.max(0, need - 0.5) / 0.15)));
  const topic = `bench.${o.runId}.lat`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: o.partitions, replicationFactor: -1 }] });
  await admin.disconnect();
  const cfg = benchPipeline(base, topic, `bench.${o.runId}.lat`, o.runId, 'lat');
  const outbox = String(cfg.alerts.routes[0]!.options.topic);
  const w = startWorker({ role: 'pipeline', brokers: o.brokers, cfg, dataDir: o.dataDir, probePrefix: 'probe-', ...o.runner }, { label: 'latency', ...(o.profileDir ? { profileDir: o.profileDir } : {}) });
  const sentAt = new Map<string, number>();
  const detectedAt = new Map<string, number>();
  const durableAt = new Map<string, number>();
  w.onAlert = (d, t) => {
    if (!detectedAt.has(d)) detectedAt.set(d, t);
  };
  await w.ready;

  // The outbox reader: what a SIEM connector would see.
  const reader: Consumer = kafka.consumer({ groupId: `bench.${o.runId}.lat-reader`, maxWaitTimeInMs: 50, allowAutoTopicCreation: true });
  await reader.connect();
  await reader.subscribe({ topic: outbox, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      const t = Date.now();
      try {
        const doc = JSON.parse(message.value?.toString('utf8') ?? '{}') as { device?: { uid?: string } };
        const d = doc.device?.uid;
        if (d?.startsWith('probe-') && !durableAt.has(d)) durableAt.set(d, t);
      } catch {
        /* not ours */
      }
    },
  });

  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const gen = new FleetGen(o.gen);
  let slot = 0;
  const wall0 = Date.now();
  // Event time follows wall time from a point after the preloaded fleet, so ticks and windows
  // behave as in production.
  const evT0 = T0 + 86_400_000 * 30;
  const background = (n: number): Message[] => {
    const ms: Message[] = [];
    const ts = evT0 + (Date.now() - wall0);
    for (let i = 0; i < n; i++, slot++) {
      const d = slot % o.gen.devices;
      ms.push({ key: gen.id(d), value: gen.event(slot, d, Math.floor(slot / o.gen.devices), ts) });
    }
    return ms;
  };
  // Warm-up: the consumer has joined and owns the partitions before the clock starts.
  const warm = 2_000;
  await producer.send({ topic, messages: background(warm), acks: 1 });
  await waitUntil(() => w.progress.processed >= warm, () => w.progress.processed, 'latency warm-up', 60_000, w.done);

  // Background load and probes go out on separate producers (connections) and loops. A probe
  // sent in the same request as the background, or waiting while this process generated a large
  // backlog after a slow send, timed the load generator rather than the pipeline (one such run:
  // a 27 s send, probes 30 s "late"). Background requests are capped at 50 ms of the offered rate,
  // so generating them never holds up this process's event loop, which also timestamps the
  // alerts; when the generator cannot keep up, achievedEventsPerSec says so.
  const probeProducer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await probeProducer.connect();
  const maxPerSend = Math.max(100, Math.ceil(o.rate / 20));
  let sent = 0;
  let probeSent = 0;
  let probes = 0;
  const tStart = Date.now();
  const tEnd = tStart + o.duration * 1000;
  let maxSendMs = 0;
  let maxProbeSendMs = 0;
  const probeLoop = (async () => {
    let nextProbe = tStart;
    while (Date.now() < tEnd) {
      const now = Date.now();
      if (now < nextProbe) {
        await sleep(nextProbe - now);
        continue;
      }
      // After a slow send, probes resume at their pace instead of bunching up.
      nextProbe = Math.max(nextProbe + 100, now);
      const probe = `probe-${o.runId}-${String(probes++).padStart(5, '0')}`;
      const ts = evT0 + (now - wall0);
      const messages: Message[] = [];
      for (let k = 0; k < burst; k++) {
        messages.push({ key: probe, value: gen.connection(slot, 6, ts + k, `10.99.${(probes >> 8) & 255}.${probes & 255}`, 2000 + k, 'tcp', null, false, '10.20.0.1', probe) });
      }
      const t = Date.now();
      sentAt.set(probe, t);
      await probeProducer.send({ topic, messages, acks: 1 });
      maxProbeSendMs = Math.max(maxProbeSendMs, Date.now() - t);
      probeSent += messages.length;
    }
  })();
  const lags: number[] = [];
  let lastLagSample = 0;
  while (Date.now() < tEnd) {
    const now = Date.now();
    if (now - lastLagSample >= 100) {
      lastLagSample = now;
      lags.push(Math.max(0, warm + sent + probeSent - w.progress.processed));
    }
    const due = backgroundDue(now - tStart, o.rate, sent + probeSent, maxPerSend);
    if (due > 0) {
      const t = Date.now();
      await producer.send({ topic, messages: background(due), acks: 1 });
      maxSendMs = Math.max(maxSendMs, Date.now() - t);
      sent += due;
    }
    const wait = 10 - (Date.now() - now);
    if (wait > 0) await sleep(wait);
  }
  await probeLoop;
  const sendSecs = (Date.now() - tStart) / 1000;
  // Let the last probes through; a probe that never arrives is reported as missing.
  const drainUntil = Date.now() + 15_000;
  while (Date.now() < drainUntil && (durableAt.size < sentAt.size || detectedAt.size < sentAt.size)) await sleep(50);
  const behind = warm + sent + probeSent - w.progress.processed;
  lags.sort((a, b) => a - b);
  await producer.disconnect();
  await probeProducer.disconnect();
  await reader.disconnect();
  w.stop();
  const r = await w.done;
  const stat = (at: Map<string, number>) => {
    const xs: number[] = [];
    for (const [d, t0] of sentAt) {
      const t1 = at.get(d);
      if (t1 !== undefined) xs.push(t1 - t0);
    }
    xs.sort((a, b) => a - b);
    return {
      samples: xs.length,
      missing: sentAt.size - xs.length,
      p50Ms: quantile(xs, 0.5),
      p90Ms: quantile(xs, 0.9),
      p99Ms: quantile(xs, 0.99),
      maxMs: xs.length ? xs[xs.length - 1]! : null,
      // The distribution for the plot: the 1st, 2nd, … 100th percentile.
      cdfMs: percentiles(xs),
    };
  };
  if (behind > 0) log(`  latency: the pipeline was ${behind} events behind when the phase ended`);
  return {
    offeredEventsPerSec: o.rate,
    achievedEventsPerSec: Math.round((sent + probeSent) / sendSecs),
    seconds: Math.round(sendSecs * 10) / 10,
    probes: sentAt.size,
    probeBurst: burst,
    maxProduceMs: maxSendMs,
    maxProbeProduceMs: maxProbeSendMs,
    eventsBehindAfterDrain: Math.max(0, behind),
    // Produced but not yet processed, sampled every 100 ms while producing.
    lagEvents: { p50: quantile(lags, 0.5), p99: quantile(lags, 0.99), max: lags.length ? lags[lags.length - 1]! : null },
    checkpoints: (r.state as { checkpoints: number }).checkpoints,
    checkpointAvgMs: Math.round((r.state as { checkpointMs: number }).checkpointMs / Math.max(1, (r.state as { checkpoints: number }).checkpoints)),
    checkpointMaxMs: (r.state as { maxCheckpointMs: number }).maxCheckpointMs,
    checkpointsPerSec: Math.round(((r.state as { checkpoints: number }).checkpoints / sendSecs) * 10) / 10,
    publishes: (r.state as { publishes: number }).publishes,
    publishAvgMs: Math.round((r.state as { publishMs: number }).publishMs / Math.max(1, (r.state as { publishes: number }).publishes)),
    publishMaxMs: (r.state as { publishMaxMs: number }).publishMaxMs,
    detected: stat(detectedAt),
    durable: stat(durableAt),
    peakRssBytes: r.peakRss,
  };
}
