/**
 * One exit-code convention for every command, and the one place where errors become what a user
 * reads. A user's mistake is a one-line reason on stderr, never a stack trace:
 *
 *   0  ok
 *   1  a command that judges found something: findings (test), missed targets (backtest
 *      --fail-on-targets), invalid cases
 *   2  usage error or invalid input: a bad flag, a missing file, an invalid pipeline
 *   3  could not run: Kafka or ClickHouse unreachable, a pipeline that failed to start, a bug
 *
 * 3 is kept apart from 1 so a CI step that runs `m2m-sentinel test` can tell "the pipeline
 * raised what it should not" from "the broker was down".
 */
import { CommanderError } from 'commander';

export const EXIT = { ok: 0, judged: 1, usage: 2, failure: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A mistake in what the user typed or handed us: rendered as one line, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command could not do its job for a reason outside the user's input: one line, exit 3. */
export class RunError extends Error {
  override name = 'RunError';
}

/** File-system errors on a path the user named are input errors, not bugs. */
const INPUT_ERRNO = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR', 'EPERM', 'ELOOP', 'ENAMETOOLONG']);

function isKafkaError(e: unknown): boolean {
  const name = (e as { name?: string })?.name ?? '';
  return name.startsWith('KafkaJS');
}

/** What to print and which code to exit with for an error that reached the top of a command. */
function describeError(e: unknown): { code: ExitCode; message: string; stack?: string } {
  if (e instanceof UsageError) return { code: EXIT.usage, message: e.message };
  if (e instanceof RunError) return { code: EXIT.failure, message: e.message };
  // Lower layers cannot import this module; they mark errors whose message is the whole story.
  if ((e as { userFacing?: boolean })?.userFacing === true) return { code: EXIT.failure, message: (e as Error).message };
  const errno = (e as NodeJS.ErrnoException)?.code;
  if (typeof errno === 'string' && INPUT_ERRNO.has(errno)) {
    const path = (e as NodeJS.ErrnoException).path;
    const what = errno === 'ENOENT' ? 'no such file or directory' : errno === 'EISDIR' ? 'is a directory' : errno === 'ENOTDIR' ? 'not a directory' : errno === 'EACCES' || errno === 'EPERM' ? 'permission denied' : errno;
    return { code: EXIT.usage, message: path ? `${path}: ${what}` : (e as Error).message };
  }
  if (isKafkaError(e)) {
    const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
    return { code: EXIT.failure, message: `Kafka at ${brokers}: ${(e as Error).message} (is the broker running? KAFKA_BROKERS names it)` };
  }
  if (typeof errno === 'string' && ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH'].includes(errno)) {
    return { code: EXIT.failure, message: (e as Error).message };
  }
  // Anything else is a bug: say so in one line; the stack is for the bug report, on request.
  const err = e instanceof Error ? e : new Error(String(e));
  return { code: EXIT.failure, message: `internal error: ${err.message}`, ...(err.stack ? { stack: err.stack } : {}) };
}

/**
 * Commander's own errors: help and version are a success; everything else (unknown option,
 * missing argument, a value an option parser refused) is a usage error it already printed.
 */
function commanderExit(e: CommanderError): ExitCode {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' || e.exitCode === 0) return EXIT.ok;
  return EXIT.usage;
}

/** Print an error that reached the top and return the code to exit with. */
export function reportError(e: unknown, write: (s: string) => void = (s) => void process.stderr.write(s)): ExitCode {
  if (e instanceof CommanderError) return commanderExit(e);
  const d = describeError(e);
  write(`m2m-sentinel: ${d.message}\n`);
  if (d.stack) {
    if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace') write(d.stack + '\n');
    else write('m2m-sentinel: this is a bug; run with LOG_LEVEL=debug for the stack trace and report it\n');
  }
  return d.code;
}
