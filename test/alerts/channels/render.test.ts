/** CEF and the other renderings of an OCSF document: severity bands, source and destination, escaping. */
import { describe, expect, it } from 'vitest';
import { toOcsf } from '../../../src/alerts/ocsf.js';
import { emptyRouterState, route } from '../../../src/alerts/router.js';
import { renderCef, renderLine, renderSlack } from '../../../src/alerts/channels/render.js';
import { connectionFinding, docOf, finding, routerOpts, telemetryFinding } from '../helpers.js';

describe('OCSF and renderings', () => {
  it('CEF names the affected device as source, the peer as destination, severity in ArcSight bands', () => {
    const d = docOf(route(emptyRouterState(), connectionFinding, routerOpts)[0]!);
    const cef = renderCef(d);
    expect(cef.split('|')[6]).toBe('8'); // high → 7–8 band
    expect(cef).toContain(' shost=cam-1 src=10.20.0.7 dst=203.0.113.9 dpt=4444 ');
    expect(cef).not.toContain('dvchost');
    const crit = renderCef(docOf(route(emptyRouterState(), telemetryFinding, routerOpts)[0]!));
    expect(crit.split('|')[6]).toBe('10');
    expect(crit).not.toMatch(/ src=| dst=/);
    const med = renderCef(docOf(route(emptyRouterState(), finding(), routerOpts)[0]!));
    expect(med.split('|')[6]).toBe('5');
  });

  it('escapes CEF header pipes and extension equals signs', () => {
    const doc = toOcsf({ alert: route(emptyRouterState(), finding(), routerOpts)[0]!.alert, finding: finding(), change: { activity: 'create', seq: 1, time: 1, alertable: true }, productVersion: '1.0|x' });
    const cef = renderCef(doc);
    expect(cef.startsWith('CEF:0|m2m-sentinel|m2m-sentinel|1.0\\|x|fanout|')).toBe(true);
    expect(cef).toContain('msg=cam-1 contacted 57 hosts | on port 23\\=x');
    expect(renderLine(doc)).toContain('cam-1');
    expect(JSON.stringify(renderSlack(doc))).toContain('57 distinct hosts');
  });
});
