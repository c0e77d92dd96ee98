/**
 * Logging for commands a person runs in a terminal (replay, tap, query, test): the service's
 * JSON logs would bury the command's own output, and kafkajs reports every retry of an
 * unreachable broker. These commands log at `error` unless LOG_LEVEL says otherwise, on stderr;
 * what went wrong reaches the user once, as the command's own one-line error.
 */
import { pino } from 'pino';
import { setLogger } from '../obs/log.js';

export function interactiveLogging(): void {
  setLogger(pino({ level: process.env.LOG_LEVEL ?? 'error', base: { svc: 'm2m-sentinel' } }, pino.destination({ dest: 2, sync: true })));
}
