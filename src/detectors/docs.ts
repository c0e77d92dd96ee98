/**
 * docs/detectors.md is rendered from the registry so it cannot drift from the code: the script
 * scripts/gen-detector-docs.ts writes it, and a test checks the committed file matches.
 */
import { SEVERITY_BANDS, zForScore } from './score.js';
import { DETECTORS } from './registry.js';
import { withDefaults } from './params.js';
import type { DetectorSpec, ParamSpec } from './types.js';

function show(v: unknown): string {
  if (v === undefined) return '—';
  const s = JSON.stringify(v);
  return '`' + s.replace(/\|/g, '\\|') + '`';
}

function typeOf(p: ParamSpec): string {
  if (p.type === 'array' && p.items && typeof (p.items as { type?: unknown }).type === 'string') return `array of ${(p.items as { type: string }).type}`;
  if (p.enum) return p.enum.map((e) => `\`${e}\``).join(' \\| ');
  return p.type;
}

function range(p: ParamSpec): string {
  if (p.minimum !== undefined && p.maximum !== undefined) return ` (${p.minimum}..${p.maximum})`;
  if (p.minimum !== undefined) return ` (≥ ${p.minimum})`;
  if (p.maximum !== undefined) return ` (≤ ${p.maximum})`;
  return '';
}

function section(spec: DetectorSpec<any>): string {
  const inst = spec.create(withDefaults(spec), spec.name);
  const lines: string[] = [];
  lines.push(`## \`${spec.name}\` (${spec.family})`, '', spec.summary, '');
  lines.push('| param | type | default | description |', '|---|---|---|---|');
  for (const [name, p] of Object.entries(spec.params as Record<string, ParamSpec>)) {
    lines.push(`| \`${name}\` | ${typeOf(p)}${range(p)} | ${show(p.default)} | ${p.description.replace(/\|/g, '\\|')} |`);
  }
  lines.push('', `**Example finding:** ${spec.example}`, '');
  lines.push(`**MITRE ATT&CK:** ${spec.mitre.join(', ')}`, '');
  lines.push(`**Fleet view:** ${FLEET_ROLE[spec.fleet?.role ?? 'none']}${spec.fleet?.peer ? ' Judged by how common its destination is in the class.' : ''}`, '');
  let perMetric = '';
  if ('max_metrics' in spec.params) {
    const one = spec.create(withDefaults(spec, { max_metrics: 1 }), spec.name).maxStateBytes ?? 0;
    const two = spec.create(withDefaults(spec, { max_metrics: 2 }), spec.name).maxStateBytes ?? 0;
    perMetric = ` (${(two - one).toLocaleString('en-US')} bytes per tracked metric, up to \`max_metrics\`)`;
  }
  lines.push(
    `**State bound:** ${inst.maxStateBytes !== undefined ? `≤ ${inst.maxStateBytes.toLocaleString('en-US')} bytes of JSON per device with default params${perMetric}` : 'not declared'}; checked by the property tests.`,
    '',
  );
  return lines.join('\n');
}

const FLEET_ROLE = {
  change: 'may be part of a fleet change: waits for fleet context (`fleet.hold`) and folds into one `fleet_change` finding when enough devices of the class change the same way at once.',
  attack: 'never folds, and keeps a change its device takes part in from folding (attacks that spread stay an incident on every device).',
  none: 'passes through the fleet view untouched.',
} as const;

/** The fleet view, as a section of the page (what it does to findings, and its keys). */
const FLEET_SECTION = [
  '## The fleet view',
  '',
  'A device is judged against its own past and against its class. Findings of detectors whose fleet role is',
  '*change* wait `fleet.hold` (1h) of event time for the rest of the class (another hold, up to `fleet.window`, while more devices keep showing the same change: rollouts and migrations spread over hours), then are:',
  '',
  '- **folded** when at least `min_devices` (5) devices, or `min_share` (20 %) of the class if fewer, showed the',
  '  same change within `fleet.window` (6h) of each other — same new destination (its /24 or /64 and port), same',
  '  firmware version, same metric moving the same way, silence together. The finding is kept at severity info',
  '  with the original in `evidence.fleet`, and one `fleet_change` finding (device `fleet:<class>`, info) lists the',
  '  devices and counts. Changes of several kinds on mostly the same devices at once (a rollout: new version, new',
  '  destination, new rhythm) are one fleet change. A new destination folds only once `min_share` of the class',
  '  uses it: contact with a destination rare in the fleet never folds;',
  '- judged a **fleet service** when its destination is used by `common_share` (25 %) of the class (at least 3',
  '  devices): the class\'s own backends, NTP and DNS servers (info);',
  '- **raised** when it is an established regular channel (beaconing to a destination the device already used)',
  '  and next to no other device of the class or fleet uses that destination: an implant\'s server;',
  '- otherwise passed on as raised.',
  '',
  'Attacks never fold: findings of detectors whose role is *attack* pass at once and mark their device, and a',
  'marked device neither counts towards a fold nor has its own change folded (a worm reaches many devices at',
  'once; scanning keeps each of them an incident). A mark that arrives after a fold revokes it for that device.',
  '',
  'The fleet view needs `new_peer` in the pipeline to know which destinations a class uses. In the service it',
  'runs as a second stage keyed by device class (docs/operations.md); the backtest runs the same code in-process.',
  '',
];

export function renderDetectorDocs(): string {
  const bands = SEVERITY_BANDS.map(([floor, sev]) => `${sev} ≥ ${floor}`).join(', ');
  const head = [
    '# Detectors',
    '',
    '<!-- Generated by `npx tsx scripts/gen-detector-docs.ts` from src/detectors/registry.ts. Do not edit by hand. -->',
    '',
    'Every detector is a pure function of (per-device state, event) → (new state, findings), driven by event',
    'time, so replays and backtests give the same findings. Statistical detectors stay silent until they have',
    'learned the device (warm-up); a sustained anomaly extends one finding (same id, count, last seen, peak',
    'score) instead of raising one per event.',
    '',
    '**One score scale.** Scores are 0..1 with fixed severity bands: ' + bands + '.',
    `Robust z maps to score by a heavy-tail-aware table (z ${zForScore(0.3)} → 0.3, ${zForScore(0.5)} → 0.5, ${zForScore(0.7)} → 0.7, ${zForScore(0.9)} → 0.9);`,
    'tail probabilities by a decade per 0.1 (p = 1e-5 → 0.5); rule detectors use fixed scores in the band their',
    'breach deserves. Durations are written like `500ms`, `30s`, `5m`, `24h`, `7d`.',
    '',
    '| detector | family | catches |',
    '|---|---|---|',
    ...DETECTORS.map((d) => `| [\`${d.name}\`](#${d.name}-${d.family}) | ${d.family} | ${d.summary.split('. ')[0]!.replace(/\|/g, '\\|')} |`),
    '',
  ];
  return [...head, ...FLEET_SECTION, ...DETECTORS.map(section)].join('\n').trimEnd() + '\n';
}
