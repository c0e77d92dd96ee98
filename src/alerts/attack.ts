/**
 * MITRE ATT&CK facts for the technique ids our detectors cite, so an alert can carry the
 * technique's name, its tactic and the matrix version. ICS (T0xxx, tactics TA01xx) and
 * Enterprise (T1xxx, tactics TA00xx) are different matrices with look-alike names (both have a
 * "Remote System Discovery"); each technique is listed under its own matrix's tactic and never
 * mixed with the other's, so a SIEM that maps tactics per matrix reads them right.
 *
 * The tactic given is the technique's primary one for device anomalies (ATT&CK lists several
 * for some). Ids not in the table keep their id alone.
 */

export type Matrix = 'ics' | 'enterprise';

/** The ATT&CK release these names and tactics were checked against. */
const ATTACK_VERSION = '15.1';

const TACTICS: Record<string, string> = {
  // ICS
  TA0108: 'Initial Access',
  TA0104: 'Execution',
  TA0110: 'Persistence',
  TA0111: 'Privilege Escalation',
  TA0103: 'Evasion',
  TA0102: 'Discovery',
  TA0109: 'Lateral Movement',
  TA0100: 'Collection',
  TA0101: 'Command and Control',
  TA0107: 'Inhibit Response Function',
  TA0106: 'Impair Process Control',
  TA0105: 'Impact',
  // Enterprise
  TA0001: 'Initial Access',
  TA0003: 'Persistence',
  TA0005: 'Defense Evasion',
  TA0006: 'Credential Access',
  TA0007: 'Discovery',
  TA0008: 'Lateral Movement',
  TA0010: 'Exfiltration',
  TA0011: 'Command and Control',
  TA0040: 'Impact',
};

const TECHNIQUES: Record<string, [name: string, tactic: string]> = {
  // ICS
  T0812: ['Default Credentials', 'TA0109'],
  T0814: ['Denial of Service', 'TA0107'],
  T0815: ['Denial of View', 'TA0105'],
  T0816: ['Device Restart/Shutdown', 'TA0107'],
  T0829: ['Loss of View', 'TA0105'],
  T0830: ['Adversary-in-the-Middle', 'TA0100'],
  T0831: ['Manipulation of Control', 'TA0105'],
  T0832: ['Manipulation of View', 'TA0105'],
  T0836: ['Modify Parameter', 'TA0106'],
  T0839: ['Module Firmware', 'TA0110'],
  T0842: ['Network Sniffing', 'TA0102'],
  T0846: ['Remote System Discovery', 'TA0102'],
  T0848: ['Rogue Master', 'TA0108'],
  T0849: ['Masquerading', 'TA0103'],
  T0856: ['Spoof Reporting Message', 'TA0103'],
  T0857: ['System Firmware', 'TA0110'],
  T0859: ['Valid Accounts', 'TA0110'],
  T0866: ['Exploitation of Remote Services', 'TA0108'],
  T0867: ['Lateral Tool Transfer', 'TA0109'],
  T0869: ['Standard Application Layer Protocol', 'TA0101'],
  T0881: ['Service Stop', 'TA0107'],
  T0882: ['Theft of Operational Information', 'TA0105'],
  T0883: ['Internet Accessible Device', 'TA0108'],
  T0886: ['Remote Services', 'TA0108'],
  // Enterprise
  T1018: ['Remote System Discovery', 'TA0007'],
  T1021: ['Remote Services', 'TA0008'],
  T1029: ['Scheduled Transfer', 'TA0010'],
  T1036: ['Masquerading', 'TA0005'],
  T1040: ['Network Sniffing', 'TA0006'],
  T1041: ['Exfiltration Over C2 Channel', 'TA0010'],
  T1046: ['Network Service Discovery', 'TA0007'],
  T1048: ['Exfiltration Over Alternative Protocol', 'TA0010'],
  T1071: ['Application Layer Protocol', 'TA0011'],
  T1078: ['Valid Accounts', 'TA0001'],
  T1110: ['Brute Force', 'TA0006'],
  T1133: ['External Remote Services', 'TA0001'],
  T1498: ['Network Denial of Service', 'TA0040'],
  T1499: ['Endpoint Denial of Service', 'TA0040'],
  T1557: ['Adversary-in-the-Middle', 'TA0006'],
  T1601: ['Modify System Image', 'TA0005'],
};

/** ICS technique ids are T0xxx; Enterprise ones T1xxx (sub-techniques T1xxx.yyy). */
const matrixOf = (id: string): Matrix => (/^T0\d{3}$/.test(id) ? 'ics' : 'enterprise');

export interface OcsfAttack {
  technique: { uid: string; name?: string; src_url: string };
  sub_technique?: { uid: string; src_url: string };
  tactic?: { uid: string; name: string; src_url: string };
  version: string;
}

/** One OCSF attack object per technique id, ICS first then Enterprise, each with its own matrix's tactic. */
export function attacksOf(ids: readonly string[]): OcsfAttack[] {
  const sorted = [...new Set(ids)].sort((a, b) => Number(matrixOf(a) === 'enterprise') - Number(matrixOf(b) === 'enterprise') || a.localeCompare(b));
  return sorted.map((id) => {
    const [base, sub] = id.split('.');
    const t = TECHNIQUES[base!];
    const out: OcsfAttack = {
      technique: { uid: base!, ...(t ? { name: t[0] } : {}), src_url: `https://attack.mitre.org/techniques/${base}/` },
      version: ATTACK_VERSION,
    };
    if (sub) out.sub_technique = { uid: id, src_url: `https://attack.mitre.org/techniques/${base}/${sub}/` };
    if (t) out.tactic = { uid: t[1], name: TACTICS[t[1]]!, src_url: `https://attack.mitre.org/tactics/${t[1]}/` };
    return out;
  });
}

/** "T0846 Remote System Discovery (ICS · Discovery)" for people. */
export function describeTechnique(id: string): string {
  const t = TECHNIQUES[id.split('.')[0]!];
  const m = matrixOf(id) === 'ics' ? 'ICS' : 'Enterprise';
  return t ? `${id} ${t[0]} (${m} · ${TACTICS[t[1]]})` : `${id} (${m})`;
}
