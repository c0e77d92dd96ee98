/**
 * The shipped Prometheus alert rules and Grafana dashboard query series the service really
 * exports: a renamed metric fails here instead of silently emptying a panel or a page.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { registry } from '../../src/obs/metrics.js';
import { ROOT } from '../support/bin.js';

const known = new Set(registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name));
const HISTOGRAM_PARTS = /_(bucket|sum|count)$/;

/** Every series name an expression uses (m2m_*, process_*, nodejs_*). */
function seriesIn(expr: string): string[] {
  return [...expr.matchAll(/\b((?:m2m|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

function exists(name: string): boolean {
  return known.has(name) || (HISTOGRAM_PARTS.test(name) && known.has(name.replace(HISTOGRAM_PARTS, '')));
}

describe('ops/prometheus/alerts.yml', () => {
  const rules = (parse(readFileSync(join(ROOT, 'ops/prometheus/alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string; for?: string; labels?: { severity?: string }; annotations?: { summary?: string } }> }> }).groups.flatMap((g) => g.rules);

  it('covers lag, dead letters, delivery failures and checkpoint age, and the security signals of docs/operations.md', () => {
    const exprs = rules.map((r) => r.expr).join('\n');
    for (const m of ['m2m_consumer_lag', 'm2m_dead_letters_total', 'm2m_alert_deliveries_total', 'm2m_checkpoint_age_seconds', 'm2m_outbox_depth']) expect(exprs).toContain(m);
    // "Any increase is worth a look" / "a bug or an intrusion": each has a rule that says so.
    for (const m of ['m2m_outbox_dead_letters_total', 'm2m_devices_evicted_total', 'm2m_alerts_folded_total']) expect(exprs).toContain(m);
  });

  it('every rule queries exported series and says what to do', () => {
    for (const r of rules) {
      const names = seriesIn(r.expr);
      for (const n of names) expect(exists(n), `${r.alert}: ${n}`).toBe(true);
      expect(r.labels?.severity, r.alert).toMatch(/^(warning|critical)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
  });
});

describe('ops/grafana/dashboards/m2m-sentinel.json', () => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'ops/grafana/dashboards/m2m-sentinel.json'), 'utf8')) as { uid: string; panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }> };

  it('has panels for the service metrics, each querying exported series', () => {
    const panels = dash.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(10);
    const used = new Set<string>();
    for (const p of panels) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) for (const n of seriesIn(t.expr)) {
        expect(exists(n), `${p.title}: ${n}`).toBe(true);
        used.add(n.replace(HISTOGRAM_PARTS, ''));
      }
    }
    for (const m of ['m2m_consumer_lag', 'm2m_dead_letters_total', 'm2m_alert_deliveries_total', 'm2m_checkpoint_age_seconds', 'process_cpu_seconds_total']) expect(used.has(m), m).toBe(true);
  });

  it('is referenced from the docs and the compose file', () => {
    expect(readFileSync(join(ROOT, 'docs/operations.md'), 'utf8')).toContain('ops/grafana/dashboards/m2m-sentinel.json');
    expect(readFileSync(join(ROOT, 'docs/operations.md'), 'utf8')).toContain('ops/prometheus/alerts.yml');
    expect(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')).toContain('./ops/grafana/dashboards');
  });
});
