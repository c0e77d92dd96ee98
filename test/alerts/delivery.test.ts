/** Which routes an alert goes to: a route's severity floor and a detector's routes list. */
import { describe, expect, it } from 'vitest';
import { emptyRouterState, route } from '../../src/alerts/router.js';
import type { Finding } from '../../src/detectors/types.js';
import { docOf, finding, routerOpts } from './helpers.js';

describe('route selection', () => {
  it('honours a route severity floor and a detector routes list', async () => {
    const { wants } = await import('../../src/alerts/delivery.js');
    const { testPipeline } = await import('../support/kafka.js');
    const cfg = testPipeline('p', [['fanout', {}], ['new_peer', {}]]);
    cfg.detectors[1]!.routes = ['pager'];
    const pager = { type: 'webhook' as const, name: 'pager', min_severity: 'high' as const, options: { url: 'http://127.0.0.1:1' } };
    const soc = { type: 'webhook' as const, name: 'soc', options: { url: 'http://127.0.0.1:1' } };
    const first = (f: Finding) => docOf(route(emptyRouterState(), f, routerOpts)[0]!);
    const medium = first(finding());
    const high = first(finding({ score: 0.8 }));
    const peer = first(finding({ detector: 'new_peer', score: 0.8 }));
    expect(wants(cfg, pager, medium)).toBe(false);
    expect(wants(cfg, pager, high)).toBe(true);
    expect(wants(cfg, soc, medium)).toBe(true);
    expect(wants(cfg, soc, peer)).toBe(false);
    expect(wants(cfg, pager, peer)).toBe(true);
  });
});
