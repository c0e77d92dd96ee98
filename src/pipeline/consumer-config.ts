/**
 * The consumer settings of a pipeline's group, one place for the runner and the bench's ceiling
 * (raw kafkajs consumption), so the ceiling measures the same fetches the pipeline makes.
 */
import type { ConsumerConfig } from 'kafkajs';

/**
 * Consumer group session timeout: how long the partitions of an instance that died without
 * leaving (SIGKILL, host loss) stay stalled before the group moves them. Default 30 s, or
 * KAFKA_SESSION_TIMEOUT_MS; the broker bounds it (group.min/max.session.timeout.ms).
 */
export function consumerConfig(groupId: string, sessionTimeoutMs?: number): ConsumerConfig {
  const sessionTimeout = sessionTimeoutMs ?? (Number(process.env.KAFKA_SESSION_TIMEOUT_MS) || 30_000);
  return {
    groupId,
    sessionTimeout,
    rebalanceTimeout: 60_000,
    heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
    maxBytesPerPartition: 1_048_576,
    maxBytes: 4 * 1_048_576,
    allowAutoTopicCreation: false,
  };
}
