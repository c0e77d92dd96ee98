/**
 * firmware_change: a device reports a different firmware version than before.
 *
 * Upgrades are normal fleet life (rollouts touch every device), so they are low severity: on
 * record for the audit trail, below the default alert threshold. A downgrade is high: rolling a
 * device back to an older, vulnerable image is a known persistence and exploitation step. A
 * device flapping between versions is medium (a failing update or two sources claiming one id).
 * Versions compare semver-style (numeric parts, pre-releases before releases).
 */
import { closeStale, raise } from './incident.js';
import type { IncidentBook } from './incident.js';
import { reusedResult, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from './types.js';
import type { M2MEvent } from '../events/types.js';
import { fmtDuration } from './lib/format.js';
import { compareVersions } from './lib/versions.js';
import { changeRole } from './fleet.js';

export interface FirmwareChangeParams extends Record<string, unknown> {
  report_upgrades: boolean;
  flap_window: number;
  max_changes: number;
  incident_gap: number;
}

export interface FirmwareChangeState {
  /** Current version, since when, and the highest version seen. */
  v: string;
  vt: number;
  hi: string;
  /** Times of recent changes. */
  ch: number[];
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

export const firmwareChange: DetectorSpec<FirmwareChangeParams> = {
  name: 'firmware_change',
  family: 'telemetry',
  summary:
    'Firmware version changes: upgrades (low, for the audit trail — fleet rollouts are normal), downgrades below the highest version the device has run (high), and flapping between versions (medium).',
  params: {
    report_upgrades: { type: 'boolean', description: 'Record upgrades as low-severity findings (downgrades and flapping are always reported).', default: true },
    flap_window: { type: 'duration', description: 'Window in which repeated changes count as flapping.', default: '24h' },
    max_changes: { type: 'integer', description: 'Changes within flap_window tolerated before a flapping finding.', default: 2, minimum: 1, maximum: 32 },
    incident_gap: { type: 'duration', description: 'Changes closer than this extend one finding.', default: '24h' },
  },
  example:
    'plc-07 (plc) now runs firmware 4.1.0, older than the 4.2.1 it ran until 3h ago; confirm the rollback was authorised, otherwise treat it as tampering and reflash from a trusted image.',
  mitre: ['T0857', 'T0839'],
  fleet: changeRole((f) => f.evidence.to),
  create(params, id) {
    return new FirmwareChangeDetector(params, id);
  },
};

class FirmwareChangeDetector implements DetectorInstance<FirmwareChangeState> {
  readonly spec = firmwareChange;
  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<FirmwareChangeState>();
  readonly maxStateBytes: number;

  constructor(
    private readonly p: FirmwareChangeParams,
    readonly id: string,
  ) {
    this.maxStateBytes = 3 * 70 + 60 + (p.max_changes + 1) * 15 + 3 * 110;
  }

  applies(ev: M2MEvent): boolean {
    return typeof ev.firmware === 'string' && ev.firmware.length > 0;
  }

  init(ev: M2MEvent): FirmwareChangeState {
    const fw = ev.firmware!.slice(0, 64);
    return { v: fw, vt: ev.ts, hi: fw, ch: [], inc: null };
  }

  step(s: FirmwareChangeState, ev: M2MEvent): StepResult<FirmwareChangeState> {
    const fw = ev.firmware!.slice(0, 64);
    // Only newer events can change the current version: a late reading from before an upgrade
    // must not look like a downgrade.
    if (fw === s.v || ev.ts <= s.vt) return this.result(s, NONE);
    const p = this.p;
    const prev = s.v;
    const since = ev.ts - s.vt;
    const cmp = compareVersions(fw, prev);
    const belowHi = compareVersions(fw, s.hi) < 0;
    const from = ev.ts - p.flap_window;
    s.ch = s.ch.filter((t) => t > from);
    s.ch.push(ev.ts);
    s.v = fw;
    s.vt = ev.ts;
    if (compareVersions(fw, s.hi) > 0) s.hi = fw;
    const out: FindingDraft[] = [];
    const base = { detector: this.id, device_id: ev.device_id, device_class: ev.device_class, ts: ev.ts };
    const ev_ = { from: prev, to: fw, highest_seen: s.hi, previous_for_ms: since, changes_in_window: s.ch.length };
    if (cmp < 0 || belowHi) {
      out.push(
        raise((s.inc ??= {}),
          {
            ...base,
            key: 'downgrade',
            score: 0.7,
            observed: fw,
            expected: `≥ ${s.hi}`,
            explanation: `${ev.device_id} (${ev.device_class}) now runs firmware ${fw}, older than the ${cmp < 0 ? prev : s.hi} it ran until ${fmtDuration(since)} ago; confirm the rollback was authorised, otherwise treat it as tampering and reflash from a trusted image.`,
            evidence: { kind: 'downgrade', ...ev_ },
            mitre: ['T0857', 'T1601'],
          },
          p.incident_gap,
        ),
      );
    } else if (p.report_upgrades) {
      out.push(
        raise((s.inc ??= {}),
          {
            ...base,
            key: 'change',
            score: 0.3,
            observed: fw,
            expected: prev,
            explanation: `${ev.device_id} (${ev.device_class}) changed firmware from ${prev} to ${fw}; confirm it is part of a planned rollout (many devices of the class changing together) rather than a one-off change on this device.`,
            evidence: { kind: 'upgrade', ...ev_ },
            mitre: ['T0857', 'T0839'],
          },
          p.incident_gap,
        ),
      );
    }
    if (s.ch.length > p.max_changes) {
      // Changes that include a downgrade already reported (high, still open) are that incident's
      // story: the rollback, its re-flash and the next rollout. On record, below the alert line.
      const dg = s.inc?.downgrade;
      const explained = dg !== undefined && ev.ts - dg.last_ts <= p.incident_gap && cmp >= 0;
      out.push(
        raise((s.inc ??= {}),
          {
            ...base,
            key: 'flapping',
            score: explained ? 0.3 : 0.5,
            observed: `${s.ch.length} changes in ${fmtDuration(p.flap_window)}`,
            expected: `≤ ${p.max_changes}`,
            explanation: `${ev.device_id} (${ev.device_class}) changed firmware ${s.ch.length} times within ${fmtDuration(p.flap_window)} (now ${fw}, before ${prev}); check for a failing update loop or two devices reporting under this id.`,
            evidence: { kind: 'flapping', ...ev_, ...(explained ? { after_downgrade_ts: dg!.first_ts } : {}) },
            mitre: ['T0857', 'T0849'],
          },
          p.incident_gap,
        ),
      );
      s.ch.shift();
    }
    if (s.inc !== null) closeStale(s.inc, ev.ts, p.incident_gap);
    return this.result(s, out);
  }
}

const NONE: FindingDraft[] = [];
