/** The alert router: grouping, escalation, folding, updates after the suppression window, and closing in event time. */
import { describe, expect, it } from 'vitest';
import { emptyRouterState, route, routeTime } from '../../src/alerts/router.js';
import { finding, routerOpts } from './helpers.js';

describe('alert router', () => {
  it('drops findings below min_severity', () => {
    expect(route(emptyRouterState(), finding({ score: 0.35 }), routerOpts)).toEqual([]);
  });

  it('groups one device + detector + key into one alert, escalates, folds and updates after the window', () => {
    const st = emptyRouterState();
    const f1 = finding();
    const [c1] = route(st, f1, routerOpts);
    expect(c1).toMatchObject({ kind: 'create', publish: true, alert: { seq: 1, count: 1, findings: 1, severity: 'medium' } });
    const id = c1!.alert.alert_id;
    // The same finding extended: folded into the alert, not sent.
    const [c2] = route(st, { ...f1, count: 2, version: 2, last_ts: f1.last_ts + 1000 }, routerOpts);
    expect(c2).toMatchObject({ kind: 'fold', publish: false, alert: { alert_id: id, seq: 2, count: 2, findings: 1 } });
    // A rise in severity band is an escalation, sent at once.
    const [c3] = route(st, { ...f1, score: 0.95, severity: 'critical', count: 3, version: 3, last_ts: f1.last_ts + 2000 }, routerOpts);
    expect(c3).toMatchObject({ kind: 'escalate', publish: true, from: 'medium', alert: { alert_id: id, severity: 'critical', initial_severity: 'medium', count: 3 } });
    // Another finding of the same key inside the window: folded, counted.
    const f2 = finding({ first_ts: 1_060_000, last_ts: 1_060_000 });
    const [c4] = route(st, f2, routerOpts);
    expect(c4).toMatchObject({ kind: 'fold', alert: { alert_id: id, findings: 2, count: 4 } });
    // The first repeat after the suppression window goes out as an update with the count.
    const f3 = finding({ first_ts: 1_000_000 + 31 * 60_000, last_ts: 1_000_000 + 31 * 60_000 });
    const [c5] = route(st, f3, routerOpts);
    expect(c5).toMatchObject({ kind: 'update', publish: true, folded: 1, alert: { alert_id: id, findings: 3, count: 5, severity: 'critical' } });
    // Another key or device is another alert.
    expect(route(st, finding({ key: 'ports', first_ts: 1_060_000, last_ts: 1_060_000 }), routerOpts)[0]?.kind).toBe('create');
    expect(route(st, finding({ device_id: 'cam-2', first_ts: 1_060_000, last_ts: 1_060_000 }), routerOpts)[0]?.kind).toBe('create');
  });

  it('closes an alert once its group has been quiet for auto_close in event time, and opens a new one after', () => {
    const st = emptyRouterState();
    const [c1] = route(st, finding(), routerOpts);
    const id = c1!.alert.alert_id;
    expect(routeTime(st, 1_000_000 + routerOpts.autoCloseMs - 1, routerOpts)).toEqual([]);
    const [close] = routeTime(st, 1_000_000 + routerOpts.autoCloseMs, routerOpts);
    expect(close).toMatchObject({ kind: 'close', publish: true, alert: { alert_id: id, seq: 2, closed_ts: 1_000_000 + routerOpts.autoCloseMs } });
    expect(routeTime(st, 1_000_000 + 3 * routerOpts.autoCloseMs, routerOpts)).toEqual([]);
    const later = finding({ first_ts: 1_000_000 + 3 * routerOpts.autoCloseMs, last_ts: 1_000_000 + 3 * routerOpts.autoCloseMs });
    const [c2] = route(st, later, routerOpts);
    expect(c2?.kind).toBe('create');
    expect(c2?.alert.alert_id).not.toBe(id);
  });

  it('reaches the same alerts whether the watermark closes an alert before a late finding or the finding does', () => {
    // Batches end in different places on a replay: the close must not depend on it.
    const quietEnd = 1_000_000 + routerOpts.autoCloseMs;
    const next = finding({ first_ts: quietEnd + 60_000, last_ts: quietEnd + 60_000 });
    const a = emptyRouterState();
    route(a, finding(), routerOpts);
    const viaClock = [...routeTime(a, quietEnd + 60_000, routerOpts), ...route(a, next, routerOpts)];
    const b = emptyRouterState();
    route(b, finding(), routerOpts);
    const viaFinding = route(b, next, routerOpts);
    expect(viaFinding.map((c) => [c.kind, c.alert.alert_id, c.alert.seq, c.alert.closed_ts])).toEqual(viaClock.map((c) => [c.kind, c.alert.alert_id, c.alert.seq, c.alert.closed_ts]));
    expect(b).toEqual(a);
  });
});
