import { describe, expect, it } from 'vitest';
import { compareVersions } from '../../../src/detectors/lib/versions.js';

describe('utils', () => {
  it('compares versions semver-style', () => {
    expect(compareVersions('4.10.0', '4.2.1')).toBeGreaterThan(0);
    expect(compareVersions('v4.2.1', '4.2.1')).toBe(0);
    expect(compareVersions('4.2', '4.2.0')).toBe(0);
    expect(compareVersions('4.2.0-rc1', '4.2.0')).toBeLessThan(0);
    expect(compareVersions('4.2.0+build7', '4.2.0')).toBe(0);
    expect(compareVersions('1.0.0-alpha', '1.0.0-beta')).toBeLessThan(0);
  });
});
