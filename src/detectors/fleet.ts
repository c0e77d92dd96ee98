/**
 * The fleet roles detectors declare (see FleetRole in types.ts), in one place so that the
 * signatures that must match across devices are built the same way everywhere.
 */
import type { FindingDraft, FleetRole } from './types.js';

/** Never folds; marks its device so that a change it takes part in does not fold either. */
export const ATTACK: FleetRole = { role: 'attack' };

/**
 * A destination's group the way a fleet's services are laid out, without an ASN database: the
 * /24 (IPv4) or /64 (IPv6) and the port, so a backend behind a few rotating addresses is one.
 */
export function peerGroup(ip: string, port: number): string {
  if (ip.includes(':')) {
    const parts = ip.split(':');
    // An IPv6 address may compress its first hextets ("::1", "2001:db8::…"): expand the prefix.
    const gap = parts.indexOf('');
    const head = gap < 0 ? parts.slice(0, 4) : parts.slice(0, Math.min(gap, 4));
    while (head.length < 4) head.push('0');
    return `${head.map((h) => h.toLowerCase() || '0').join(':')}::/64:${port}`;
  }
  const dot = ip.lastIndexOf('.');
  return `${dot < 0 ? ip : ip.slice(0, dot)}.0/24:${port}`;
}

/**
 * A finding about one destination: judged by how common that destination is in the class, and
 * the same destination appearing on many devices at once is one change.
 */
export function destinationRole(pick: (f: FindingDraft) => { ip: unknown; port: unknown } | undefined): FleetRole {
  const peer = (f: FindingDraft) => {
    const p = pick(f);
    return p !== undefined && typeof p.ip === 'string' && typeof p.port === 'number' ? { ip: p.ip, port: p.port } : undefined;
  };
  return {
    role: 'change',
    peer,
    signature(f) {
      // A finding about an established destination (evidence.established) is steady state, not a change.
      const p = f.evidence.established === true ? undefined : peer(f);
      return p === undefined ? undefined : `peer ${peerGroup(p.ip, p.port)}`;
    },
  };
}

/** The destination in a finding's evidence (`dst_ip`, `dst_port`). */
export const evidenceDestination = (f: FindingDraft) => ({ ip: f.evidence.dst_ip, port: f.evidence.dst_port });

/**
 * A finding about one quantity of the device (a metric, its firmware, its reporting): the same
 * detector, key and direction on many devices at once is one change (weather on every meter, a
 * rollout's new version, a site's outage).
 */
export function changeRole(detail?: (f: FindingDraft) => unknown): FleetRole {
  return {
    role: 'change',
    signature(f) {
      const d = detail?.(f);
      return `${f.detector} ${f.key}${d === undefined || d === null ? '' : ` ${String(d)}`}`;
    },
  };
}
