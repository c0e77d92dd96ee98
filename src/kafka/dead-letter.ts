/**
 * Dead-letter records keep the original bytes untouched as the value and carry the reason and
 * the origin in headers, so a fixed decoder (or a human) can replay them exactly.
 */
import type { IHeaders, Message } from 'kafkajs';
import type { DecodeError } from '../events/decode.js';

export interface DeadLetterOrigin {
  pipeline: string;
  topic: string;
  partition: number;
  offset: string;
}

/** Why a record is dead-lettered: a decode error, or another stage's reason (e.g. a bad outbox record). */
export type DeadLetterReason = Pick<DecodeError, 'message' | 'field'> & { code: string };

export function deadLetterMessage(key: Buffer | null, value: Buffer | null, err: DeadLetterReason, origin: DeadLetterOrigin): Message {
  const headers: IHeaders = {
    'x-m2m-reason-code': err.code,
    'x-m2m-reason': err.message,
    'x-m2m-pipeline': origin.pipeline,
    'x-m2m-source-topic': origin.topic,
    'x-m2m-source-partition': String(origin.partition),
    'x-m2m-source-offset': origin.offset,
  };
  if (err.field) headers['x-m2m-field'] = err.field;
  return { key, value, headers };
}

export function readDeadLetterHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String).join(',') : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}
