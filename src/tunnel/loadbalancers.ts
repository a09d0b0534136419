// Services of type LoadBalancer: the JSON shape mk reads and a pure summary for `mk status`
// (listed through the API in access.ts).

/** The parts of a core/v1 Service that mk reads (JSON as the API server sends it). */
export interface ServiceJson {
  metadata: { name: string; namespace?: string };
  spec?: {
    type?: string;
    ports?: Array<{ name?: string; protocol?: string; port: number; targetPort?: number | string; nodePort?: number }>;
  };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

export interface LoadBalancerPort {
  name?: string;
  port: number;
  protocol: string;
  nodePort?: number;
}

export interface LoadBalancerService {
  namespace: string;
  name: string;
  ports: LoadBalancerPort[];
  /** status.loadBalancer.ingress (IP or hostname); empty while pending. */
  addresses: string[];
}

/** Either the cluster's LoadBalancer Services or why they could not be listed. */
export type LoadBalancerListing = { loadBalancers: LoadBalancerService[] } | { loadBalancersError: string };

export function isLoadBalancer(s: ServiceJson): boolean {
  return s.spec?.type === 'LoadBalancer';
}

/** The LoadBalancer Services among `items`, sorted by namespace/name. Pure. */
export function loadBalancerServices(items: readonly ServiceJson[]): LoadBalancerService[] {
  return items
    .filter(isLoadBalancer)
    .map((s) => ({
      namespace: s.metadata.namespace ?? 'default',
      name: s.metadata.name,
      ports: (s.spec?.ports ?? []).map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        protocol: p.protocol ?? 'TCP',
        ...(p.nodePort ? { nodePort: p.nodePort } : {}),
      })),
      addresses: (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').filter((a) => a !== ''),
    }))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** kubectl's notation: 80:31380/TCP (port:nodePort/protocol). */
export function formatPorts(ports: readonly LoadBalancerPort[]): string {
  if (ports.length === 0) return '-';
  return ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol}`).join(',');
}

/** The status lines (indented two spaces) for a listing. Pure. */
export function formatLoadBalancers(listing: LoadBalancerListing): string[] {
  if ('loadBalancersError' in listing) return [`  load balancers: not listed (${listing.loadBalancersError})`];
  if (listing.loadBalancers.length === 0) return ['  load balancers: none'];
  const rows = [
    ['SERVICE', 'PORTS', 'EXTERNAL'],
    ...listing.loadBalancers.map((s) => [`${s.namespace}/${s.name}`, formatPorts(s.ports), s.addresses.length ? s.addresses.join(',') : '<pending>']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return ['  load balancers:', ...rows.map((r) => '    ' + r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd())];
}
