/**
 * Background polls of the brokers with an admin client: the device stage's lag poller, and the
 * fleet stage's idle-source check, share one loop (connect, poll, reconnect after a failure).
 *
 * Lag is high watermark minus our position. Positions are the runner's; high watermarks come
 * from fetched batches and, for partitions that are blocked or idle, from the lag poll, which
 * doubles as the broker health check ('kafka' in the health registry).
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { sleep } from '../lib/retry.js';
import { report } from '../server/health.js';

export interface AdminPoll {
  /** Stop polling; resolves once the admin client is disconnected. */
  stop(): Promise<void>;
}

/**
 * Call `poll` with a connected admin client about every `everyMs` until stopped. A failed poll
 * goes to `failed` (`stopping`: the poll was being stopped) and the next one reconnects.
 */
export function pollWithAdmin(kafka: Kafka, everyMs: number, poll: (admin: Admin) => Promise<void>, failed: (e: unknown, stopping: boolean) => void): AdminPoll {
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
        await poll(admin);
      } catch (e) {
        failed(e, !polling);
        if (connected) await admin.disconnect().catch(() => undefined);
        connected = false;
      }
      // In steps, so that stop() does not wait a whole period.
      for (let waited = 0; waited < everyMs && polling; waited += 250) await sleep(250);
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

/** Poll the sources' high watermarks about every 2 s and raise each known partition's `high`. */
export function startLagPoller(kafka: Kafka, topics: readonly string[], partition: (topic: string, p: number) => { high: bigint } | undefined, log: Logger): AdminPoll {
  return pollWithAdmin(
    kafka,
    2_000,
    async (admin) => {
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
    },
    (e, stopping) => {
      if (!stopping) report('kafka', 'degraded', `cannot reach brokers: ${String(e)}`);
      log.debug({ err: String(e) }, 'lag poll failed');
    },
  );
}
