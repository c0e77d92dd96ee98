/**
 * Child process of `m2m-sentinel robustness`: runs one world per message (robustness-run.ts) and
 * reports progress and the result back over IPC.
 */
import { runWorld, type WorldJob } from './robustness-run.js';

process.on('message', (job: WorldJob) => {
  runWorld(job, (progress) => process.send?.({ type: 'progress', progress }))
    .then((result) => process.send?.({ type: 'result', result }))
    .catch((e: unknown) => process.send?.({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
});
// The parent disconnects when it has the result; then there is nothing left to do.
process.on('disconnect', () => process.exit(0));
