/** IP addresses: IPv4/IPv6 parsing, CIDR blocks, and which addresses are internal (no route to the internet). */
/** IPv4 dotted quad → unsigned 32-bit int, or -1. */
export function ipv4ToInt(ip: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      digits++;
      if (digits > 3) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return n * 256 + part;
}

/** IPv6 text → 8 hextets, or undefined. Handles "::" and an embedded IPv4 tail. */
export function ipv6ToHextets(ip: string): number[] | undefined {
  let s = ip;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.indexOf(':') < 0) return undefined;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = ipv4ToInt(last);
    if (v4 < 0) return undefined;
    tail = [Math.floor(v4 / 65536), v4 % 65536];
    s = s.slice(0, lastColon + 1) + '0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return undefined;
  if (tail.length) rest.pop();
  const fixed = head.length + rest.length + tail.length;
  if (halves.length === 1 && fixed !== 8) return undefined;
  if (fixed > 8) return undefined;
  const zeros = new Array<number>(8 - fixed).fill(0);
  return [...head, ...zeros, ...rest, ...tail];
}

export interface Cidr {
  v6: boolean;
  /** v4: network as uint32; v6: 8 hextets. */
  net: number | number[];
  bits: number;
  text: string;
}

export function parseCidr(text: string): Cidr | undefined {
  const parts = text.trim().split('/');
  if (parts.length > 2) return undefined;
  const [addr, len] = parts;
  if (addr === undefined || (len !== undefined && !/^[0-9]{1,3}$/.test(len))) return undefined;
  const v4 = ipv4ToInt(addr);
  if (v4 >= 0) {
    const bits = len === undefined ? 32 : Number(len);
    if (!Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return { v6: false, net: (v4 & mask) >>> 0, bits, text };
  }
  const h = ipv6ToHextets(addr);
  if (!h) return undefined;
  const bits = len === undefined ? 128 : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > 128) return undefined;
  return { v6: true, net: h, bits, text };
}

export function inCidr(ip: string, c: Cidr): boolean {
  if (!c.v6) {
    const v = ipv4ToInt(ip);
    if (v < 0) return false;
    const mask = c.bits === 0 ? 0 : (0xffffffff << (32 - c.bits)) >>> 0;
    return ((v & mask) >>> 0) === c.net;
  }
  const h = ipv6ToHextets(ip);
  if (!h) return false;
  const net = c.net as number[];
  let bits = c.bits;
  for (let i = 0; i < 8 && bits > 0; i++) {
    const take = Math.min(16, bits);
    const mask = take === 16 ? 0xffff : (0xffff << (16 - take)) & 0xffff;
    if ((h[i]! & mask) !== (net[i]! & mask)) return false;
    bits -= take;
  }
  return true;
}

const PRIVATE_V4: Array<[number, number]> = [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['100.64.0.0', 10],
  ['224.0.0.0', 4],
  ['255.255.255.255', 32],
  ['0.0.0.0', 8],
].map(([net, bits]) => [ipv4ToInt(net as string), (0xffffffff << (32 - (bits as number))) >>> 0]);
const PRIVATE_V6: Cidr[] = ['fc00::/7', 'fe80::/10', '::1/128', 'ff00::/8', '::/128'].map((t) => parseCidr(t)!);

/** Private, loopback, link-local, CGNAT or multicast: not a route to the internet. */
export function isInternalIp(ip: string): boolean {
  const v4 = ipv4ToInt(ip);
  if (v4 >= 0) {
    for (const [net, mask] of PRIVATE_V4) if (((v4 & mask) >>> 0) === net) return true;
    return false;
  }
  if (ip.startsWith('::ffff:')) return isInternalIp(ip.slice(7));
  return PRIVATE_V6.some((c) => inCidr(ip, c));
}
