/**
 * The `m2m-sentinel` binary as a user runs it: `node bin/m2m-sentinel.js …` (the build that
 * `npm install` makes), in a child process, with the exit code and both streams captured.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/m2m-sentinel.js', import.meta.url));

export interface BinResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `script`: another copy of the launcher (a test's slim layout); default the repository's. */
export function bin(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number; input?: string; script?: string } = {}): Promise<BinResult> {
  // The suite's LOG_LEVEL (vitest.config.ts) is not what a user has; undefined unsets a variable.
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.LOG_LEVEL;
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [opts.script ?? BIN, ...args],
      { encoding: 'utf8', cwd: opts.cwd ?? ROOT, timeout: opts.timeoutMs ?? 60_000, env, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0, stdout, stderr }),
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/**
 * A stack frame line ("    at fn (file.js:1:2)"): what a user's mistake must never print. Node's
 * inspection of an error with own properties ends the last frame with " {", so that counts too.
 */
export const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)(?: \{)?$/m;

/** Port nothing listens on, for "Kafka is unreachable" (the discard port, never served here). */
export const DEAD_BROKER = '127.0.0.1:9';
