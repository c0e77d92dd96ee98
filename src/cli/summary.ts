/** The analyst's view of a run: alerts by severity, and which labeled incidents were caught. */
import { expectedOf, observedOf, type OcsfDetectionFinding } from '../alerts/ocsf.js';

export interface Label {
  device_id: string;
  start: string | number;
  end: string | number;
  kind: string;
}

const SEV_ORDER = ['Critical', 'High', 'Medium', 'Low', 'Informational'];
const hhmm = (ms: number) => new Date(ms).toISOString().slice(5, 16).replace('T', ' ');
const dur = (ms: number) => (ms < 60_000 ? `${Math.round(ms / 1000)}s` : ms < 3_600_000 ? `${Math.round(ms / 60_000)}m` : `${(ms / 3_600_000).toFixed(1)}h`);
const toMs = (v: string | number) => (typeof v === 'number' ? v : Date.parse(v));

function wrap(text: string, width: number): string[] {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + w.length + 1 > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines;
}

export function renderAlertSummary(alerts: OcsfDetectionFinding[], labels: Label[], opts: { maxAlerts: number }): string {
  const lines: string[] = [];
  // One line per alert: its latest change.
  const byFinding = new Map<string, OcsfDetectionFinding>();
  for (const a of alerts) byFinding.set(a.finding_info.uid, a);
  const list = [...byFinding.values()].sort(
    (a, b) => SEV_ORDER.indexOf(a.severity) - SEV_ORDER.indexOf(b.severity) || a.finding_info.first_seen_time - b.finding_info.first_seen_time,
  );
  const bySev = SEV_ORDER.map((s) => [s, list.filter((a) => a.severity === s).length] as const).filter(([, n]) => n > 0);
  const devices = new Set(list.map((a) => a.device.uid));
  lines.push(`Alerts: ${list.length} on ${devices.size} devices (${bySev.map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ') || 'none'})`);
  const byDetector = new Map<string, number>();
  for (const a of list) byDetector.set(a.finding_info.analytic.name, (byDetector.get(a.finding_info.analytic.name) ?? 0) + 1);
  if (byDetector.size) lines.push(`  by detector: ${[...byDetector].sort((a, b) => b[1] - a[1]).map(([d, n]) => `${d} ${n}`).join(', ')}`);
  // The analyst's first screen: the most certain alert of each device+detector pair.
  const top = new Map<string, OcsfDetectionFinding>();
  for (const a of list) {
    const k = `${a.device.uid}|${a.finding_info.analytic.name}`;
    const prev = top.get(k);
    if (!prev || a.confidence_score > prev.confidence_score) top.set(k, a);
  }
  const shown = [...top.values()].sort((a, b) => b.confidence_score - a.confidence_score || a.finding_info.first_seen_time - b.finding_info.first_seen_time);
  if (shown.length) lines.push('', `Top alerts (most certain first, one per device and detector):`);
  for (const a of shown.slice(0, opts.maxAlerts)) {
    const repeats = list.filter((x) => x.device.uid === a.device.uid && x.finding_info.analytic.name === a.finding_info.analytic.name).length;
    lines.push(`  ${a.severity.toUpperCase().padEnd(8)} ${a.device.uid.padEnd(16)} ${a.finding_info.analytic.name.padEnd(18)} ${hhmm(a.finding_info.first_seen_time)}  conf ${String(a.confidence_score).padStart(3)}${repeats > 1 ? `  (${repeats} alerts)` : ''}`);
    for (const l of wrap(a.message, 96)) lines.push(`           ${l}`);
    lines.push(`           observed: ${observedOf(a)} | expected: ${expectedOf(a)}${a.count > 1 ? ` | ${a.count} events` : ''}${a.finding_info.attacks.length ? ` | ATT&CK ${a.finding_info.attacks.map((x) => x.technique.uid).join(', ')}` : ''}`);
  }
  if (shown.length > opts.maxAlerts) lines.push(`  … and ${shown.length - opts.maxAlerts} more device/detector pairs (see the findings table)`);

  if (labels.length) {
    const rows: string[] = [];
    let caught = 0;
    for (const l of labels) {
      const s = toMs(l.start);
      const e = toMs(l.end);
      const hits = list.filter((a) => a.device.uid === l.device_id && a.finding_info.first_seen_time >= s - 5 * 60_000 && a.finding_info.first_seen_time <= e + 5 * 60_000);
      if (hits.length) caught++;
      const first = hits.reduce((m, a) => Math.min(m, a.finding_info.first_seen_time), Infinity);
      const dets = [...new Set(hits.map((a) => a.finding_info.analytic.name))].join(', ');
      rows.push(
        `  ${hits.length ? '✓' : '✗'} ${l.kind.padEnd(20)} ${l.device_id.padEnd(16)} ${hhmm(s)} → ${hhmm(e)}  ${hits.length ? `${dets} (detected after ${dur(Math.max(0, first - s))})` : 'missed'}`,
      );
    }
    // The story of a labeled run comes first: what was injected, what was caught.
    lines.unshift(`Injected incidents: caught ${caught} of ${labels.length}`, ...rows, '');
  }
  return lines.join('\n');
}
