/** The new pipeline keys: validation names the mistake and its place; valid ones normalize. */
import { describe, expect, it } from 'vitest';
import { formatConfigError, loadPipelineText } from '../../src/config/load.js';
import { printPipeline } from '../../src/config/print.js';

const HEAD = 'name: c\nsource: { kafka: { topics: [t], group: g } }\n';
const errors = (yaml: string) => loadPipelineText(HEAD + yaml, 'c.yaml', {}).errors.map(formatConfigError);

describe('knob validation', () => {
  it.each([
    ['detectors:\n  - fanout: {}\n    direction: up\n', 'c.yaml:5:5: detectors[0].direction: direction applies to metric detectors only'],
    ['detectors:\n  - policy: {}\n    sensitivity: 2\n', 'detectors[0].sensitivity: policy has no threshold for sensitivity to move'],
    ['detectors:\n  - fanout: {}\n    sensitivity: 50\n', 'detectors[0].sensitivity: out of range (expected between 0.1 and 10'],
    ['detectors:\n  - metric_baseline: {}\n    min_deviation: { temp: { ab: 2 } }\n', 'unknown key "ab"'],
    ['detectors:\n  - metric_baseline: {}\n    direction: sideways\n', 'detectors[0].direction'],
    ['detectors:\n  - fanout: {}\n    min_severity: hihg\n', 'did you mean "high"?'],
    ['detectors: [ { fanout: {} } ]\nallow:\n  - { classes: [plc] }\n', 'allow[0]: an allow entry needs peers, cidrs or ports'],
    ['detectors: [ { fanout: {} } ]\nallow:\n  - { cidrs: [10.0.0.0/33] }\n', 'allow[0].cidrs[0]: invalid network'],
    ['detectors: [ { fanout: {} } ]\nallow:\n  - { peers: [10.0.0.0/8] }\n', 'allow[0].peers[0]: invalid address'],
    ['detectors: [ { fanout: {} } ]\nallow:\n  - { ports: [53], detectors: [new_peer] }\n', 'no detector with id "new_peer"'],
    ['detectors: [ { metric_baseline: {} } ]\nallow:\n  - { ports: [53], detectors: [metric_baseline] }\n', 'metric_baseline is a telemetry detector'],
    ['detectors: [ { fanout: {} } ]\nmaintenance:\n  - { name: w, schedule: "0 2 * * SUN" }\n', 'missing required key "duration"'],
    ['detectors: [ { fanout: {} } ]\nmaintenance:\n  - { name: w, start: "2026-03-01T00:00:00Z", end: "2026-03-01T01:00:00Z", duration: 1h }\n', 'one-off (start, end) or recurring'],
    ['detectors: [ { fanout: {} } ]\nmaintenance:\n  - { name: w, schedule: "0 25 * * *", duration: 1h }\n', 'maintenance[0].schedule: invalid cron schedule'],
    ['detectors: [ { fanout: {} } ]\nmaintenance:\n  - { name: w, schedule: "0 2 * * *", duration: 1h, timezone: Mars/Olympus }\n', 'unknown time zone'],
    ['detectors: [ { fanout: {} } ]\nmaintenance:\n  - { name: w, start: "2026-03-01T02:00:00Z", end: "2026-03-01T01:00:00Z" }\n', 'end must be after start'],
    ['detectors: [ { fanout: {} } ]\nmaintenance:\n  - { name: w, start: "yesterday", end: "2026-03-01T01:00:00Z" }\n', 'maintenance[0].start'],
    ['detectors: [ { fanout: {} } ]\nmaintenance:\n  - { name: w, start: "2026-03-01T00:00:00Z", end: "2026-03-01T01:00:00Z" }\n  - { name: w, start: "2026-03-02T00:00:00Z", end: "2026-03-02T01:00:00Z" }\n', 'window name "w" is already used'],
  ])('%s', (yaml, message) => {
    const e = errors(yaml);
    expect(e.join('\n')).toContain(message);
  });

  it('a meta key written inside the parameters is pointed back beside the detector', () => {
    expect(errors('detectors:\n  - fanout: { sensitivity: 2 }\n').join('\n')).toContain('sensitivity belongs beside "fanout:"');
  });

  it('valid knobs normalize, and print back to a file that loads to the same pipeline', () => {
    const yaml = HEAD + 'detectors:\n  - metric_baseline: {}\n    direction: { temp: up }\n    min_deviation: { "*": { abs: 1, rel: 0.05 } }\n    min_severity: high\n    sensitivity: 0.8\n  - new_peer: {}\nallow:\n  - { name: scada, classes: [plc], cidrs: [10.20.0.0/16], ports: [502] }\n  - { peers: ["fd00::1"] }\nmaintenance:\n  - { name: nightly, classes: [plc], schedule: "30 1 * * *", duration: 90m, timezone: Europe/Berlin }\n  - { name: cutover, devices: [plc-1], start: "2026-03-10T22:00:00Z", end: "2026-03-11T02:00:00Z" }\n';
    const r = loadPipelineText(yaml, 'c.yaml', {});
    expect(r.errors.map(formatConfigError)).toEqual([]);
    const cfg = r.pipeline!;
    expect(cfg.detectors[0]).toMatchObject({ direction: { temp: 'up' }, min_deviation: { '*': { abs: 1, rel: 0.05 } }, min_severity: 'high', sensitivity: 0.8 });
    expect(cfg.detectors[1]!.direction).toBeUndefined();
    expect(cfg.allow).toEqual([{ name: 'scada', classes: ['plc'], cidrs: ['10.20.0.0/16'], ports: [502] }, { name: 'allow[1]', peers: ['fd00::1'] }]);
    expect(cfg.maintenance).toEqual([
      { name: 'nightly', classes: ['plc'], schedule: '30 1 * * *', duration_ms: 90 * 60_000, timezone: 'Europe/Berlin' },
      { name: 'cutover', devices: ['plc-1'], start_ms: Date.parse('2026-03-10T22:00:00Z'), end_ms: Date.parse('2026-03-11T02:00:00Z') },
    ]);
    const again = loadPipelineText(printPipeline(cfg), 'printed', {});
    expect(again.errors.map(formatConfigError)).toEqual([]);
    const { file: _a, ...x } = again.pipeline!;
    const { file: _b, ...y } = cfg;
    expect(x).toEqual(y);
  });
});
