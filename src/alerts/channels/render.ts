/** Human renderings of the OCSF alert: one line for terminals, Slack blocks, syslog CEF. */
import type { OcsfDetectionFinding } from '../ocsf.js';

const fmt = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export function renderLine(a: OcsfDetectionFinding): string {
  const u = a.unmapped;
  const rep = u.count > 1 ? ` ×${u.count}` : '';
  const folded = u.suppressed_before > 0 ? ` (+${u.suppressed_before} similar folded)` : '';
  return `[${a.severity.toUpperCase()} ${a.confidence_score}] ${a.device.uid} (${a.device.type}) ${a.finding_info.analytic.name}${rep} at ${fmt(a.finding_info.first_seen_time)}: ${a.message} | observed ${u.observed}, expected ${u.expected}${folded}`;
}

export function renderSlack(a: OcsfDetectionFinding): Record<string, unknown> {
  const u = a.unmapped;
  const attacks = a.finding_info.attacks.map((x) => x.technique.uid).join(', ');
  return {
    text: `${a.severity}: ${a.finding_info.title}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `${a.severity} · ${a.finding_info.title}`.slice(0, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: a.message } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: `*Device*\n${a.device.uid} (${a.device.type})` },
          { type: 'mrkdwn', text: `*Confidence*\n${a.confidence_score}/100` },
          { type: 'mrkdwn', text: `*Observed*\n${u.observed}` },
          { type: 'mrkdwn', text: `*Expected*\n${u.expected}` },
          { type: 'mrkdwn', text: `*First seen*\n${fmt(a.finding_info.first_seen_time)}` },
          { type: 'mrkdwn', text: `*ATT&CK*\n${attacks || '—'}` },
        ],
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `finding ${a.finding_info.uid} · pipeline ${u.pipeline} · count ${u.count}` }] },
    ],
  };
}

// CEF escaping: header fields escape | and \, extension values escape = and \ and newlines.
const cefHeader = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
const cefExt = (s: string) => s.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r?\n/g, '\\n');

export function renderCef(a: OcsfDetectionFinding): string {
  const sev = Math.min(10, Math.round((a.severity_id / 5) * 10));
  const ext: Array<[string, string]> = [
    ['rt', String(a.time)],
    ['start', String(a.finding_info.first_seen_time)],
    ['end', String(a.finding_info.last_seen_time)],
    ['dvchost', a.device.uid],
    ['cs1Label', 'deviceClass'],
    ['cs1', a.device.type],
    ['cs2Label', 'findingId'],
    ['cs2', a.finding_info.uid],
    ['cs3Label', 'attack'],
    ['cs3', a.finding_info.attacks.map((x) => x.technique.uid).join(',')],
    ['cn1Label', 'confidence'],
    ['cn1', String(a.confidence_score)],
    ['cnt', String(a.unmapped.count)],
    ['msg', a.message],
  ];
  const header = ['CEF:0', 'm2m-sentinel', 'm2m-sentinel', a.metadata.product.version, a.finding_info.analytic.name, a.finding_info.title, String(sev)]
    .map((h, i) => (i === 0 ? h : cefHeader(h)))
    .join('|');
  return `${header}|${ext.map(([k, v]) => `${k}=${cefExt(v)}`).join(' ')}`;
}
