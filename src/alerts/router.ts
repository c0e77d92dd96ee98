/**
 * Alert routing decisions, pure and event-time based so a replay raises the same alerts.
 *
 * A finding becomes an alert when its severity reaches the pipeline's min_severity, once per
 * severity band: extensions of an alerted finding are not re-sent unless it escalates to a
 * higher band (which is sent as an update with its own alert id). Other findings of one
 * device+detector inside the suppression window fold into the open alert (counted, not sent);
 * the next alert after the window says how many were folded.
 */
import type { Finding, Severity } from '../detectors/types.js';
import { SEVERITY_RANK } from '../detectors/score.js';
import type { HoldPolicy } from './hold.js';

export interface RouterOptions {
  minSeverity: Severity;
  suppressMs: number;
  /** Per-detector min_severity and maintenance windows (hold.ts): findings kept, alerts held. */
  hold?: HoldPolicy;
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
}

interface Sent {
  /** Highest severity rank alerted for the finding. */
  rank: number;
  /** Event time of the finding's latest update, for pruning. */
  last: number;
}

export interface RouterState {
  groups: Record<string, Group>;
  /** Findings already alerted, by finding_id. */
  sent?: Record<string, Sent>;
}

export const emptyRouterState = (): RouterState => ({ groups: {}, sent: {} });

export function route(state: RouterState, f: Finding, opts: RouterOptions): AlertDecision | null {
  const rank = SEVERITY_RANK[f.severity];
  if (rank < SEVERITY_RANK[opts.hold ? opts.hold.minSeverityOf(f.detector) : opts.minSeverity]) return null;
  if (opts.hold?.held(f) !== undefined) return null;
  const sent = (state.sent ??= {});
  const prior = sent[f.finding_id];
  if (prior) {
    prior.last = Math.max(prior.last, f.last_ts);
    if (rank <= prior.rank) return null; // an extension of an alerted finding, same band
    prior.rank = rank;
    return { finding: f, alert_id: `${f.finding_id}-${f.severity}`, suppressed_before: 0 };
  }
  const key = `${f.device_id}\u0000${f.detector}`;
  const g = state.groups[key];
  if (g !== undefined && f.last_ts - g.opened < opts.suppressMs) {
    g.folded += 1;
    return null;
  }
  const folded = g?.folded ?? 0;
  state.groups[key] = { opened: f.last_ts, folded: 0 };
  sent[f.finding_id] = { rank, last: f.last_ts };
  return { finding: f, alert_id: `${f.finding_id}-${f.severity}`, suppressed_before: folded };
}

/** How long an alerted finding is remembered after its last update (an incident gap is shorter). */
const SENT_TTL_MS = 7 * 86_400_000;

/** Drop windows and alerted findings long past so the state stays bounded. */
export function pruneRouter(state: RouterState, watermark: number, opts: RouterOptions): void {
  for (const k in state.groups) {
    const g = state.groups[k]!;
    // A window with folded findings is kept a while so the next alert can report them.
    const keep = g.folded > 0 ? Math.max(opts.suppressMs * 4, 86_400_000) : opts.suppressMs * 4;
    if (watermark - g.opened > keep) delete state.groups[k];
  }
  const sent = state.sent ?? {};
  for (const id in sent) if (watermark - sent[id]!.last > SENT_TTL_MS) delete sent[id];
}
