/**
 * Kafka authorization, as the operator needs to hear about it. With ACLs on, a missing grant
 * surfaces from kafkajs as "TOPIC_AUTHORIZATION_FAILED" from some request, naming neither the
 * topic nor what was attempted, and, if it first happens inside a checkpoint transaction, as a
 * checkpoint that fails, restores and fails again forever. So a pipeline checks at start, with
 * the operations it will really perform, that it may do each of them, and stops with one message
 * naming the operation and the resource (and the ACL to add) when it may not: no crash loop.
 */
import type { Kafka } from 'kafkajs';

/** The service's principal may not do something; never retried. */
export class AccessDenied extends Error {
  override name = 'AccessDenied';
}

const AUTH_TYPES = /^(TOPIC|GROUP|CLUSTER|TRANSACTIONAL_ID)_AUTHORIZATION_FAILED$/;

/** The kafkajs error type if `e` (or an error inside it) is an authorization or authentication failure. */
function authorizationFailure(e: unknown): string | undefined {
  const err = e as { type?: string; name?: string; errors?: unknown[]; cause?: unknown; originalError?: unknown };
  if (!err || typeof err !== 'object') return undefined;
  if (typeof err.type === 'string' && (AUTH_TYPES.test(err.type) || err.type === 'SASL_AUTHENTICATION_FAILED')) return err.type;
  if (err.name === 'KafkaJSSASLAuthenticationError') return 'SASL_AUTHENTICATION_FAILED';
  for (const inner of [...(Array.isArray(err.errors) ? err.errors : []), err.cause, err.originalError]) {
    const t = authorizationFailure(inner);
    if (t) return t;
  }
  return undefined;
}

export interface Attempt {
  /** The Kafka ACL operation, e.g. READ, WRITE, CREATE, DESCRIBE. */
  operation: string;
  /** The ACL resource type and name, e.g. topic m2m.alerts, group sentinel, transactional-id prefix sentinel. */
  resource: string;
  /** What it is for, in the service's words. */
  why: string;
}

/** Run `fn`; an authorization failure becomes an AccessDenied naming the attempt. */
export async function attempt<T>(a: Attempt, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const t = authorizationFailure(e);
    if (!t) throw e;
    if (t === 'SASL_AUTHENTICATION_FAILED') throw new AccessDenied(`Kafka refused the service's credentials (SASL authentication failed) while trying to ${a.why}: check the SASL mechanism, user name and password`);
    throw new AccessDenied(`not authorized to ${a.operation} ${a.resource} (${t}), needed to ${a.why}: grant the service's principal ${a.operation} on ${a.resource} (docs/operations.md lists the ACLs)`);
  }
}

export interface PreflightPlan {
  group: string;
  sources: string[];
  /** Topics the pipeline writes in transactions, with what each is. */
  outputs: Array<{ topic: string; what: string }>;
}

/**
 * Check, with the requests the pipeline itself makes, that its principal may describe and read
 * its sources and group, and write each of its outputs in a transaction (a probe record in a
 * transaction that is aborted, so no reader ever sees it).
 */
export async function preflight(kafka: Kafka, p: PreflightPlan): Promise<void> {
  const admin = kafka.admin();
  await attempt({ operation: 'DESCRIBE', resource: 'the cluster', why: 'connect' }, () => admin.connect());
  try {
    // One request for all sources; only when it is refused, one per topic to name the culprit.
    const all = await admin.fetchTopicMetadata({ topics: p.sources }).then(
      () => true,
      (e: unknown) => {
        if (!authorizationFailure(e)) throw e;
        return false;
      },
    );
    if (!all) {
      for (const topic of p.sources) {
        await attempt({ operation: 'READ', resource: `topic ${topic}`, why: 'consume its events' }, () => admin.fetchTopicMetadata({ topics: [topic] }));
      }
    }
    await attempt({ operation: 'READ', resource: `group ${p.group}`, why: 'commit its offsets' }, () => admin.fetchOffsets({ groupId: p.group, topics: p.sources }));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const producer = kafka.producer({ transactionalId: `${p.group}.preflight`, idempotent: true, maxInFlightRequests: 1, retry: { retries: 2 } });
  await attempt({ operation: 'WRITE', resource: `transactional-id prefix ${p.group}`, why: 'write alerts, dead letters and state in transactions' }, async () => {
    await producer.connect();
    const t = await producer.transaction();
    await t.abort();
  });
  const probe = async (outputs: PreflightPlan['outputs']): Promise<void> => {
    const t = await producer.transaction();
    try {
      await t.sendBatch({ topicMessages: outputs.map((o) => ({ topic: o.topic, messages: [{ key: '__m2m_preflight__', value: null, headers: { 'x-m2m-preflight': '1' } }] })) });
    } finally {
      await t.abort().catch(() => undefined);
    }
  };
  try {
    // One transaction for all outputs (a start must stay quick); when refused, one per output to
    // name the topic the grant is missing on.
    // Whatever refused the batch, the per-output probes say it again with the topic named.
    const ok = await probe(p.outputs).then(
      () => true,
      () => false,
    );
    if (!ok) for (const o of p.outputs) await attempt({ operation: 'WRITE', resource: `topic ${o.topic}`, why: `write the ${o.what}` }, () => probe([o]));
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}
