/** The process logger. Structured JSON (pino); pretty output is the reader's choice (pino-pretty). */
import { pino, type Logger } from 'pino';

let root: Logger | undefined;

export function logger(): Logger {
  if (!root) {
    root = pino({
      level: process.env.LOG_LEVEL ?? 'info',
      base: { svc: 'm2m-sentinel' },
      // Secrets never reach a log line, whatever a caller passes.
      redact: { paths: ['*.secret', '*.password', '*.token', '*.url_with_credentials', 'options.secret'], censor: '***' },
    });
  }
  return root;
}

/** Replace the process logger (tests, the demo's quiet mode). */
export function setLogger(l: Logger): void {
  root = l;
}
