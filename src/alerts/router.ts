/**
 * Alert routing decisions, pure and event-time based so a replay raises the same alerts.
 *
 * A finding is alert-worthy when its severity reaches the pipeline's min_severity; alert-worthy
 * findings fold into alerts with a lifecycle (lifecycle.ts: grouping by device + detector + key,
 * escalation, suppression of repeats, auto-close in event time). The router state is
 * checkpointed with the partition's offsets, so a restore resumes the same open alerts.
 */
import type { Finding, Severity } from '../detectors/types.js';
import { SEVERITY_RANK } from '../detectors/score.js';
import type { HoldPolicy } from './hold.js';
import { closeQuiet, nextClose, observe, type AlertChange } from './lifecycle.js';
import { emptyLifecycle, type RouterState } from './record.js';

// The state's type and empty value live in record.ts, where checkpoints (below the alert logic) can name them.
export { emptyRouterState, type RouterState } from './record.js';

export interface RouterOptions {
  minSeverity: Severity;
  suppressMs: number;
  /** Quiet time (event time) after which an open alert closes by itself. Default 24 h: an analyst who comes back the next morning still finds yesterday's alerts open. */
  autoCloseMs?: number;
  /** Per-detector min_severity and maintenance windows (hold.ts): findings kept, alerts held. */
  hold?: HoldPolicy;
}

export const DEFAULT_AUTO_CLOSE_MS = 24 * 3_600_000;

const lifecycleOpts = (opts: RouterOptions) => ({ suppressMs: opts.suppressMs, autoCloseMs: opts.autoCloseMs ?? DEFAULT_AUTO_CLOSE_MS });

/** The alert changes one finding makes (none below min_severity). */
export function route(state: RouterState, f: Finding, opts: RouterOptions, at?: { topic: string; partition: number; offset: string }): AlertChange[] {
  if (SEVERITY_RANK[f.severity] < SEVERITY_RANK[opts.hold ? opts.hold.minSeverityOf(f.detector) : opts.minSeverity]) return [];
  // Held before the lifecycle sees it: a held finding opens no alert, so its next update after
  // the window (or a later escalation past its detector's min_severity) opens one.
  if (opts.hold?.held(f) !== undefined) return [];
  return observe((state.lifecycle ??= emptyLifecycle()), f, lifecycleOpts(opts), at);
}

/** The watermark reached `watermark`: alerts quiet for the auto-close time close. */
export function routeTime(state: RouterState, watermark: number, opts: RouterOptions): AlertChange[] {
  const lc = (state.lifecycle ??= emptyLifecycle());
  return nextClose(lc, lifecycleOpts(opts)) <= watermark ? closeQuiet(lc, watermark, lifecycleOpts(opts)) : [];
}

/** Nothing to prune any more: closed alerts leave the state as they close. Kept for callers. */
export function pruneRouter(state: RouterState, _watermark: number, _opts: RouterOptions): void {
  delete state.groups;
  delete state.sent;
}
