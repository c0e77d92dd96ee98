/**
 * metric_relation's verdict: which judged channel is persistently off by more than its usual
 * wander and daily peak, which one to name (the largest standardised residual), and the finding.
 */
import { raiseThrottled } from '../incident.js';
import { scoreFromZ } from '../score.js';
import type { FindingDraft } from '../types.js';
import type { TelemetryEvent } from '../../events/types.js';
import { compact } from '../lib/compact.js';
import { fmt, fmtDuration } from '../lib/format.js';
import { orZero } from '../flat.js';
import { F_LR, F_M, F_ND, F_PK, F_R2, F_RUN, F_SP, F_TR, F_V, F_W, F_K, V_RL } from './state.js';
import type { Fit, MetricRelationState } from './state.js';
import { RES_WARM, V_WHITE } from './residual.js';
import type { Reading } from './channels.js';
import type { MetricRelationParams } from './detector.js';

/** A break must exceed the usual daily peak of the recent mean by this factor, */
const PEAK_FACTOR = 1.5;
/**
 * or outlast the usual daily longest run by this factor: a relation that slips for half an hour
 * at every start-up (a temperature lagging production) has a high daily peak, but an offset
 * that holds for hours is not what any ordinary day shows, however small beside that peak.
 */
const RUN_FACTOR = 3;

/** Raise or extend a finding when a fitted channel is persistently off. */
export function judge(s: MetricRelationState, e: TelemetryEvent, fits: Fit[], rd: Reading, p: MetricRelationParams, id: string, mitre: string[], inRange: boolean): FindingDraft | null {
  const ch = s.ch!;
  const d = ch.length;
  let best = -1;
  let bestEff = 0;
  let bestZ = 0;
  // While a finding is open only its own channel extends it: the neighbours of a falsified
  // channel disagree too, and for a while after it ends (through their lagged companions).
  const only = s.ik !== undefined ? ch.indexOf(s.ik) : -1;
  for (let j = 0; j < d; j++) {
    const f = fits[j]!;
    if (f[F_R2]! < p.min_r2 || f[F_K]! < RES_WARM || (only >= 0 && j !== only)) continue;
    const fr = f[F_RUN]!;
    const run = fr < 0 ? -fr : fr;
    if (run < p.min_run || e.ts - f[F_TR]! < p.min_duration) continue;
    const m = f[F_M]!;
    const am = m < 0 ? -m : m;
    if (am < p.min_shift || (m > 0) !== (fr > 0)) continue;
    const pk = f[F_PK]!;
    if (pk !== pk) continue;
    // An open finding is extended wherever the readings go: it was opened where the fits held
    // (residual.ts, inRange).
    if (only < 0 && !inRange) continue;
    const lr = f[F_LR]!;
    const beyondPeak = am / (PEAK_FACTOR * Math.max(pk, V_WHITE));
    const beyondRun = lr === lr ? (e.ts - f[F_TR]!) / (RUN_FACTOR * Math.max(lr, p.min_duration)) : 0;
    const eff = Math.min(am / Math.max(f[F_V]!, V_WHITE) / p.variability_factor, Math.max(beyondPeak, beyondRun));
    if (eff > bestEff) {
      bestEff = eff;
      best = j;
    }
  }
  if (best < 0 || bestEff < 1) return null;
  if (only < 0) {
    // The falsified channel has the largest standardised residual of all (its neighbours'
    // fits see it only through their weight on it), so that one is named, whichever channel's
    // persistence made the finding.
    for (let j = 0; j < d; j++) {
      const f = fits[j]!;
      if (f[F_R2]! < p.min_r2 || f[F_K]! < RES_WARM || f[F_RUN] === 0) continue;
      const az = Math.abs(rd.z[j]!);
      if (az > bestZ) {
        bestZ = az;
        best = j;
      }
    }
  }
  const f = fits[best]!;
  const z = rd.z[best]!;
  const fsp = f[F_SP]!;
  const y = fsp === 0 ? rd.y[0]! : rd.y[1]!;
  const mu = s.mu![fsp]!;
  // What the neighbours imply for this channel, in its own unit.
  const yj = y[best]!;
  const sc = rd.sc[best]!;
  const impliedY = yj - z * sc;
  const log = fsp === 1 && s.lf![best]! > 0;
  const observed = log ? Math.exp(yj) : yj;
  const implied = log ? Math.exp(impliedY) : impliedY;
  const typical = log ? Math.abs(Math.expm1(sc)) * 100 : null;
  const name = ch[best]!;
  const label = (i: number): string => (s.ct![i] === 1 ? `${ch[i]} (rate per hour)` : ch[i]!);
  // The neighbours that carry the fit: largest |weight × σ|.
  const sd = s.sd![fsp]!;
  const drivers: Array<[number, number]> = [];
  for (let k = 0; k < d; k++) if (k !== best) drivers.push([k, Math.abs(f[F_W + k]! * sd[k]!) + Math.abs(f[F_W + k + d]! * sd[k + d]!)]);
  drivers.sort((a, b) => b[1] - a[1]);
  const top = drivers.filter((x) => x[1] > 0.05 * (drivers[0]?.[1] ?? 0)).slice(0, 3).map((x) => label(x[0]));
  const run = f[F_RUN]! < 0 ? -f[F_RUN]! : f[F_RUN]!;
  const since = f[F_TR]! > 0 && f[F_TR]! <= e.ts ? f[F_TR]! : e.ts;
  const dir = z > 0 ? 'above' : 'below';
  // Score: the sustained excess over the gate, in units of the recent mean's own wander.
  const score = scoreFromZ(3 * bestEff);
  const key = s.ik ?? name;
  const spread = typical !== null ? `${fmt(typical)}% typical error` : `typical error ${fmt(sc)}`;
  const fnd = raiseThrottled(
    s.inc,
    {
      detector: id,
      key,
      device_id: e.device_id,
      device_class: e.device_class,
      ts: e.ts,
      score,
      observed: compact(observed),
      expected: `${fmt(implied)} (from ${top.join(', ')})`,
      explanation: `${e.device_id} (${e.device_class}) ${label(best)} reads ${fmt(observed)} while its usual relation to ${joinNames(top)} implies ${fmt(implied)} (residual ${fmt(Math.abs(z))}σ ${dir} this device's fit, ${spread}), for ${fmtDuration(e.ts - since)} (${run} readings); the readings disagree with each other, so one is falsified or faulty: compare with an independent measurement before trusting it for billing or control.`,
      evidence: {
        metric: name,
        value: compact(observed),
        implied: compact(implied),
        residual_sigma: compact(z),
        recent_mean_sigma: compact(f[F_M]!),
        wander_sigma: compact(f[F_V]!),
        daily_peak_sigma: compact(orZero(f[F_PK]!)),
        peak_days: orZero(f[F_ND]!),
        sustained_excess: compact(bestEff),
        readings: run,
        since_ts: since,
        related_to: top,
        r2: compact(f[F_R2]!),
        space: fsp === 1 ? 'log' : 'linear',
        weights: Object.fromEntries(ch.map((c, k) => [c, compact(f[F_W + k]!)])),
        means: Object.fromEntries(ch.map((c, k) => [c, compact(mu[k]!)])),
      },
      mitre,
    },
    p.incident_gap,
  );
  s.ik = key;
  const inc = s.inc[key]!;
  if (e.ts - inc.first_ts > p.relearn_after) {
    // Broken for longer than any falsification we would still call one: the relation changed.
    s.v[V_RL] = e.ts + 6 * 3_600_000;
    for (const g of fits) {
      g[F_RUN] = 0;
      g[F_M] = 0;
    }
  }
  return fnd;
}

function joinNames(xs: string[]): string {
  if (xs.length <= 1) return xs[0] ?? 'the other metrics';
  return `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;
}
