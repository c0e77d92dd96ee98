/** Firmware versions: which strings are versions, and their semver-ish order. */
/**
 * What compareVersions can order: digits separated by dots or underscores, an optional leading
 * "v", an optional pre-release ("-rc1") and build metadata ("+b7"). "banana" is not a version: a
 * minimum written that way compared as text and silently switched the firmware rule off.
 */
const VERSION_RE = /^[vV]?[0-9]{1,9}(?:[._][0-9]{1,9}){0,7}(?:-[0-9A-Za-z.-]{1,64})?(?:\+[0-9A-Za-z.-]{1,64})?$/;

export function isVersion(v: string): boolean {
  return VERSION_RE.test(v.trim());
}

/**
 * Compare firmware versions semver-ishly: numeric dot-separated parts compared as numbers,
 * a leading "v" ignored, build metadata ("+...") ignored, and a pre-release ("-rc1") sorts
 * before its release. Non-numeric parts compare as strings. Returns <0, 0, >0.
 */
export function compareVersions(a: string, b: string): number {
  const norm = (v: string) => v.trim().replace(/^[vV]/, '').split('+')[0]!;
  const [ma, pa] = splitPre(norm(a));
  const [mb, pb] = splitPre(norm(b));
  const xa = ma.split(/[._]/);
  const xb = mb.split(/[._]/);
  const n = Math.max(xa.length, xb.length);
  for (let i = 0; i < n; i++) {
    const c = comparePart(xa[i] ?? '0', xb[i] ?? '0');
    if (c !== 0) return c;
  }
  if (pa === undefined && pb === undefined) return 0;
  if (pa === undefined) return 1;
  if (pb === undefined) return -1;
  const ya = pa.split('.');
  const yb = pb.split('.');
  for (let i = 0; i < Math.max(ya.length, yb.length); i++) {
    if (ya[i] === undefined) return -1;
    if (yb[i] === undefined) return 1;
    const c = comparePart(ya[i]!, yb[i]!);
    if (c !== 0) return c;
  }
  return 0;
}

function splitPre(v: string): [string, string | undefined] {
  const i = v.indexOf('-');
  return i < 0 ? [v, undefined] : [v.slice(0, i), v.slice(i + 1)];
}

function comparePart(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return Number(a) - Number(b);
  // As in semver pre-release precedence: numeric identifiers sort before textual ones.
  if (na) return -1;
  if (nb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
