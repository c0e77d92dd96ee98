/**
 * Routing decisions that keep a finding but hold its alert: a detector's own min_severity, and
 * maintenance windows (one-off, recurring in a time zone, ad hoc). Pure and event-time based.
 */
import { describe, expect, it } from 'vitest';
import { holdPolicy } from '../../src/alerts/hold.js';
import { maintenanceFor, scheduledCovers, type AdhocWindow } from '../../src/alerts/maintenance.js';
import { emptyRouterState, route } from '../../src/alerts/router.js';
import type { AlertChange } from '../../src/alerts/lifecycle.js';
import { formatConfigError, loadPipelineText } from '../../src/config/load.js';
import type { PipelineConfig } from '../../src/config/types.js';
import { severityOf } from '../../src/detectors/score.js';
import type { Finding, FindingDraft } from '../../src/detectors/types.js';
import { finalize } from '../../src/pipeline/engine.js';

const HEAD = 'name: h\nsource: { kafka: { topics: [t], group: g } }\n';
function pipeline(yaml: string): PipelineConfig {
  const r = loadPipelineText(HEAD + yaml, 'h.yaml', {});
  expect(r.errors.map(formatConfigError)).toEqual([]);
  return r.pipeline!;
}
function finding(over: Partial<FindingDraft> = {}): Finding {
  const score = over.score ?? 0.6;
  return finalize('h', { detector: 'fanout', key: 'k', device_id: 'plc-1', device_class: 'plc', first_ts: 0, last_ts: 0, count: 1, score, severity: severityOf(score), observed: 'x', expected: 'y', explanation: 'e', evidence: {}, mitre: [], ...over });
}
const at = (iso: string) => Date.parse(iso);
/** Whether routing opened a published alert. */
const created = (changes: AlertChange[]) => changes.some((c) => c.kind === 'create' && c.publish);
const opts = (cfg: PipelineConfig, adhoc: AdhocWindow[] = []) => ({ minSeverity: cfg.alerts.min_severity, suppressMs: cfg.alerts.suppress_ms, hold: holdPolicy(cfg, () => adhoc) });

describe('per-detector min_severity', () => {
  const cfg = pipeline('detectors:\n  - fanout: {}\n    min_severity: high\n  - policy: {}\n    min_severity: low\n  - new_peer: {}\n');

  it('raises or lowers the bar for that detector only; the finding is kept either way', () => {
    const o = opts(cfg);
    expect(route(emptyRouterState(), finding({ detector: 'fanout', score: 0.6 }), o)).toEqual([]);
    expect(o.hold.held(finding({ detector: 'fanout', score: 0.6 }))).toBe('detector_min_severity');
    expect(created(route(emptyRouterState(), finding({ detector: 'fanout', score: 0.75 }), o))).toBe(true);
    expect(created(route(emptyRouterState(), finding({ detector: 'policy', score: 0.35 }), o))).toBe(true);
    expect(route(emptyRouterState(), finding({ detector: 'new_peer', score: 0.35 }), o)).toEqual([]);
    expect(created(route(emptyRouterState(), finding({ detector: 'new_peer', score: 0.55 }), o))).toBe(true);
  });
});

describe('maintenance windows', () => {
  it('one-off: held inside; a held finding opens no alert, so its update after the window does', () => {
    const cfg = pipeline('detectors: [ { fanout: {} } ]\nmaintenance:\n  - { name: cutover, devices: [plc-1], start: "2026-03-10T22:00:00Z", end: "2026-03-11T02:00:00Z" }\n');
    const o = opts(cfg);
    const st = emptyRouterState();
    const inside = finding({ key: 'a', first_ts: at('2026-03-10T23:00:00Z'), last_ts: at('2026-03-10T23:00:00Z') });
    expect(route(st, inside, o)).toEqual([]);
    expect(o.hold.held(inside)).toBe('maintenance');
    // The same finding still going on ten minutes after the window: its update opens the alert.
    const after = { ...inside, version: 2, count: 2, last_ts: at('2026-03-11T02:10:00Z') };
    expect(created(route(st, after, o))).toBe(true);
    // Another device is not in scope.
    expect(created(route(emptyRouterState(), finding({ device_id: 'plc-2', first_ts: at('2026-03-10T23:00:00Z'), last_ts: at('2026-03-10T23:00:00Z') }), o))).toBe(true);
  });

  it('recurring: a cron schedule in a time zone, across the change to summer time', () => {
    const w = { name: 'sunday', schedule: '0 2 * * SUN', duration_ms: 2 * 3_600_000, timezone: 'Europe/Berlin' };
    // 2026-03-22 is a Sunday in winter time: 02:00 CET = 01:00Z, for two hours.
    expect(scheduledCovers(w, at('2026-03-22T00:59:00Z'))).toBe(false);
    expect(scheduledCovers(w, at('2026-03-22T01:30:00Z'))).toBe(true);
    expect(scheduledCovers(w, at('2026-03-22T02:59:00Z'))).toBe(true);
    expect(scheduledCovers(w, at('2026-03-22T03:00:00Z'))).toBe(false);
    // 2026-04-05, summer time: 02:00 CEST = 00:00Z.
    expect(scheduledCovers(w, at('2026-04-05T00:30:00Z'))).toBe(true);
    expect(scheduledCovers(w, at('2026-04-05T02:30:00Z'))).toBe(false);
    // A Saturday.
    expect(scheduledCovers(w, at('2026-03-28T01:30:00Z'))).toBe(false);
  });

  it('by class, and ad hoc windows scoped by pipeline and device', () => {
    const cfg = pipeline('detectors: [ { fanout: {} } ]\nmaintenance:\n  - { name: tills, classes: [pos_terminal], schedule: "0 3 * * *", duration: 1h }\n');
    const s = (device_id: string, device_class: string, ts: number, pipeline = 'h') => ({ pipeline, device_id, device_class, ts });
    expect(maintenanceFor(s('pos-1', 'pos_terminal', at('2026-03-12T03:30:00Z')), cfg.maintenance)).toBe('tills');
    expect(maintenanceFor(s('plc-1', 'plc', at('2026-03-12T03:30:00Z')), cfg.maintenance)).toBeUndefined();
    const adhoc: AdhocWindow[] = [
      { id: 'w1', pipeline: 'other', start_ms: at('2026-03-12T10:00:00Z'), end_ms: at('2026-03-12T11:00:00Z') },
      { id: 'w2', devices: ['plc-1'], start_ms: at('2026-03-12T10:00:00Z'), end_ms: at('2026-03-12T11:00:00Z') },
    ];
    expect(maintenanceFor(s('plc-1', 'plc', at('2026-03-12T10:30:00Z')), cfg.maintenance, adhoc)).toBe('w2');
    expect(maintenanceFor(s('plc-2', 'plc', at('2026-03-12T10:30:00Z')), cfg.maintenance, adhoc)).toBeUndefined();
    expect(maintenanceFor(s('plc-2', 'plc', at('2026-03-12T10:30:00Z'), 'other'), cfg.maintenance, adhoc)).toBe('w1');
    const o = opts(cfg, adhoc);
    expect(route(emptyRouterState(), finding({ first_ts: at('2026-03-12T10:30:00Z'), last_ts: at('2026-03-12T10:30:00Z') }), o)).toEqual([]);
  });
});
