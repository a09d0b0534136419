import { describe, expect, it } from 'vitest';
import { defaultGateway, firstFreeAddress, formatIPv4, overlaps, parseCidr, parseIPv4, pickFreeSubnet } from '../../src/drivers/docker/ipam.js';

describe('IPv4 parsing', () => {
  it('round-trips addresses and normalises CIDRs', () => {
    expect(formatIPv4(parseIPv4('172.28.3.250')!)).toBe('172.28.3.250');
    expect(parseIPv4('256.1.1.1')).toBeUndefined();
    expect(parseIPv4('fc00::1')).toBeUndefined();
    expect(parseCidr('172.18.5.7/16')).toEqual({ base: parseIPv4('172.18.0.0'), prefix: 16 });
    expect(parseCidr('fc00:f853::/64')).toBeUndefined();
    expect(overlaps(parseCidr('172.16.0.0/12')!, parseCidr('172.28.4.0/24')!)).toBe(true);
    expect(overlaps(parseCidr('172.28.0.0/24')!, parseCidr('172.28.1.0/24')!)).toBe(false);
  });
});

describe('pickFreeSubnet', () => {
  it('takes the first /24 of 172.28.0.0/14 when nothing overlaps', () => {
    expect(pickFreeSubnet(['172.17.0.0/16', '172.18.0.0/16', 'fc00:f853:ccd:e793::/64'])).toBe('172.28.0.0/24');
  });
  it('skips taken /24s and wider networks that cover them', () => {
    expect(pickFreeSubnet(['172.28.0.0/24', '172.28.1.0/24'])).toBe('172.28.2.0/24');
    expect(pickFreeSubnet(['172.28.0.0/16'])).toBe('172.29.0.0/24');
    expect(pickFreeSubnet(['172.28.0.128/25'])).toBe('172.28.1.0/24');
  });
  it('fails clearly when the pool is exhausted', () => {
    expect(() => pickFreeSubnet(['172.28.0.0/14'])).toThrow(/no free \/24/);
  });
});

describe('firstFreeAddress', () => {
  it('starts at .2 and skips the gateway and used addresses (with or without prefix)', () => {
    expect(firstFreeAddress('172.28.0.0/24', '172.28.0.1', [])).toBe('172.28.0.2');
    expect(firstFreeAddress('172.28.0.0/24', '172.28.0.1', ['172.28.0.2/24', '172.28.0.3'])).toBe('172.28.0.4');
    expect(firstFreeAddress('172.28.0.0/24', '172.28.0.2', [])).toBe('172.28.0.3');
  });
  it('never hands out the broadcast address', () => {
    const used = Array.from({ length: 253 }, (_, i) => `10.9.0.${i + 2}`);
    expect(firstFreeAddress('10.9.0.0/24', '10.9.0.1', used.slice(0, 252))).toBe('10.9.0.254');
    expect(() => firstFreeAddress('10.9.0.0/24', '10.9.0.1', used)).toThrow(/no free address/);
  });
  it('derives the default gateway', () => {
    expect(defaultGateway('172.28.7.0/24')).toBe('172.28.7.1');
  });
});
