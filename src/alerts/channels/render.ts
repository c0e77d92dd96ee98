/** Human renderings of the OCSF alert: one line for terminals, Slack blocks, syslog CEF. */
import { deviceClassOf, expectedOf, observedOf, type OcsfDetectionFinding } from '../ocsf.js';

const fmt = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export function renderLine(a: OcsfDetectionFinding): string {
  const rep = a.count > 1 ? ` ×${a.count}` : '';
  const status = a.activity_id === 1 ? '' : ` ${a.activity_name.toUpperCase()}${a.status ? ` → ${a.status}` : ''}${a.status_detail ? ` (${a.status_detail})` : ''}`;
  return `[${a.severity.toUpperCase()} ${a.confidence_score}]${status} ${a.device.uid} (${deviceClassOf(a)}) ${a.finding_info.analytic.name}${rep} at ${fmt(a.finding_info.first_seen_time)}: ${a.message} | observed ${observedOf(a)}, expected ${expectedOf(a)}`;
}

export function renderSlack(a: OcsfDetectionFinding): Record<string, unknown> {
  const u = a.unmapped;
  const attacks = a.finding_info.attacks.map((x) => x.technique.uid).join(', ');
  const change = a.activity_id === 1 ? '' : ` · ${a.activity_name}${a.status ? `: ${a.status}` : ''}`;
  return {
    text: `${a.severity}: ${a.finding_info.title}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `${a.severity} · ${a.finding_info.title}${change}`.slice(0, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: a.message } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: `*Device*\n${a.device.uid} (${deviceClassOf(a)})` },
          { type: 'mrkdwn', text: `*Confidence*\n${a.confidence_score}/100` },
          { type: 'mrkdwn', text: `*Observed*\n${observedOf(a)}` },
          { type: 'mrkdwn', text: `*Expected*\n${expectedOf(a)}` },
          { type: 'mrkdwn', text: `*First seen*\n${fmt(a.finding_info.first_seen_time)}` },
          { type: 'mrkdwn', text: `*ATT&CK*\n${attacks || '—'}` },
        ],
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `alert ${a.finding_info.uid} · finding ${u.finding_id} · pipeline ${u.pipeline} · count ${a.count}${a.status_detail ? ` · ${a.status_detail}` : ''}` }] },
    ],
  };
}

// CEF escaping: header fields escape | and \, extension values escape = and \ and newlines.
const cefHeader = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
const cefExt = (s: string) => s.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r?\n/g, '\\n');

/** ArcSight's severity bands (0–3 Low, 4–6 Medium, 7–8 High, 9–10 Very-High), one value per OCSF severity. */
const CEF_SEVERITY: Record<number, number> = { 1: 1, 2: 3, 3: 5, 4: 8, 5: 10 };

export function renderCef(a: OcsfDetectionFinding): string {
  const sev = CEF_SEVERITY[a.severity_id] ?? 5;
  const ev = a.evidences[0];
  // The affected device is the source: its address when the finding knows it (connection
  // anomalies), its id as the source host always; the peer and port it talked to, if any.
  const ext: Array<[string, string]> = [
    ['rt', String(a.time)],
    ['start', String(a.finding_info.first_seen_time)],
    ['end', String(a.finding_info.last_seen_time)],
    ['act', a.activity_name],
    ['externalId', a.finding_info.uid],
    ['shost', a.device.uid],
    ...(a.device.ip ? ([['src', a.device.ip]] as Array<[string, string]>) : []),
    ...(ev?.dst_endpoint?.ip ? ([['dst', ev.dst_endpoint.ip]] as Array<[string, string]>) : []),
    ...(ev?.dst_endpoint?.port !== undefined ? ([['dpt', String(ev.dst_endpoint.port)]] as Array<[string, string]>) : []),
    ['cat', a.finding_info.analytic.name],
    ['cs1Label', 'deviceClass'],
    ['cs1', deviceClassOf(a)],
    ['cs2Label', 'findingId'],
    ['cs2', a.unmapped.finding_id],
    ['cs3Label', 'attack'],
    ['cs3', a.finding_info.attacks.map((x) => x.technique.uid).join(',')],
    ['cs4Label', 'status'],
    ['cs4', a.status ?? ''],
    ['cs5Label', 'observed'],
    ['cs5', observedOf(a)],
    ['cs6Label', 'expected'],
    ['cs6', expectedOf(a)],
    ['cn1Label', 'confidence'],
    ['cn1', String(a.confidence_score)],
    ['cnt', String(a.count)],
    ['msg', a.message],
  ];
  const header = ['CEF:0', 'm2m-sentinel', 'm2m-sentinel', a.metadata.product.version, a.finding_info.analytic.name, a.finding_info.title, String(sev)]
    .map((h, i) => (i === 0 ? h : cefHeader(h)))
    .join('|');
  return `${header}|${ext.map(([k, v]) => `${k}=${cefExt(v)}`).join(' ')}`;
}
