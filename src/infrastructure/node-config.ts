// Creation-time settings of a node: what the driver bakes into it and what forces a replacement. Pure.
import { createHash } from 'node:crypto';
import { capabilitiesOf } from '../drivers/capabilities.js';
import type { Cluster, DesiredNode } from '../spec/types.js';

/** The node image the driver starts the node from; hosts have none. */
export function nodeImage(cluster: Cluster): string {
  return capabilitiesOf(cluster).nodeImage;
}

/**
 * Hash over the settings a node is created with: image, privileged, role, pool, CRI, Kubernetes version
 * (and the address of an ssh host). Labels and taints are not part of it: they are applied through the
 * Kubernetes API and never force a replacement.
 */
export function nodeConfigHash(cluster: Cluster, node: DesiredNode): string {
  const caps = capabilitiesOf(cluster);
  const settings: [string, string][] = [
    ['image', caps.nodeImage],
    ['privileged', String(caps.privileged)],
    ['role', node.role],
    ['pool', node.pool],
    ['cri', cluster.spec.cri],
    ['kubernetesVersion', cluster.spec.kubernetesVersion],
  ];
  if (caps.nodeSettings) settings.push(['vm', caps.nodeSettings]);
  if (node.host) settings.push(['host', `${node.host.address}:${node.host.port ?? 22}`]);
  const canonical = settings.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
