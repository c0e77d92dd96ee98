import { describe, expect, it } from 'vitest';
import { inCidr, isInternalIp, parseCidr } from '../../../src/detectors/lib/ip.js';

describe('utils', () => {
  it('matches CIDRs for IPv4 and IPv6 and knows internal ranges', () => {
    expect(inCidr('10.20.3.4', parseCidr('10.20.0.0/16')!)).toBe(true);
    expect(inCidr('10.21.3.4', parseCidr('10.20.0.0/16')!)).toBe(false);
    expect(inCidr('2001:db8::1', parseCidr('2001:db8::/32')!)).toBe(true);
    expect(inCidr('2001:db9::1', parseCidr('2001:db8::/32')!)).toBe(false);
    expect(inCidr('anything', parseCidr('0.0.0.0/0')!)).toBe(false);
    expect(isInternalIp('192.168.1.1')).toBe(true);
    expect(isInternalIp('8.8.8.8')).toBe(false);
    expect(isInternalIp('fd00::1')).toBe(true);
    expect(isInternalIp('2a00:1450::1')).toBe(false);
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
  });
});
