/**
 * Human renderings of the OCSF alert: one line for terminals, Slack blocks, syslog CEF. Every
 * string that a device can influence (ids, classes, metric names inside explanations, observed
 * values) goes through escape.ts for the format it lands in, capped in length. Documents read
 * back from the outbox are checked only for what every channel needs (outbox.ts), so the
 * optional parts are read defensively here.
 */
import { deviceClassOf, expectedOf, observedOf, type OcsfDetectionFinding } from '../ocsf.js';
import { CAPS, cefExt, cefHeader, jsonLine, slackText, visible } from './escape.js';

const fmt = (ms: number) => {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString().replace('.000Z', 'Z') : 'unknown time';
};
const safe = <T>(fn: () => T, fallback: T): T => {
  try {
    return fn() ?? fallback;
  } catch {
    return fallback;
  }
};
const cls = (a: OcsfDetectionFinding) => safe(() => deviceClassOf(a), '');
const observed = (a: OcsfDetectionFinding) => safe(() => observedOf(a), '');
const expected = (a: OcsfDetectionFinding) => safe(() => expectedOf(a), '');
const num = (v: unknown) => (Number.isFinite(Number(v)) ? Number(v) : 0);

/** " UPDATE → Resolved (detail)" for changes after the first; device-free, but still escaped. */
function changeText(a: OcsfDetectionFinding, arrow: string): string {
  if (a.activity_id === 1) return '';
  return ` ${String(a.activity_name ?? '').toUpperCase()}${a.status ? `${arrow}${a.status}` : ''}${a.status_detail ? ` (${a.status_detail})` : ''}`;
}

export function renderLine(a: OcsfDetectionFinding): string {
  const rep = num(a.count) > 1 ? ` ×${num(a.count)}` : '';
  return `[${visible(a.severity).toUpperCase()} ${num(a.confidence_score)}]${visible(changeText(a, ' → '), CAPS.title)} ${visible(a.device.uid, CAPS.id)} (${visible(cls(a))}) ${visible(a.finding_info.analytic.name)}${rep} at ${fmt(a.finding_info.first_seen_time)}: ${visible(a.message, CAPS.message)} | observed ${visible(observed(a))}, expected ${visible(expected(a))}`;
}

/** The OCSF document as one line of JSON (the stdout route, container log collectors). */
export function renderJson(a: OcsfDetectionFinding): string {
  return jsonLine(a);
}

export function renderSlack(a: OcsfDetectionFinding): Record<string, unknown> {
  const u = a.unmapped ?? ({} as Partial<OcsfDetectionFinding['unmapped']>);
  const attacks = a.finding_info.attacks.map((x) => x.technique.uid).join(', ');
  const change = a.activity_id === 1 ? '' : ` · ${a.activity_name}${a.status ? `: ${a.status}` : ''}`;
  // verbatim: Slack does not auto-link URLs, channel names or mentions in device text.
  const md = (text: string) => ({ type: 'mrkdwn', text, verbatim: true });
  return {
    text: `${slackText(a.severity)}: ${slackText(a.finding_info.title, CAPS.title)}`,
    unfurl_links: false,
    unfurl_media: false,
    blocks: [
      // plain_text is not parsed for links or mentions, but Slack decodes &amp; &lt; &gt; in it too.
      { type: 'header', text: { type: 'plain_text', text: slackText(`${a.severity} · ${a.finding_info.title}${change}`, 150) } },
      { type: 'section', text: md(slackText(a.message, CAPS.message)) },
      {
        type: 'section',
        fields: [
          md(`*Device*\n${slackText(a.device.uid, CAPS.id)} (${slackText(cls(a))})`),
          md(`*Confidence*\n${num(a.confidence_score)}/100`),
          md(`*Observed*\n${slackText(observed(a))}`),
          md(`*Expected*\n${slackText(expected(a))}`),
          md(`*First seen*\n${fmt(a.finding_info.first_seen_time)}`),
          md(`*ATT&amp;CK*\n${slackText(attacks) || '—'}`),
        ],
      },
      {
        type: 'context',
        elements: [md(`alert ${slackText(a.finding_info.uid)} · finding ${slackText(u.finding_id ?? '')} · pipeline ${slackText(u.pipeline ?? '')} · count ${num(a.count)}${a.status_detail ? ` · ${slackText(a.status_detail, CAPS.title)}` : ''}`)],
      },
    ],
  };
}

/** ArcSight's severity bands (0–3 Low, 4–6 Medium, 7–8 High, 9–10 Very-High), one value per OCSF severity. */
const CEF_SEVERITY: Record<number, number> = { 1: 1, 2: 3, 3: 5, 4: 8, 5: 10 };

export function renderCef(a: OcsfDetectionFinding): string {
  const sev = CEF_SEVERITY[num(a.severity_id)] ?? 5;
  const ev = a.evidences?.[0];
  // The affected device is the source: its address when the finding knows it (connection
  // anomalies), its id as the source host always; the peer and port it talked to, if any.
  const ext: Array<[string, string]> = [
    ['rt', String(num(a.time))],
    ['start', String(num(a.finding_info.first_seen_time))],
    ['end', String(num(a.finding_info.last_seen_time))],
    ['act', cefExt(a.activity_name, CAPS.short)],
    ['externalId', cefExt(a.finding_info.uid, CAPS.short)],
    ['shost', cefExt(a.device.uid, CAPS.id)],
    ...(a.device.ip ? ([['src', cefExt(a.device.ip, 64)]] as Array<[string, string]>) : []),
    ...(ev?.dst_endpoint?.ip ? ([['dst', cefExt(ev.dst_endpoint.ip, 64)]] as Array<[string, string]>) : []),
    ...(ev?.dst_endpoint?.port !== undefined ? ([['dpt', String(num(ev.dst_endpoint.port))]] as Array<[string, string]>) : []),
    ['cat', cefExt(a.finding_info.analytic.name, CAPS.short)],
    ['cs1Label', 'deviceClass'],
    ['cs1', cefExt(cls(a), CAPS.short)],
    ['cs2Label', 'findingId'],
    ['cs2', cefExt(a.unmapped?.finding_id ?? '', CAPS.short)],
    ['cs3Label', 'attack'],
    ['cs3', cefExt(a.finding_info.attacks.map((x) => x.technique.uid).join(','), CAPS.short)],
    ['cs4Label', 'status'],
    ['cs4', cefExt(a.status ?? '', CAPS.short)],
    ['cs5Label', 'observed'],
    ['cs5', cefExt(observed(a), CAPS.short)],
    ['cs6Label', 'expected'],
    ['cs6', cefExt(expected(a), CAPS.short)],
    ['cn1Label', 'confidence'],
    ['cn1', String(num(a.confidence_score))],
    ['cnt', String(num(a.count))],
    ['msg', cefExt(a.message, CAPS.message)],
  ];
  const header = [
    'CEF:0',
    'm2m-sentinel',
    'm2m-sentinel',
    cefHeader(a.metadata.product.version, 32),
    cefHeader(a.finding_info.analytic.name, 64),
    cefHeader(a.finding_info.title, CAPS.title),
    String(sev),
  ].join('|');
  return `${header}|${ext.map(([k, v]) => `${k}=${v}`).join(' ')}`;
}
