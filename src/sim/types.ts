/** Shapes shared by the simulator, its labels file and the backtest that reads them. */

export const DEVICE_CLASSES = ['smart_meter', 'vehicle', 'plc', 'patient_monitor', 'pos_terminal'] as const;
export type DeviceClass = (typeof DEVICE_CLASSES)[number];

export const INCIDENT_KINDS = [
  'mirai_scan',
  'c2_beaconing',
  'exfiltration',
  'brute_force',
  'device_cloning',
  'sensor_spoofing',
  'stuck_sensor',
  'dos_participation',
  'lateral_movement',
  'plaintext_downgrade',
  'firmware_downgrade',
] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

export const BENIGN_KINDS = ['firmware_rollout', 'maintenance_window', 'dst_shift', 'network_outage'] as const;
export type BenignKind = (typeof BENIGN_KINDS)[number];

/** Ground truth for one injected incident. Times are ISO-8601 in the file. */
export interface IncidentLabel {
  id: string;
  device_id: string;
  device_class: string;
  kind: IncidentKind | string;
  start: string;
  end: string;
  /** Magnitude and shape of the injection (rate, target, metric...), for analysis. */
  detail: Record<string, unknown>;
}

/** A benign change: must not alert. Listed so the report can show what fired during them. */
export interface BenignLabel {
  id: string;
  kind: BenignKind | string;
  start: string;
  end: string;
  /** Affected devices (may be long) — absent when it is fleet- or zone-wide. */
  devices?: string[];
  detail: Record<string, unknown>;
}

export interface LabelsFile {
  version: 1;
  generator: string;
  seed: number;
  start: string;
  end: string;
  devices: number;
  classes: Record<string, number>;
  incidents: IncidentLabel[];
  benign: BenignLabel[];
  /**
   * Scheduled incidents that never changed a single event (e.g. a sensor stuck at 0 on an idle
   * line for the whole window): not ground truth, so not in `incidents`; listed for transparency.
   */
  unobservable?: IncidentLabel[];
}

/** A wire-format event under construction: `ts` is epoch ms until it is written. */
export type SimEvent = { type: 'telemetry' | 'connection'; device_id: string; device_class: string; ts: number } & Record<
  string,
  unknown
>;
