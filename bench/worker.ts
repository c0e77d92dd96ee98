/**
 * A measurement worker: one process per measured phase, forked by the parent (orchestrate.ts),
 * so each phase gets a fresh heap, its own embedded ClickHouse and an RSS that is its own. It
 * waits for its spec, runs its role, and reports the result over IPC.
 */
import { pino } from 'pino';
import { setLogger } from '../src/obs/log.js';
import { send, type ToParent, type ToWorker, type WorkerSpec } from './protocol.js';
import { ceilingWorker } from './roles/ceiling.js';
import { detectWorker } from './roles/detect.js';
import { pipelineWorker } from './roles/pipeline.js';

// The generated fleet has malformed events on purpose; one warn line per dead letter would bury
// the table. The figures come from typed events (roles/pipeline.ts), not from the log.
setLogger(pino({ level: process.env.LOG_LEVEL ?? 'error' }, pino.destination(2)));

const spec = await new Promise<WorkerSpec>((resolve) => {
  const on = (m: ToWorker) => {
    if (m.kind === 'spec') {
      process.off('message', on);
      resolve(m.spec);
    }
  };
  process.on('message', on);
});
try {
  const result = spec.role === 'ceiling' ? await ceilingWorker(spec) : spec.role === 'pipeline' ? await pipelineWorker(spec) : await detectWorker(spec);
  process.send?.({ kind: 'done', result } satisfies ToParent, () => process.exit(0));
} catch (e) {
  send({ kind: 'error', error: (e as Error).stack ?? String(e) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 200).unref();
}
