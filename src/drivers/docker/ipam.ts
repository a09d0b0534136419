// IPv4 address arithmetic for the cluster network: pick a free /24, pick a free node address.
// Pure; the driver feeds it what Docker reports.
//
// Subnet choice: /24s carved from 172.28.0.0/14 (172.28.0.0 - 172.31.255.255, 1024 networks),
// lowest first. Docker's default pools hand out 172.17-172.31 /16s from the bottom up, so the top
// of that range is the last to be taken by unrelated networks, and it stays clear of the usual
// Kubernetes pod (10.244.0.0/16) and service (10.96.0.0/12) ranges and of home LANs (192.168.x).
// A subnet is free when it overlaps no subnet of any existing Docker network.
import { DriverError } from '../../errors.js';
import { formatIPv4, parseIPv4 } from '../../net.js';

export { formatIPv4, parseIPv4 };

export const SUBNET_POOL = '172.28.0.0/14';
export const SUBNET_PREFIX = 24;

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

/** Parses "a.b.c.d/n" (IPv4 only); host bits are cleared. Undefined for IPv6 or garbage. */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, bits, ...rest] = text.split('/');
  if (addr === undefined || bits === undefined || rest.length > 0 || !/^\d{1,2}$/.test(bits)) return undefined;
  const ip = parseIPv4(addr);
  const prefix = Number(bits);
  if (ip === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  return { base: ip - (ip % size), prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIPv4(cidr.base)}/${cidr.prefix}`;
}

function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

export function contains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + size(c);
}

/** First /prefix block of the pool that overlaps none of `used` (CIDR strings; IPv6 and garbage ignored). */
export function pickFreeSubnet(used: readonly string[], pool = SUBNET_POOL, prefix = SUBNET_PREFIX): string {
  const range = parseCidr(pool);
  if (!range || prefix < range.prefix) throw new DriverError(`invalid subnet pool ${pool}/${prefix}`);
  const taken = used.map(parseCidr).filter((c): c is Cidr => c !== undefined);
  const step = 2 ** (32 - prefix);
  for (let base = range.base; base < range.base + size(range); base += step) {
    const candidate = { base, prefix };
    if (!taken.some((t) => overlaps(t, candidate))) return formatCidr(candidate);
  }
  throw new DriverError(`no free /${prefix} subnet left in ${pool}; set spec.driver.docker.subnet`);
}

/** The gateway Docker assigns by default: the first host address. */
export function defaultGateway(subnet: string): string {
  const c = parseCidr(subnet);
  if (!c) throw new DriverError(`invalid subnet ${subnet}`);
  return formatIPv4(c.base + 1);
}

/**
 * First free host address from .2 upward, skipping the gateway, the broadcast address and
 * `used` (addresses, with or without a /prefix suffix).
 */
export function firstFreeAddress(subnet: string, gateway: string | undefined, used: readonly string[]): string {
  const c = parseCidr(subnet);
  if (!c) throw new DriverError(`invalid subnet ${subnet}`);
  const taken = new Set<number>();
  for (const u of [gateway, ...used]) {
    const ip = u === undefined ? undefined : parseIPv4(u.split('/')[0] ?? '');
    if (ip !== undefined) taken.add(ip);
  }
  const last = c.base + size(c) - 1;
  for (let ip = c.base + 2; ip < last; ip++) {
    if (!taken.has(ip)) return formatIPv4(ip);
  }
  throw new DriverError(`no free address left in ${subnet}`);
}
