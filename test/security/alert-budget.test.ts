/** The per-route alert budget: a flood reaches the SOC as at most N alerts a minute plus a digest that counts the rest. */
import { describe, expect, it } from 'vitest';
import { createBudget } from '../../src/alerts/budget.js';
import { alertFor } from '../support/alerts.js';

describe('alert budget per route per minute', () => {
  it('delivers the budget, folds the rest into one digest per minute, and accounts for every alert', () => {
    const b = createBudget({ pipeline: 'p', route: 'soc', maxPerMinute: 100, productVersion: '1' });
    const t0 = 1_800_000_000_000;
    let sent = 0;
    let folded = 0;
    const digests = [];
    // 50,000 alerts from 50,000 invented devices over three minutes.
    for (let i = 0; i < 50_000; i++) {
      const now = t0 + Math.floor((i / 50_000) * 180_000);
      const d = b.flush(now);
      if (d) digests.push(d);
      const sev = i % 7 === 0 ? 'critical' : 'high';
      if (b.admit(alertFor({ device_id: `ghost-${i}`, first_ts: now, last_ts: now, severity: sev, score: sev === 'critical' ? 0.95 : 0.8 }), now)) sent++;
      else folded++;
    }
    const last = b.flush(t0 + 240_000);
    if (last) digests.push(last);
    expect(sent).toBe(300);
    expect(digests).toHaveLength(3);
    const countedInDigests = digests.reduce((n, d) => n + (d.evidences[0]!.data.folded as number), 0);
    expect(countedInDigests).toBe(folded);
    expect(sent + countedInDigests).toBe(50_000);
    const d0 = digests[0]!;
    expect(d0.finding_info.analytic.name).toBe('alert_digest');
    expect(d0.severity).toBe('Critical');
    expect(d0.message).toMatch(/alerts over route soc's budget of 100 a minute were folded/);
    expect(JSON.stringify(d0).length).toBeLessThan(64_000);
    expect(b.pending()).toBe(0);
  });

  it('sends nothing extra when under budget, and flushes a partial minute on demand (route stopping)', () => {
    const b = createBudget({ pipeline: 'p', route: 'soc', maxPerMinute: 2, productVersion: '1' });
    expect(b.admit(alertFor(), 0)).toBe(true);
    expect(b.admit(alertFor(), 1)).toBe(true);
    expect(b.flush(2)).toBeNull();
    expect(b.admit(alertFor(), 3)).toBe(false);
    expect(b.pending()).toBe(1);
    expect(b.flush(4)).toBeNull();
    expect(b.flush(5, true)?.evidences[0]!.data.folded).toBe(1);
  });
});
