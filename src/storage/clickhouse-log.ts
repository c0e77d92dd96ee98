/**
 * @clickhouse/client logs through its own console logger by default: multi-line text with the
 * cause's stack trace, on stderr, beside our JSON lines, and in front of a CLI command's one-line
 * error. Route it through pino instead. Its errors are warnings here: the same error is thrown to
 * the caller, which decides (the runner retries and counts, a command reports it once).
 */
import type { Logger, LogParams, ErrorLogParams, WarnLogParams } from '@clickhouse/client';
import { logger } from '../obs/log.js';

const log = (module: string) => logger().child({ component: 'clickhouse-client', module });
const errText = (e: unknown) => (e instanceof Error ? e.message : e === undefined ? undefined : String(e));

export class PinoClickHouseLogger implements Logger {
  trace({ module, message, args }: LogParams): void {
    log(module).trace({ args }, message);
  }
  debug({ module, message, args }: LogParams): void {
    log(module).debug({ args }, message);
  }
  info({ module, message, args }: LogParams): void {
    log(module).debug({ args }, message);
  }
  warn({ module, message, args, err }: WarnLogParams): void {
    log(module).warn({ args, err: errText(err) }, message);
  }
  error({ module, message, args, err }: ErrorLogParams): void {
    log(module).warn({ args, err: errText(err) }, message);
  }
}
