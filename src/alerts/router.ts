/**
 * Alert routing decisions, pure and event-time based so a replay raises the same alerts.
 *
 * A finding becomes an alert when its severity reaches the pipeline's min_severity. Repeats of
 * one device+detector inside the suppression window fold into the open alert (counted, not
 * sent); the next alert after the window says how many were folded. A finding whose severity
 * escalates to a higher band after it was alerted is sent again as an update.
 */
import type { Finding, Severity } from '../detectors/types.js';
import { SEVERITY_RANK } from '../detectors/score.js';

export interface RouterOptions {
  minSeverity: Severity;
  suppressMs: number;
}

export interface AlertDecision {
  finding: Finding;
  alert_id: string;
  suppressed_before: number;
}

interface Group {
  /** Event time the current window opened. */
  opened: number;
  /** Findings folded since. */
  folded: number;
  /** Finding ids already alerted in this window, with the severity rank sent. */
  sent: Record<string, number>;
}

export interface RouterState {
  groups: Record<string, Group>;
}

export const emptyRouterState = (): RouterState => ({ groups: {} });

export function route(state: RouterState, f: Finding, opts: RouterOptions): AlertDecision | null {
  const rank = SEVERITY_RANK[f.severity];
  if (rank < SEVERITY_RANK[opts.minSeverity]) return null;
  const key = `${f.device_id}\u0000${f.detector}`;
  const g = state.groups[key];
  const inWindow = g !== undefined && f.last_ts - g.opened < opts.suppressMs;
  if (inWindow) {
    const sentRank = g.sent[f.finding_id];
    if (sentRank !== undefined) {
      if (rank <= sentRank) return null; // an extension of an alerted finding, same band
      g.sent[f.finding_id] = rank;
      return { finding: f, alert_id: `${f.finding_id}-${f.severity}`, suppressed_before: 0 };
    }
    g.folded += 1;
    return null;
  }
  const folded = g?.folded ?? 0;
  state.groups[key] = { opened: f.last_ts, folded: 0, sent: { [f.finding_id]: rank } };
  return { finding: f, alert_id: `${f.finding_id}-${f.severity}`, suppressed_before: folded };
}

/** Drop groups whose window closed long ago so the state stays bounded. */
export function pruneRouter(state: RouterState, watermark: number, opts: RouterOptions): void {
  for (const k in state.groups) {
    const g = state.groups[k]!;
    if (watermark - g.opened > opts.suppressMs * 4 && g.folded === 0) delete state.groups[k];
  }
}
