/**
 * Routing decisions that hold an alert while keeping its finding: a detector's own
 * `min_severity`, and maintenance windows. Pure and event-time based like the rest of the
 * router, so a replay holds exactly the same alerts. The router asks `held()` before it touches
 * any state, so a held finding neither opens a suppression window nor counts as alerted: if it
 * is still going on after the window, its next update alerts.
 */
import type { PipelineConfig } from '../config/types.js';
import { SEVERITY_RANK } from '../detectors/score.js';
import type { Finding, Severity } from '../detectors/types.js';
import { maintenanceFor, type AdhocWindow } from './maintenance.js';

export type HoldReason = 'detector_min_severity' | 'maintenance';

export interface HoldPolicy {
  /** The severity from which a detector's findings alert (its own, else the pipeline's). */
  minSeverityOf(detector: string): Severity;
  /** Why an alert-worthy finding is held, or undefined to alert it. */
  held(f: Finding): HoldReason | undefined;
}

export function holdPolicy(cfg: Pick<PipelineConfig, 'name' | 'detectors' | 'alerts' | 'maintenance'>, adhoc: () => Iterable<AdhocWindow> = () => []): HoldPolicy {
  const own = new Map<string, Severity>();
  for (const d of cfg.detectors) if (d.min_severity) own.set(d.id, d.min_severity);
  const minSeverityOf = (detector: string): Severity => own.get(detector) ?? cfg.alerts.min_severity;
  return {
    minSeverityOf,
    held(f) {
      if (SEVERITY_RANK[f.severity] < SEVERITY_RANK[minSeverityOf(f.detector)]) return 'detector_min_severity';
      if (maintenanceFor({ pipeline: cfg.name, device_id: f.device_id, device_class: f.device_class, ts: f.last_ts }, cfg.maintenance, adhoc()) !== undefined) return 'maintenance';
      return undefined;
    },
  };
}
