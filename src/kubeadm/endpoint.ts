// Which control plane mk talks to, and at which URL. Pure.
import { capabilitiesOf } from '../drivers/capabilities.js';
import type { ObservedCluster, ObservedNode } from '../drivers/types.js';
import { wantsLoadBalancer } from '../infrastructure/index.js';
import { expandNodes } from '../spec/nodes.js';
import type { Cluster } from '../spec/types.js';

/** The API server URL of a control plane as mk reaches it: the published 127.0.0.1 port (docker) or the host (ssh). */
export function serverUrl(cluster: Cluster, node: ObservedNode): string {
  return capabilitiesOf(cluster).apiServerUrl(node);
}

const collator = new Intl.Collator('en', { numeric: true });

/** Running control planes, the ones the spec keeps first (by name), then those being removed. */
export function controlPlaneOrder(cluster: Cluster, nodes: readonly ObservedNode[]): ObservedNode[] {
  const desired = new Set(expandNodes(cluster).map((n) => n.name));
  return nodes
    .filter((n) => n.role === 'control-plane' && n.state === 'running')
    .sort((a, b) => Number(desired.has(b.name)) - Number(desired.has(a.name)) || collator.compare(a.name, b.name));
}

/**
 * The cluster's API endpoint as reachable from here when it is not a control plane: mk's load
 * balancer (its published port), or the address the spec names (ssh); undefined: a control plane is.
 */
export function endpointUrl(cluster: Cluster, actual: Pick<ObservedCluster, 'loadBalancer'>): string | undefined {
  const named = cluster.spec.networking.controlPlaneEndpoint;
  if (named) return `https://${named.includes(':') ? `[${named}]` : named}:6443`;
  const port = wantsLoadBalancer(cluster) ? actual.loadBalancer?.apiServerPort : undefined;
  return port ? `https://127.0.0.1:${port}` : undefined;
}
