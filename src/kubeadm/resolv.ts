// The resolv.conf the kubelet hands to pods on nodes in containers. Docker gives a container
// 127.0.0.11 (its embedded DNS), which pods cannot reach, and CoreDNS forwarding to a loopback
// address detects a loop and exits. Pods get the host's real resolvers instead.
import { readFile } from 'node:fs/promises';
import { NodePrepareError } from './errors.js';

export const POD_RESOLV_CONF = '/etc/mk/resolv.conf';

/** Non-loopback nameservers of a resolv.conf text. Pure. */
export function upstreamNameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const ns = m[1]!;
    if (ns.startsWith('127.') || ns === '::1' || ns === '0.0.0.0') continue;
    if (!out.includes(ns)) out.push(ns);
  }
  return out;
}

/**
 * Picks resolvers: the host's resolv.conf, then systemd-resolved's upstream list, then the network's
 * gateway as a last resort. Pure over the texts given.
 */
export function podResolvConf(sources: { etcResolv?: string; resolvedUpstream?: string; gateway?: string }): string {
  let ns = upstreamNameservers(sources.etcResolv ?? '');
  if (ns.length === 0) ns = upstreamNameservers(sources.resolvedUpstream ?? '');
  if (ns.length === 0 && sources.gateway) ns = [sources.gateway];
  if (ns.length === 0) {
    throw new NodePrepareError(
      'no usable DNS resolver on this machine (its resolv.conf and systemd-resolved list only loopback nameservers), so pods could not resolve names outside the cluster; ' +
        'list a reachable resolver in /etc/resolv.conf (or run systemd-resolved with upstream servers) and apply again',
    );
  }
  return ns.slice(0, 3).map((n) => `nameserver ${n}`).join('\n') + '\n';
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Reads this machine's resolver files (the Docker engine is local to mk in the common case). */
export async function hostPodResolvConf(gateway?: string): Promise<string> {
  const etcResolv = await readOptional('/etc/resolv.conf');
  const resolvedUpstream = await readOptional('/run/systemd/resolve/resolv.conf');
  return podResolvConf({ ...(etcResolv ? { etcResolv } : {}), ...(resolvedUpstream ? { resolvedUpstream } : {}), ...(gateway ? { gateway } : {}) });
}
