/**
 * Lag is high watermark minus our position. Positions are the runner's; high watermarks come
 * from fetched batches and, for partitions that are blocked or idle, from this background poll,
 * which doubles as the broker health check ('kafka' in the health registry).
 */
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { sleep } from '../lib/retry.js';
import { report } from '../server/health.js';

export interface LagPoller {
  /** Stop polling; resolves once the admin client is disconnected. */
  stop(): Promise<void>;
}

/** Poll the sources' high watermarks about every 2 s and raise each known partition's `high`. */
export function startLagPoller(kafka: Kafka, topics: readonly string[], partition: (topic: string, p: number) => { high: bigint } | undefined, log: Logger): LagPoller {
  let polling = true;
  const done = (async () => {
    // Few retries: kafkajs' default retry would keep a dead broker looking healthy for a minute.
    const admin = kafka.admin({ retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 } });
    let connected = false;
    while (polling) {
      try {
        if (!connected) {
          await admin.connect();
          connected = true;
        }
        for (const topic of topics) {
          for (const o of await admin.fetchTopicOffsets(topic)) {
            const ps = partition(topic, o.partition);
            if (ps) {
              const h = BigInt(o.high);
              if (h > ps.high) ps.high = h;
            }
          }
        }
        report('kafka', 'ok');
      } catch (e) {
        if (polling) report('kafka', 'degraded', `cannot reach brokers: ${String(e)}`);
        log.debug({ err: String(e) }, 'lag poll failed');
        if (connected) await admin.disconnect().catch(() => undefined);
        connected = false;
      }
      for (let i = 0; i < 8 && polling; i++) await sleep(250);
    }
    await admin.disconnect().catch(() => undefined);
  })();
  return {
    stop() {
      polling = false;
      return done;
    },
  };
}
