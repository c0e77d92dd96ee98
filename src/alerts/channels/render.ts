/**
 * Human renderings of the OCSF alert: one line for terminals, Slack blocks, syslog CEF. Every
 * string that a device can influence (ids, classes, metric names inside explanations, observed
 * values) goes through escape.ts for the format it lands in, capped in length.
 */
import type { OcsfDetectionFinding } from '../ocsf.js';
import { CAPS, cefExt, cefHeader, jsonLine, slackText, visible } from './escape.js';

const fmt = (ms: number) => {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString().replace('.000Z', 'Z') : 'unknown time';
};

/** Records read back from the outbox are checked only for what every channel needs (outbox-record.ts). */
const extra = (a: OcsfDetectionFinding): Partial<OcsfDetectionFinding['unmapped']> => a.unmapped ?? {};

export function renderLine(a: OcsfDetectionFinding): string {
  const u = extra(a);
  const rep = Number(u.count ?? 0) > 1 ? ` ×${Number(u.count)}` : '';
  const folded = Number(u.suppressed_before ?? 0) > 0 ? ` (+${Number(u.suppressed_before)} similar folded)` : '';
  return `[${visible(a.severity).toUpperCase()} ${Number(a.confidence_score)}] ${visible(a.device.uid, CAPS.id)} (${visible(a.device.type)}) ${visible(a.finding_info.analytic.name)}${rep} at ${fmt(a.finding_info.first_seen_time)}: ${visible(a.message, CAPS.message)} | observed ${visible(u.observed)}, expected ${visible(u.expected)}${folded}`;
}

/** The OCSF document as one line of JSON (the stdout route, container log collectors). */
export function renderJson(a: OcsfDetectionFinding): string {
  return jsonLine(a);
}

export function renderSlack(a: OcsfDetectionFinding): Record<string, unknown> {
  const u = extra(a);
  const attacks = a.finding_info.attacks.map((x) => x.technique.uid).join(', ');
  // verbatim: Slack does not auto-link URLs, channel names or mentions in device text.
  const md = (text: string) => ({ type: 'mrkdwn', text, verbatim: true });
  return {
    text: `${slackText(a.severity)}: ${slackText(a.finding_info.title, CAPS.title)}`,
    unfurl_links: false,
    unfurl_media: false,
    blocks: [
      // plain_text is not parsed for links or mentions, but Slack decodes &amp; &lt; &gt; in it too.
      { type: 'header', text: { type: 'plain_text', text: slackText(`${a.severity} · ${a.finding_info.title}`, 150) } },
      { type: 'section', text: md(slackText(a.message, CAPS.message)) },
      {
        type: 'section',
        fields: [
          md(`*Device*\n${slackText(a.device.uid, CAPS.id)} (${slackText(a.device.type)})`),
          md(`*Confidence*\n${Number(a.confidence_score)}/100`),
          md(`*Observed*\n${slackText(u.observed)}`),
          md(`*Expected*\n${slackText(u.expected)}`),
          md(`*First seen*\n${fmt(a.finding_info.first_seen_time)}`),
          md(`*ATT&amp;CK*\n${slackText(attacks) || '—'}`),
        ],
      },
      { type: 'context', elements: [md(`finding ${slackText(a.finding_info.uid)} · pipeline ${slackText(u.pipeline)} · count ${Number(u.count ?? 1)}`)] },
    ],
  };
}

export function renderCef(a: OcsfDetectionFinding): string {
  const sev = Math.min(10, Math.max(0, Math.round((Number(a.severity_id) / 5) * 10))) || 0;
  const ext: Array<[string, string]> = [
    ['rt', String(Number(a.time))],
    ['start', String(Number(a.finding_info.first_seen_time))],
    ['end', String(Number(a.finding_info.last_seen_time))],
    ['dvchost', cefExt(a.device.uid, CAPS.id)],
    ['cs1Label', 'deviceClass'],
    ['cs1', cefExt(a.device.type, CAPS.short)],
    ['cs2Label', 'findingId'],
    ['cs2', cefExt(a.finding_info.uid, CAPS.short)],
    ['cs3Label', 'attack'],
    ['cs3', cefExt(a.finding_info.attacks.map((x) => x.technique.uid).join(','), CAPS.short)],
    ['cn1Label', 'confidence'],
    ['cn1', String(Number(a.confidence_score))],
    ['cnt', String(Number(extra(a).count ?? 1))],
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
