// IPv4 addresses, CIDRs and ranges, host addresses, and Node's network error codes. Pure.
import { isIP } from 'node:net';

/** Node's codes for a connection that could not be made, broke, or timed out: the peer may answer later. */
const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);

export function isNetworkErrorCode(code: unknown): boolean {
  return typeof code === 'string' && NETWORK_ERROR_CODES.has(code);
}

/** Parse a dotted-quad IPv4 address to a 32-bit unsigned number; undefined if invalid. */
export function parseIPv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let n = 0;
  for (const part of m.slice(1)) {
    if (part.length > 1 && part.startsWith('0')) return undefined; // no octal-looking octets
    const v = Number(part);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export interface Cidr {
  /** First address. */
  start: number;
  /** Last address. */
  end: number;
  prefix: number;
}

export type CidrResult = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/** Parse an IPv4 CIDR; host bits must be zero (the reason suggests the network address). */
export function parseCidr(text: string): CidrResult {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) return { ok: false, reason: `"${text}" is not an IPv4 CIDR like 10.244.0.0/16` };
  const addr = parseIPv4(m[1] ?? '');
  const prefix = Number(m[2]);
  if (addr === undefined) return { ok: false, reason: `"${m[1]}" is not an IPv4 address` };
  if (prefix > 32) return { ok: false, reason: `prefix /${prefix} is longer than 32` };
  const size = 2 ** (32 - prefix);
  const start = Math.floor(addr / size) * size;
  if (start !== addr) {
    return { ok: false, reason: `"${text}" has host bits set (did you mean ${formatIPv4(start)}/${prefix}?)` };
  }
  return { ok: true, cidr: { start, end: start + size - 1, prefix } };
}

export function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start <= b.end && b.start <= a.end;
}

export type RangeResult = { ok: true; range: { start: number; end: number } } | { ok: false; reason: string };

/** An address-pool entry: a CIDR or `first-last` (both IPv4, first <= last). */
export function parseAddressRange(text: string): RangeResult {
  if (text.includes('/')) {
    const c = parseCidr(text);
    return c.ok ? { ok: true, range: { start: c.cidr.start, end: c.cidr.end } } : c;
  }
  const m = /^([^-\s]+)\s*-\s*([^-\s]+)$/.exec(text);
  if (!m) return { ok: false, reason: `"${text}" is neither a range like 172.30.0.200-172.30.0.250 nor a CIDR` };
  const start = parseIPv4(m[1] ?? '');
  const end = parseIPv4(m[2] ?? '');
  if (start === undefined || end === undefined) {
    return { ok: false, reason: `"${text}" is not a range of IPv4 addresses` };
  }
  if (start > end) return { ok: false, reason: `range "${text}" ends before it starts` };
  return { ok: true, range: { start, end } };
}

const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** An IP address (v4 or v6) or a DNS hostname (RFC 1123): never a flag, a path or anything with spaces. */
export function isHostAddress(text: string): boolean {
  if (isIP(text) !== 0) return true;
  if (text.length === 0 || text.length > 253) return false;
  // All-numeric dotted names would be mistaken for (invalid) IPv4 addresses.
  if (/^[\d.]+$/.test(text)) return false;
  return text.replace(/\.$/, '').split('.').every((label) => HOST_LABEL.test(label));
}
