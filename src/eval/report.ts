/**
 * Backtest reports: a self-contained HTML page (inline SVG, a few lines of inline script for the
 * timeline picker) and a Markdown summary for docs/quality.md. Both are pure renderings of the
 * scored results; nothing here reads files or the clock, so reports are reproducible.
 */
import type { Finding } from '../detectors/types.js';
import type { BacktestResult, DeviceSeries } from './backtest.js';
import { CONN_BUCKET_MS } from './backtest.js';
import type { Incident, Labels } from './labels.js';
import { barsSvg, esc, timelineSvg, type TimelineMark } from './plot.js';
import type { KindScore, Latency, ScoreResult } from './score.js';

export interface Targets {
  recall: number;
  precision: number;
  minKindRecall: number;
  maxFalsePer1kDeviceDays: number;
  /** Kinds whose median time to detect must be under ttdMs. */
  fastKinds: string[];
  ttdMs: number;
}

export const ISSUE_TARGETS: Targets = {
  recall: 0.9,
  precision: 0.9,
  minKindRecall: 0.7,
  maxFalsePer1kDeviceDays: 1,
  fastKinds: ['mirai_scan', 'brute_force', 'dos_participation'],
  ttdMs: 5 * 60_000,
};

export interface ReportInput {
  title: string;
  pipeline: string;
  inputs: string[];
  command?: string;
  result: BacktestResult;
  labels?: Labels;
  /** Scored at the pipeline's alert threshold. */
  alert?: ScoreResult;
  /** Scored at every severity. */
  all?: ScoreResult;
  targets?: Targets;
}

export function fmtMs(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(0)} s`;
  if (ms < 7_200_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

const num = (x: number | null, d = 2): string => (x === null ? '—' : x.toFixed(d));
const lat = (l: Latency): string => `${fmtMs(l.median_ms)} / ${fmtMs(l.p90_ms)}`;

export interface TargetCheck {
  name: string;
  value: string;
  target: string;
  ok: boolean;
}

export function checkTargets(s: ScoreResult, t: Targets): TargetCheck[] {
  const o = s.overall;
  const out: TargetCheck[] = [
    { name: 'recall (all incidents)', value: num(o.recall), target: `≥ ${t.recall}`, ok: o.recall >= t.recall },
    { name: 'precision (findings)', value: num(o.precision), target: `≥ ${t.precision}`, ok: (o.precision ?? 0) >= t.precision },
  ];
  const worst = [...s.kinds].sort((a, b) => a.recall - b.recall)[0];
  if (worst) out.push({ name: `lowest recall per kind (${worst.kind})`, value: num(worst.recall), target: `≥ ${t.minKindRecall}`, ok: worst.recall >= t.minKindRecall });
  out.push({ name: 'false alerts per 1,000 device-days', value: num(o.false_per_1k_device_days, 1), target: `≤ ${t.maxFalsePer1kDeviceDays}`, ok: o.false_per_1k_device_days <= t.maxFalsePer1kDeviceDays });
  for (const k of t.fastKinds) {
    const ks = s.kinds.find((x) => x.kind === k);
    if (!ks) continue;
    const m = ks.ttd.median_ms;
    out.push({ name: `median time to detect, ${k}`, value: fmtMs(m), target: `< ${fmtMs(t.ttdMs)}`, ok: m !== null && m < t.ttdMs });
  }
  return out;
}

/** Which incidents get a timeline: one per kind first, telemetry kinds first, then by time. */
export function pickTimelineIncidents(incidents: readonly Incident[], max = 14): Incident[] {
  const order = ['sensor_spoofing', 'stuck_sensor', 'mirai_scan', 'exfiltration', 'dos_participation', 'brute_force', 'c2_beaconing', 'lateral_movement', 'device_cloning', 'plaintext_downgrade', 'firmware_downgrade'];
  const rank = (k: string): number => {
    const i = order.indexOf(k);
    return i < 0 ? order.length : i;
  };
  const seen = new Set<string>();
  const first: Incident[] = [];
  const rest: Incident[] = [];
  for (const inc of [...incidents].sort((a, b) => rank(a.kind) - rank(b.kind) || a.start - b.start)) {
    if (!seen.has(inc.kind)) {
      seen.add(inc.kind);
      first.push(inc);
    } else rest.push(inc);
  }
  return [...first, ...rest].slice(0, max);
}

/** The series to plot for an incident: its metric for telemetry kinds, a connection count otherwise. */
function timelineFor(inc: Incident, s: DeviceSeries): { title: string; unit: string; ts: number[]; v: number[]; window: number } | undefined {
  const metric = typeof inc.detail?.metric === 'string' ? (inc.detail.metric as string) : undefined;
  const lo = inc.start - 12 * 3_600_000;
  const hi = inc.end + 6 * 3_600_000;
  const cut = (ts: number[], v: number[]): { ts: number[]; v: number[] } => {
    const o = { ts: [] as number[], v: [] as number[] };
    for (let i = 0; i < ts.length; i++) if (ts[i]! >= lo && ts[i]! <= hi) (o.ts.push(ts[i]!), o.v.push(v[i]!));
    return o;
  };
  const m = metric ? s.metrics[metric] : undefined;
  if (m) {
    const c = cut(m.ts, m.v);
    return { title: `${s.device_id} · ${metric}`, unit: metric!, ...c, window: 30 };
  }
  if (s.connections.length) {
    const pick = inc.kind === 'exfiltration' ? 'bytes_out' : inc.kind === 'mirai_scan' || inc.kind === 'lateral_movement' ? 'distinct_dst' : inc.kind === 'brute_force' ? 'auth_failed' : 'connections';
    // Fill empty buckets with zeros: no connection is a value, not missing data.
    const first = Math.floor(Math.max(lo, s.connections[0]!.ts) / CONN_BUCKET_MS) * CONN_BUCKET_MS;
    const last = Math.min(hi, s.connections[s.connections.length - 1]!.ts);
    const by = new Map(s.connections.map((b) => [b.ts, b]));
    const ts: number[] = [];
    const v: number[] = [];
    for (let t = first; t <= last; t += CONN_BUCKET_MS) {
      const b = by.get(t);
      ts.push(t);
      v.push(b ? (b[pick] as number) : 0);
    }
    return { title: `${s.device_id} · ${pick.replace('_', ' ')} per 5 min`, unit: pick, ts, v, window: 24 };
  }
  const any = Object.keys(s.metrics)[0];
  if (!any) return undefined;
  const c = cut(s.metrics[any]!.ts, s.metrics[any]!.v);
  return { title: `${s.device_id} · ${any}`, unit: any, ...c, window: 30 };
}

function kindTable(kinds: KindScore[]): string {
  const rows = kinds
    .map((k) => {
      const dets = Object.entries(k.by_detector)
        .sort((a, b) => b[1] - a[1])
        .map(([d, n]) => `${esc(d)}&nbsp;(${n})`)
        .join(', ');
      return `<tr><td>${esc(k.kind)}</td><td class="n">${k.incidents}</td><td class="n">${k.detected}</td><td class="n ${k.recall < 0.7 ? 'bad' : ''}">${num(k.recall)}</td><td class="n">${num(k.precision)}</td><td class="n">${num(k.f1)}</td><td class="n">${fmtMs(k.ttd.median_ms)}</td><td class="n">${fmtMs(k.ttd.p90_ms)}</td><td class="n">${num(k.false_per_1k_device_days, 1)}</td><td>${dets || '<span class="muted">none</span>'}</td></tr>`;
    })
    .join('');
  return `<table><thead><tr><th>kind</th><th>incidents</th><th>detected</th><th>recall</th><th>precision</th><th>F1</th><th>TTD median</th><th>TTD p90</th><th>false / 1k dev-days</th><th>caught by</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function detectorTable(s: ScoreResult): string {
  const rows = s.detectors
    .map(
      (d) =>
        `<tr><td>${esc(d.detector)}</td><td class="n">${d.findings}</td><td class="n">${d.matched}</td><td class="n">${d.false_findings}</td><td class="n">${num(d.precision)}</td><td class="n">${num(d.recall)}</td><td class="n">${num(d.f1)}</td><td class="n">${lat(d.ttd)}</td><td class="n">${num(d.false_per_1k_device_days, 1)}</td><td>${Object.entries(d.by_kind)
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${esc(k)}&nbsp;(${n})`)
          .join(', ')}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>detector</th><th>findings</th><th>matched</th><th>false</th><th>precision</th><th>recall</th><th>F1</th><th>TTD median / p90</th><th>false / 1k dev-days</th><th>incidents caught, by kind</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function headline(label: string, s: ScoreResult): string {
  const o = s.overall;
  return `<tr><td>${esc(label)}</td><td class="n">${o.findings}</td><td class="n">${o.matched}</td><td class="n">${o.false_findings}</td><td class="n">${num(o.precision)}</td><td class="n">${o.detected}/${o.incidents}</td><td class="n">${num(o.recall)}</td><td class="n">${num(o.f1)}</td><td class="n">${lat(o.ttd)}</td><td class="n">${num(o.false_per_1k_device_days, 1)}</td><td class="n">${o.false_alerts_after_suppression}</td></tr>`;
}

const deviceSets = new WeakMap<object, Set<string>>();

/** Benign changes a finding falls in (from 30 min before to 2 h after, on an affected device). */
function inBenign(f: Finding, labels: Labels | undefined): string {
  if (!labels) return '';
  const has = (b: Labels['benign'][number]): boolean => {
    if (!b.devices) return true;
    let set = deviceSets.get(b);
    if (!set) deviceSets.set(b, (set = new Set(b.devices)));
    return set.has(f.device_id);
  };
  const hits = labels.benign.filter((b) => f.first_ts >= b.start - 30 * 60_000 && f.first_ts <= b.end + 2 * 3_600_000 && has(b));
  return hits.map((b) => b.kind).join(', ');
}

export function renderHtmlReport(r: ReportInput): string {
  const res = r.result;
  const findingsById = new Map(res.findings.map((f) => [f.finding_id, f]));
  const parts: string[] = [];
  parts.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title><style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1160px;color:#1f2937;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h3{font-size:14px;margin:16px 0 4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
table{border-collapse:collapse;font-size:12.5px;margin:8px 0}th,td{border:1px solid #e5e7eb;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#f9fafb;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}.bad{color:#b91c1c;font-weight:600}.ok{color:#15803d;font-weight:600}
.muted{color:#6b7280}.kv td:first-child{color:#6b7280}code{background:#f3f4f6;padding:1px 4px;border-radius:3px;font-size:12px}
.tl{display:none}td{overflow-wrap:anywhere;max-width:560px}.tl.on{display:block}select{font-size:13px;padding:3px}
</style></head><body>`);
  parts.push(`<h1>${esc(r.title)}</h1><p class="muted">pipeline <b>${esc(r.pipeline)}</b> · ${r.inputs.map((i) => `<code>${esc(i)}</code>`).join(' ')}</p>`);
  if (r.command) parts.push(`<p class="muted">Reproduce: <code>${esc(r.command)}</code></p>`);
  parts.push(`<table class="kv"><tbody>
<tr><td>events decoded</td><td>${res.decoded.toLocaleString('en-US')} of ${res.lines.toLocaleString('en-US')} lines (${res.rejected.toLocaleString('en-US')} rejected${res.duplicates ? `, ${res.duplicates.toLocaleString('en-US')} duplicates dropped` : ''}${res.outOfOrder ? `, ${res.outOfOrder} out of order` : ''})</td></tr>
<tr><td>event time</td><td>${new Date(res.firstTs).toISOString()} – ${new Date(res.lastTs).toISOString()}</td></tr>
<tr><td>devices / device-days</td><td>${res.devices.toLocaleString('en-US')} / ${res.deviceDays.toFixed(1)}</td></tr>
<tr><td>findings</td><td>${res.findings.length.toLocaleString('en-US')}</td></tr>
${r.labels ? `<tr><td>labeled incidents / benign changes</td><td>${r.labels.incidents.length} / ${r.labels.benign.length}</td></tr>` : ''}
</tbody></table>`);

  if (r.alert && r.all) {
    const t = r.targets ?? ISSUE_TARGETS;
    parts.push(`<h2>Headline</h2><table><thead><tr><th>severity</th><th>findings</th><th>matched</th><th>false</th><th>precision</th><th>detected</th><th>recall</th><th>F1</th><th>TTD median / p90</th><th>false / 1k dev-days</th><th>false alerts after suppression</th></tr></thead><tbody>${headline(`≥ ${r.alert.min_severity} (alerts)`, r.alert)}${headline('all severities', r.all)}</tbody></table>`);
    const checks = checkTargets(r.alert, t);
    parts.push(`<table><thead><tr><th>target (alert-worthy findings)</th><th>measured</th><th>target</th><th></th></tr></thead><tbody>${checks.map((c) => `<tr><td>${esc(c.name)}</td><td class="n">${esc(c.value)}</td><td class="n">${esc(c.target)}</td><td class="${c.ok ? 'ok' : 'bad'}">${c.ok ? 'met' : 'not met'}</td></tr>`).join('')}</tbody></table>`);
    parts.push(`<p class="muted">An incident is detected when a finding on its device was first raised within [start − ${fmtMs(r.alert.slack_ms)}, end + ${fmtMs(r.alert.slack_ms)}]; time to detect is that finding's first event time minus the labeled start (floored at 0). Precision counts findings (one per incident of a detector, as stored), false alerts are findings matching no incident; device-days = devices × observed span. Per-kind precision charges a kind with the false findings of the detectors that caught it.</p>`);

    parts.push(`<h2>Per incident kind</h2>`);
    parts.push(
      barsSvg(
        r.alert.kinds.map((k) => ({ label: k.kind, values: [k.recall, k.precision, r.all!.kinds.find((x) => x.kind === k.kind)?.recall ?? null], note: `${k.detected}/${k.incidents}` })),
        [
          { name: `recall ≥ ${r.alert.min_severity}`, color: '#2563eb' },
          { name: 'precision', color: '#16a34a' },
          { name: 'recall, all sev.', color: '#93c5fd' },
        ],
        { target: t.minKindRecall },
      ),
    );
    parts.push(`<h3>Alert-worthy (≥ ${esc(r.alert.min_severity)})</h3>${kindTable(r.alert.kinds)}<h3>All severities</h3>${kindTable(r.all.kinds)}`);
    parts.push(`<h2>Per detector</h2><h3>Alert-worthy (≥ ${esc(r.alert.min_severity)})</h3>${detectorTable(r.alert)}<h3>All severities</h3>${detectorTable(r.all)}`);

    // Missed incidents
    const missed = r.alert.incidents.filter((o) => !o.detected);
    if (missed.length) {
      const rows = missed
        .slice(0, 200)
        .map((o) => {
          const inc = r.labels!.incidents.find((i) => i.id === o.id);
          const lower = r.all!.incidents.find((x) => x.id === o.id);
          return `<tr><td>${esc(o.id)}</td><td>${esc(o.kind)}</td><td>${esc(o.device_id)}</td><td>${new Date(o.start).toISOString().slice(0, 16)}</td><td>${fmtMs(o.end - o.start)}</td><td>${lower?.detected ? `below threshold: ${esc(lower.detectors.join(', '))}` : '<span class="muted">nothing</span>'}</td><td><code>${esc(JSON.stringify(inc?.detail ?? {}))}</code></td></tr>`;
        })
        .join('');
      parts.push(`<h2>Missed incidents (${missed.length})</h2><table><thead><tr><th>id</th><th>kind</th><th>device</th><th>start</th><th>duration</th><th>at lower severity</th><th>detail</th></tr></thead><tbody>${rows}</tbody></table>`);
    }

    // False alerts
    const fa = r.alert.false_findings;
    if (fa.length) {
      const byDet = new Map<string, number>();
      for (const f of fa) byDet.set(f.detector, (byDet.get(f.detector) ?? 0) + 1);
      const rows = fa
        .slice(0, 150)
        .map((s) => {
          const f = findingsById.get(s.finding_id)!;
          return `<tr><td>${new Date(f.first_ts).toISOString().slice(0, 19)}</td><td>${esc(f.device_id)}</td><td>${esc(f.detector)}</td><td>${esc(f.severity)}</td><td class="n">${f.score.toFixed(2)}</td><td>${esc(inBenign(f, r.labels))}</td><td>${esc(f.explanation)}</td></tr>`;
        })
        .join('');
      // Detector × device class, and how many fell inside a labeled benign change.
      const classes = [...new Set(res.findings.map((f) => f.device_class))].sort();
      const grid = new Map<string, { byClass: Map<string, number>; benign: number }>();
      for (const s of fa) {
        const f = findingsById.get(s.finding_id)!;
        let g = grid.get(f.detector);
        if (!g) grid.set(f.detector, (g = { byClass: new Map(), benign: 0 }));
        g.byClass.set(f.device_class, (g.byClass.get(f.device_class) ?? 0) + 1);
        if (inBenign(f, r.labels)) g.benign++;
      }
      const gridRows = [...grid.entries()]
        .sort((a, b) => (byDet.get(b[0]) ?? 0) - (byDet.get(a[0]) ?? 0))
        .map(([d, g]) => `<tr><td>${esc(d)}</td><td class="n">${byDet.get(d)}</td>${classes.map((c) => `<td class="n">${g.byClass.get(c) ?? ''}</td>`).join('')}<td class="n">${g.benign}</td></tr>`)
        .join('');
      parts.push(`<h2>False alerts (${fa.length})</h2><table><thead><tr><th>detector</th><th>total</th>${classes.map((c) => `<th>${esc(c)}</th>`).join('')}<th>in or just after a benign change</th></tr></thead><tbody>${gridRows}</tbody></table><p>${[...byDet.entries()].sort((a, b) => b[1] - a[1]).map(([d, n]) => `${esc(d)}: ${n}`).join(' · ')}</p><table><thead><tr><th>first seen</th><th>device</th><th>detector</th><th>severity</th><th>score</th><th>during benign change</th><th>explanation</th></tr></thead><tbody>${rows}</tbody></table>${fa.length > 150 ? `<p class="muted">first 150 of ${fa.length}</p>` : ''}`);
    }
  }

  // Timelines
  if (r.labels && res.series.size) {
    const picks = pickTimelineIncidents(r.labels.incidents).filter((i) => res.series.has(i.device_id));
    const blocks: string[] = [];
    const options: string[] = [];
    picks.forEach((inc, idx) => {
      const s = res.series.get(inc.device_id)!;
      const tl = timelineFor(inc, s);
      if (!tl) return;
      const lo = tl.ts[0] ?? inc.start;
      const hi = tl.ts[tl.ts.length - 1] ?? inc.end;
      const marks: TimelineMark[] = res.findings
        .filter((f) => f.device_id === inc.device_id && f.first_ts >= lo && f.first_ts <= hi)
        .slice(0, 40)
        .map((f) => ({ ts: f.first_ts, label: `${f.detector}: ${f.severity} ${f.score.toFixed(2)} — ${f.explanation}`, color: f.severity === 'critical' || f.severity === 'high' ? '#dc2626' : f.severity === 'medium' ? '#ea580c' : '#a3a3a3' }));
      const spans: Array<{ start: number; end: number; color: string; label: string; opacity?: number }> = [];
      for (const b of r.labels!.benign) if ((!b.devices || b.devices.includes(inc.device_id)) && b.end >= lo && b.start <= hi) spans.push({ start: b.start, end: b.end, color: '#bae6fd', label: `benign: ${b.kind}`, opacity: 0.35 });
      spans.push({ start: inc.start, end: inc.end, color: '#f87171', label: `${inc.kind} ${inc.id}`, opacity: 0.3 });
      const o = r.alert?.incidents.find((x) => x.id === inc.id);
      options.push(`<option value="${idx}">${esc(`${inc.kind} · ${inc.device_id} · ${o ? (o.detected ? `detected in ${fmtMs(o.ttd_ms)}` : 'missed') : ''}`)}</option>`);
      blocks.push(
        `<div class="tl${blocks.length === 0 ? ' on' : ''}" data-i="${idx}">${timelineSvg({ title: `${tl.title} — ${inc.kind} (${inc.id})`, unit: tl.unit, ts: tl.ts, v: tl.v, bandWindow: tl.window, bandK: 3, spans, marks })}<p class="muted">Red span: labeled incident; blue: benign change. Band: trailing rolling median ± 3·MAD (×1.4826) over the previous ${tl.window} points, computed here, not by the detectors. Markers: findings on this device (hover for the explanation); orange dots: points outside the band.</p><p><code>${esc(JSON.stringify(inc.detail ?? {}))}</code></p></div>`,
      );
    });
    if (blocks.length) {
      parts.push(`<h2>Device timelines</h2><p><select id="tlpick">${options.join('')}</select></p>${blocks.join('')}`);
      parts.push(`<script>document.getElementById('tlpick').addEventListener('change',function(e){document.querySelectorAll('.tl').forEach(function(d){d.classList.toggle('on',d.getAttribute('data-i')===e.target.value)})});</script>`);
    }
  }

  if (res.rejected) {
    const rows = Object.entries(res.rejectedBy)
      .sort((a, b) => b[1].count - a[1].count)
      .map(([k, v]) => `<tr><td>${esc(k)}</td><td class="n">${v.count}</td><td>${esc(v.example.file)}:${v.example.line}</td><td>${esc(v.example.message)}</td></tr>`)
      .join('');
    parts.push(`<h2>Rejected input (dead letters)</h2><table><thead><tr><th>reason</th><th>lines</th><th>first at</th><th>message</th></tr></thead><tbody>${rows}</tbody></table>`);
  }
  parts.push('</body></html>\n');
  return parts.join('\n');
}

/** Markdown tables for docs/quality.md and the terminal. */
export function renderMarkdown(r: ReportInput): string {
  const out: string[] = [];
  const res = r.result;
  out.push(`Pipeline \`${r.pipeline}\`; ${res.decoded.toLocaleString('en-US')} events decoded (${res.rejected} rejected${res.duplicates ? `, ${res.duplicates} duplicates dropped` : ''}), ${res.devices.toLocaleString('en-US')} devices, ${res.deviceDays.toFixed(1)} device-days, ${res.findings.length.toLocaleString('en-US')} findings.`);
  if (!r.alert || !r.all) return out.join('\n') + '\n';
  const t = r.targets ?? ISSUE_TARGETS;
  out.push('');
  out.push('| target (alert-worthy findings) | measured | target | |');
  out.push('|---|---:|---:|---|');
  for (const c of checkTargets(r.alert, t)) out.push(`| ${c.name} | ${c.value} | ${c.target} | ${c.ok ? 'met' : '**not met**'} |`);
  out.push('');
  out.push('| severity | findings | matched | false | precision | detected | recall | F1 | TTD median / p90 | false / 1k device-days | false alerts after suppression |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [label, s] of [[`≥ ${r.alert.min_severity}`, r.alert], ['all', r.all]] as const) {
    const o = s.overall;
    out.push(`| ${label} | ${o.findings} | ${o.matched} | ${o.false_findings} | ${num(o.precision)} | ${o.detected}/${o.incidents} | ${num(o.recall)} | ${num(o.f1)} | ${lat(o.ttd)} | ${num(o.false_per_1k_device_days, 1)} | ${o.false_alerts_after_suppression} |`);
  }
  out.push('');
  out.push(`Per kind (alert-worthy, ≥ ${r.alert.min_severity}; recall at all severities in brackets):`);
  out.push('');
  out.push('| kind | incidents | detected | recall | precision | F1 | TTD median | TTD p90 | false / 1k device-days | caught by |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const k of r.alert.kinds) {
    const a = r.all.kinds.find((x) => x.kind === k.kind);
    const dets = Object.entries(k.by_detector).sort((x, y) => y[1] - x[1]).map(([d, n]) => `${d} (${n})`).join(', ');
    out.push(`| ${k.kind} | ${k.incidents} | ${k.detected} | ${num(k.recall)} (${num(a?.recall ?? null)}) | ${num(k.precision)} | ${num(k.f1)} | ${fmtMs(k.ttd.median_ms)} | ${fmtMs(k.ttd.p90_ms)} | ${num(k.false_per_1k_device_days, 1)} | ${dets || '—'} |`);
  }
  out.push('');
  out.push(`Per detector (alert-worthy):`);
  out.push('');
  out.push('| detector | findings | matched | false | precision | recall | TTD median / p90 | false / 1k device-days |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const d of r.alert.detectors) out.push(`| ${d.detector} | ${d.findings} | ${d.matched} | ${d.false_findings} | ${num(d.precision)} | ${num(d.recall)} | ${lat(d.ttd)} | ${num(d.false_per_1k_device_days, 1)} |`);
  return out.join('\n') + '\n';
}
