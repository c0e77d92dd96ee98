/**
 * The process logger. Structured JSON (pino) on stderr; pretty output is the reader's choice
 * (pino-pretty). Stdout belongs to what a command prints: tables, findings, and the stdout alert
 * route's OCSF lines, which a log collector must be able to read without log lines in between.
 */
import { pino, type Logger } from 'pino';

let root: Logger | undefined;

export function logger(): Logger {
  if (!root) {
    root = pino({
      level: process.env.LOG_LEVEL ?? 'info',
      base: { svc: 'm2m-sentinel' },
      // Secrets never reach a log line, whatever a caller passes.
      redact: { paths: ['*.secret', '*.password', '*.token', '*.url_with_credentials', 'options.secret'], censor: '***' },
    }, pino.destination({ dest: 2, sync: true }));
  }
  return root;
}

/** Replace the process logger (tests, the demo's quiet mode). */
export function setLogger(l: Logger): void {
  root = l;
}
