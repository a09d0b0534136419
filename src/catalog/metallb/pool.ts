// The auto address pool for LoadBalancer services: the top quarter (at most the top 64 addresses) of the
// cluster's Docker network, minus Docker's allocation range (when the network has one), the
// gateway and addresses in use. Docker hands out dynamic addresses from the bottom of a subnet
// without an explicit range, and mk's nodes take static addresses from the bottom too. Pure.
import { formatIPv4, parseCidr, parseIPv4 } from '../../net.js';
import { PoolError } from '../errors.js';

export interface NetworkFacts {
  /** The network's IPv4 subnet (CIDR). */
  subnet: string;
  /** Docker's allocation range (IPAM IPRange, a CIDR), if set. */
  ipRange?: string;
  gateway?: string;
  /** Addresses in use (nodes, other containers). */
  used?: readonly string[];
}

/** Contiguous ranges ("a.b.c.d-e.f.g.h") of free addresses for MetalLB, highest block last. */
export function autoAddressPool(net: NetworkFacts, maxSize = 64): string[] {
  const sub = parseCidr(net.subnet);
  if (!sub.ok) throw new PoolError(sub.reason);
  const { start, end, prefix } = sub.cidr;
  if (prefix > 29) throw new PoolError(`subnet ${net.subnet} is too small to carve a LoadBalancer pool from (at most /29)`);
  const size = end - start + 1;
  const count = Math.min(maxSize, Math.floor(size / 4));
  const first = end - count + 1;
  const last = end - 1; // not the broadcast address
  let range: { start: number; end: number } | undefined;
  if (net.ipRange) {
    const r = parseCidr(net.ipRange);
    if (!r.ok) throw new PoolError(r.reason);
    range = r.cidr;
  }
  const excluded = new Set<number>();
  for (const a of [net.gateway, ...(net.used ?? [])]) {
    const n = a === undefined ? undefined : parseIPv4(a.replace(/\/\d+$/, ''));
    if (n !== undefined) excluded.add(n);
  }
  const out: string[] = [];
  let runStart: number | undefined;
  for (let ip = first; ip <= last + 1; ip++) {
    const free = ip <= last && !excluded.has(ip) && !(range && ip >= range.start && ip <= range.end);
    if (free && runStart === undefined) runStart = ip;
    if (!free && runStart !== undefined) {
      out.push(`${formatIPv4(runStart)}-${formatIPv4(ip - 1)}`);
      runStart = undefined;
    }
  }
  if (out.length === 0) throw new PoolError(`no free addresses left for LoadBalancer services in ${net.subnet}; set spec.loadBalancer.addressPool`);
  return out;
}
