/**
 * One score scale for every detector. A score is a calibrated 0..1 "how sure are we that this is
 * not normal", and severities are fixed bands of it, so `min_severity: medium` means the same for
 * a spike, a port scan or a policy breach.
 *
 * Statistical detectors turn their evidence into a tail probability p under the device's own
 * baseline and map it with scoreFromP: p = 1e-3 → 0.3, 1e-5 → 0.5, 1e-7 → 0.7, 1e-9 → 0.9.
 * Rule detectors (policy) use fixed scores that sit in the band their breach deserves.
 */
import type { Severity } from './types.js';

export const SEVERITY_BANDS: ReadonlyArray<[number, Severity]> = [
  [0.9, 'critical'],
  [0.7, 'high'],
  [0.5, 'medium'],
  [0.3, 'low'],
  [0, 'info'],
];

export function severityOf(score: number): Severity {
  for (const [floor, sev] of SEVERITY_BANDS) if (score >= floor) return sev;
  return 'info';
}

export const SEVERITY_RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : Number.isFinite(x) ? x : 1;
}

/** Tail probability → score: a decade of surprise is 0.1 of score. */
export function scoreFromP(p: number): number {
  if (!(p > 0)) return 1;
  return clamp01(-Math.log10(p) / 10);
}

/**
 * Robust z (|x − median| / (1.4826·MAD)) → score, by an explicit calibration table rather than a
 * Gaussian tail: sensor data is heavy-tailed, and under a Gaussian every z = 6 would be a
 * one-in-a-billion event. Anchors: z 3 → 0.2, 4 → 0.3 (low), 6 → 0.5 (medium), 8 → 0.7 (high),
 * 12 → 0.9 (critical), 20 → 1; linear in between.
 */
const Z_ANCHORS: ReadonlyArray<[number, number]> = [
  [0, 0],
  [3, 0.2],
  [4, 0.3],
  [6, 0.5],
  [8, 0.7],
  [12, 0.9],
  [20, 1],
];

export function scoreFromZ(z: number): number {
  const a = Math.abs(z);
  if (!Number.isFinite(a)) return 1;
  for (let i = 1; i < Z_ANCHORS.length; i++) {
    const [z1, s1] = Z_ANCHORS[i]!;
    if (a <= z1) {
      const [z0, s0] = Z_ANCHORS[i - 1]!;
      return s0 + ((a - z0) / (z1 - z0)) * (s1 - s0);
    }
  }
  return 1;
}

/** The inverse of scoreFromZ: the robust z a threshold score corresponds to (docs, params). */
export function zForScore(score: number): number {
  for (let i = 1; i < Z_ANCHORS.length; i++) {
    const [z1, s1] = Z_ANCHORS[i]!;
    if (score <= s1) {
      const [z0, s0] = Z_ANCHORS[i - 1]!;
      return z0 + ((score - s0) / (s1 - s0)) * (z1 - z0);
    }
  }
  return 20;
}
