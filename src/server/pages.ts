/**
 * The console's pages, rendered on the server: the alert queue, an alert, a device, the login.
 * Every value that came from a device or a user goes through esc() (devices are untrusted and
 * their ids, keys and explanations end up here). Scripts are same-origin files only (the page's
 * Content-Security-Policy forbids inline script), so the console works offline.
 */
import type { AlertView, AlertEventView } from '../storage/alert-queries.js';
import type { FindingView, DeviceFacts } from '../storage/finding-queries.js';
import { describeTechnique } from '../alerts/attack.js';
import { analyticOf, confidenceOf } from '../alerts/ocsf.js';

const esc = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"'`]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' })[c]!);

const time = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '—' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z');
const ago = (ms: number): string => {
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 0) return 'in the future';
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 2 * 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
};
const span = (ms: number): string => (ms < 60_000 ? `${Math.round(ms / 1000)} s` : ms < 5_400_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`);

const sevBadge = (s: string): string => `<span class="sev sev-${esc(s)}">${esc(s)}</span>`;
const stateBadge = (a: Pick<AlertView, 'state' | 'resolution' | 'closed_ts'>): string => {
  const detail = a.state === 'resolved' ? (a.resolution ? a.resolution.replace(/_/g, ' ') : a.closed_ts !== null ? 'auto-closed' : '') : '';
  return `<span class="state state-${esc(a.state)}">${esc(a.state)}${detail ? ` · ${esc(detail)}` : ''}</span>`;
};
const title = (a: Pick<AlertView, 'detector' | 'device_id' | 'key'>) => `${a.detector.replace(/_/g, ' ')}${a.key && a.key !== a.detector ? ` · ${a.key}` : ''}`;

export interface PageUser {
  name: string;
  role: string;
  csrf: string;
}

function layout(t: string, user: PageUser, body: string, extra: { scripts?: string[]; styles?: string[] } = {}): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(t)} · m2m-sentinel</title><meta name="csrf-token" content="${esc(user.csrf)}">
<link rel="stylesheet" href="/static/console.css">${(extra.styles ?? []).map((s) => `<link rel="stylesheet" href="${esc(s)}">`).join('')}
</head><body>
<header class="top"><a class="brand" href="/alerts">m2m-sentinel</a><nav><a href="/alerts">Alerts</a><a href="/alerts?state=new&amp;severity=high">New · high+</a><a href="/api/openapi.json">API</a></nav>
<span class="live" id="live" title="live updates">●</span><span class="who">${esc(user.name)} <small>${esc(user.role)}</small></span><button class="link" id="logout">Log out</button></header>
<main>${body}</main>
<script src="/static/console.js"></script>${(extra.scripts ?? []).map((s) => `<script src="${esc(s)}"></script>`).join('')}
</body></html>`;
}

export function loginPage(error?: string, next = '/alerts'): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Log in · m2m-sentinel</title>
<style>body{font:15px system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;place-items:center;height:100vh;margin:0}
form{background:#1e293b;padding:2rem 2.2rem;border-radius:10px;width:320px;box-shadow:0 10px 30px #0006}h1{font-size:1.3rem;margin:0 0 1.2rem}
label{display:block;margin:.8rem 0 .3rem;font-size:.85rem;color:#94a3b8}input{width:100%;box-sizing:border-box;padding:.55rem;border-radius:6px;border:1px solid #334155;background:#0f172a;color:#e2e8f0;font-size:1rem}
button{margin-top:1.3rem;width:100%;padding:.6rem;border:0;border-radius:6px;background:#2563eb;color:#fff;font-size:1rem;cursor:pointer}.err{color:#fca5a5;margin:.6rem 0 0}</style></head>
<body><form method="post" action="/login"><h1>m2m-sentinel console</h1><input type="hidden" name="next" value="${esc(next)}">
<label for="username">User</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
${error ? `<p class="err" role="alert">${esc(error)}</p>` : ''}<button type="submit">Log in</button></form></body></html>`;
}

export interface QueueData {
  items: AlertView[];
  next: string | null;
  counts: Record<string, number>;
  params: URLSearchParams;
}

export function queueTable(d: QueueData): string {
  if (!d.items.length) return `<p class="empty">No alerts match these filters.</p>`;
  const rows = d.items
    .map(
      (a) => `<tr class="row-${esc(a.state)}" data-alert="${esc(a.alert_id)}">
<td>${sevBadge(a.severity)}${a.severity !== a.initial_severity ? `<div class="small">from ${esc(a.initial_severity)}</div>` : ''}</td>
<td>${stateBadge(a)}</td>
<td><a class="alert-link" href="/alerts/${esc(a.alert_id)}">${esc(title(a))}</a><div class="expl">${esc(a.explanation.length > 170 ? a.explanation.slice(0, 170) + '…' : a.explanation)}</div></td>
<td><a href="/devices/${encodeURIComponent(a.device_id)}">${esc(a.device_id)}</a><div class="small">${esc(a.device_class)}</div></td>
<td title="${esc(time(a.last_ts))}">${esc(time(a.last_ts))}<div class="small">for ${esc(span(a.last_ts - a.first_ts))}</div></td>
<td class="num">${a.count}</td></tr>`,
    )
    .join('');
  const next = d.next ? (() => {
    const p = new URLSearchParams(d.params);
    p.set('cursor', d.next);
    p.delete('fragment');
    return `<p><a class="button" href="/alerts?${esc(p.toString())}">Next page →</a></p>`;
  })() : '';
  return `<table class="queue"><thead><tr><th>Severity</th><th>State</th><th>Alert</th><th>Device</th><th>Last seen (event time)</th><th class="num">Events</th></tr></thead><tbody>${rows}</tbody></table>${next}`;
}

export function queuePage(user: PageUser, d: QueueData): string {
  const p = d.params;
  const sel = (name: string, opts: string[], label: string) =>
    `<label>${label}<select name="${name}"><option value="">any</option>${opts.map((o) => `<option${p.get(name) === o ? ' selected' : ''}>${esc(o)}</option>`).join('')}</select></label>`;
  const inp = (name: string, label: string, ph = '') => `<label>${label}<input name="${name}" value="${esc(p.get(name) ?? '')}" placeholder="${esc(ph)}"></label>`;
  const exportQ = new URLSearchParams(p);
  exportQ.delete('cursor');
  exportQ.delete('fragment');
  const summary = ['critical', 'high', 'medium', 'low', 'info'].filter((s) => d.counts[s]).map((s) => `<span class="count">${sevBadge(s)} ${d.counts[s]}</span>`).join(' ');
  return layout(
    'Alerts',
    user,
    `<h1>Alert queue</h1><p class="summary">${summary || 'No open alerts.'} <span class="small">open alerts by severity · sorted by severity, then most recent</span></p>
<form class="filters" method="get" action="/alerts">${sel('severity', ['critical', 'high', 'medium', 'low'], 'Severity ≥')}${sel('state', ['new', 'acknowledged', 'resolved'], 'State')}
${inp('detector', 'Detector')}${inp('device_id', 'Device')}${inp('q', 'Text', 'device, key or words')}${inp('since', 'Since', '24h or 2026-03-01')}
${sel('sort', ['severity', 'time'], 'Sort')}<button type="submit">Filter</button>
<span class="exports">Export <a id="export-csv" href="/api/alerts/export?${esc(new URLSearchParams([...exportQ, ['format', 'csv']]).toString())}">CSV</a> · <a id="export-ndjson" href="/api/alerts/export?${esc(new URLSearchParams([...exportQ, ['format', 'ndjson']]).toString())}">NDJSON</a></span></form>
<div id="queue" data-live="1">${queueTable(d)}</div>`,
  );
}

const fact = (k: string, v: string) => `<div class="fact"><div class="k">${esc(k)}</div><div class="v">${v}</div></div>`;

export interface AlertPageData {
  alert: AlertView;
  findings: FindingView[];
  events: AlertEventView[];
  doc: string | undefined;
  detectorKind: string;
  canAct: boolean;
}

export function alertPage(user: PageUser, d: AlertPageData): string {
  const a = d.alert;
  const f = d.findings[d.findings.length - 1];
  const [, analytic] = analyticOf(d.detectorKind);
  const [, confidence] = confidenceOf(a.score);
  const attacks = (f?.mitre ?? []).map((m) => `<li>${esc(describeTechnique(m))}</li>`).join('');
  const peer = f?.dst_ip ? `${esc(f.dst_ip)}${f.dst_port !== null ? `:${f.dst_port}` : ''}` : '';
  const actions = d.canAct
    ? `<section class="actions" id="actions" data-alert="${esc(a.alert_id)}"><h2>Triage</h2>
<textarea id="comment" rows="2" maxlength="2000" placeholder="Comment (what you checked, who you called)"></textarea>
<div class="buttons"><button data-action="acknowledge"${a.state !== 'new' ? ' disabled' : ''}>Acknowledge</button>
<select id="reason" aria-label="Resolution"><option value="true_positive">true positive</option><option value="benign">benign</option><option value="false_positive">false positive</option></select>
<button data-action="resolve"${a.state === 'resolved' && a.resolution ? ' disabled' : ''}>Resolve</button><button data-action="comment" class="secondary">Add comment</button></div><p id="action-msg" class="small" role="status"></p></section>`
    : `<p class="small">Your role (${esc(user.role)}) may view alerts; acknowledging and resolving needs analyst.</p>`;
  const findings = d.findings
    .map((x) => `<tr><td>${sevBadge(x.severity)}</td><td>${esc(time(x.first_ts))}</td><td>${esc(span(x.last_ts - x.first_ts))}</td><td class="num">${x.count}</td><td>${esc(String(x.observed))}</td><td>${esc(x.expected)}</td><td class="mono small">${esc(x.finding_id.slice(0, 12))}</td></tr>`)
    .join('');
  const trail = d.events
    .map((e) => `<tr><td>${esc(time(e.recorded_at))}</td><td>${esc(e.actor)}</td><td>${esc(e.action)}</td><td>${esc(e.status)}${e.resolution ? ` (${esc(e.resolution.replace(/_/g, ' '))})` : ''}</td><td>${esc(e.comment)}</td></tr>`)
    .join('');
  return layout(
    `${a.severity} · ${title(a)}`,
    user,
    `<p class="crumbs"><a href="/alerts">← Alert queue</a></p>
<h1>${sevBadge(a.severity)} ${esc(title(a))} <span class="on">on</span> <a href="/devices/${encodeURIComponent(a.device_id)}">${esc(a.device_id)}</a> ${stateBadge(a)}</h1>
<p class="explanation">${esc(f?.explanation ?? a.explanation)}</p>
<div class="facts">${fact('Device', `<a href="/devices/${encodeURIComponent(a.device_id)}">${esc(a.device_id)}</a> <span class="small">${esc(a.device_class)}</span>`)}
${fact('Observed', esc(String(f?.observed ?? '—')))}${fact('Expected (detector baseline)', esc(f?.expected ?? '—'))}
${fact('First seen', esc(time(a.first_ts)))}${fact('Last seen', esc(time(a.last_ts)))}${fact('Events / findings', `${a.count} / ${a.findings}`)}
${fact('Detector', `${esc(a.detector)} <span class="small">${esc(analytic)}</span>`)}${fact('Confidence', `${esc(confidence)} <span class="small">${Math.round(a.score * 100)}/100</span>`)}
${peer ? fact('Peer', peer) : ''}${fact('Severity', `${sevBadge(a.severity)}${a.severity !== a.initial_severity ? ` <span class="small">escalated from ${esc(a.initial_severity)}</span>` : ''}`)}
${a.closed_ts !== null ? fact('Closed automatically', esc(time(a.closed_ts))) : ''}${a.acted_by ? fact(a.state === 'resolved' ? 'Resolved by' : 'Acknowledged by', `${esc(a.acted_by)} <span class="small">${esc(ago(a.acted_at ?? 0))}</span>`) : ''}</div>
${attacks ? `<div class="attack"><h2>MITRE ATT&amp;CK</h2><ul>${attacks}</ul></div>` : ''}
<section class="chart-box"><h2 id="chart-title">Around the incident</h2><div id="chart" data-alert="${esc(a.alert_id)}"><p class="small">Loading the device's readings from Kafka…</p></div><p class="small" id="chart-note"></p></section>
${actions}
<section><h2>Findings (${d.findings.length})</h2><table><thead><tr><th>Severity</th><th>First (event time)</th><th>Lasted</th><th class="num">Events</th><th>Observed</th><th>Expected</th><th>Id</th></tr></thead><tbody>${findings}</tbody></table></section>
<section><h2>History</h2><table id="trail"><thead><tr><th>Recorded</th><th>Who</th><th>Change</th><th>State</th><th>Comment</th></tr></thead><tbody>${trail}</tbody></table></section>
${d.doc ? `<details><summary>Latest OCSF document (what every route received)</summary><pre>${esc(JSON.stringify(JSON.parse(d.doc), null, 2))}</pre></details>` : ''}`,
    { scripts: ['/static/uplot.js', '/static/alert.js'], styles: ['/static/uplot.css'] },
  );
}

export interface DevicePageData {
  facts: DeviceFacts;
  alerts: AlertView[];
  recent: { last_seen: number | null; firmware: string | null; metrics: string[]; peers: Array<{ peer: string; connections: number }>; ports: Array<{ port: number; connections: number }>; scanned: number };
}

export function devicePage(user: PageUser, d: DevicePageData): string {
  const f = d.facts;
  const open = d.alerts
    .map((a) => `<tr><td>${sevBadge(a.severity)}</td><td>${stateBadge(a)}</td><td><a href="/alerts/${esc(a.alert_id)}">${esc(title(a))}</a></td><td>${esc(time(a.last_ts))}</td><td class="num">${a.count}</td></tr>`)
    .join('');
  const list = <T>(xs: T[], fn: (x: T) => string) => (xs.length ? `<ul>${xs.map((x) => `<li>${fn(x)}</li>`).join('')}</ul>` : '<p class="small">none seen</p>');
  return layout(
    `Device ${f.device_id}`,
    user,
    `<p class="crumbs"><a href="/alerts">← Alert queue</a></p><h1>Device ${esc(f.device_id)} <span class="small">${esc(f.device_classes.join(', '))}</span></h1>
<div class="facts">${fact('Last event seen', esc(time(d.recent.last_seen)))}${fact('Firmware (latest report)', esc(d.recent.firmware ?? '—'))}${fact('First finding', esc(time(f.first_finding)))}${fact('Last finding', esc(time(f.last_finding)))}${fact('Findings', String(f.findings))}${fact('Metrics reported', esc(d.recent.metrics.join(', ') || '—'))}</div>
<section><h2>Alerts</h2>${open ? `<table><thead><tr><th>Severity</th><th>State</th><th>Alert</th><th>Last seen</th><th class="num">Events</th></tr></thead><tbody>${open}</tbody></table>` : '<p class="small">No alerts.</p>'}</section>
<div class="cols"><section><h2>Usual peers</h2><p class="small">from its last ${d.recent.scanned.toLocaleString('en')} source records</p>${list(d.recent.peers, (p) => `${esc(p.peer)} <span class="small">${p.connections} connections</span>`)}</section>
<section><h2>Usual ports</h2><p class="small">&nbsp;</p>${list(d.recent.ports, (p) => `${p.port} <span class="small">${p.connections} connections</span>`)}</section>
<section><h2>Firmware history</h2><p class="small">changes the firmware detector saw</p>${list(f.firmware_changes, (c) => `${esc(time(c.ts))}: ${esc(c.from)} → ${esc(c.to)}`)}</section></div>
<section><h2>Findings by detector</h2>${list(f.by_detector, (b) => `${esc(b.detector)}: ${b.findings} ${sevBadge(b.max_severity)}`)}</section>
${f.peers.length ? `<section><h2>Peers named in findings</h2>${list(f.peers, (p) => `${esc(p.dst_ip)}${p.dst_port !== null ? ':' + p.dst_port : ''} <span class="small">${p.findings} findings</span>`)}</section>` : ''}`,
  );
}
