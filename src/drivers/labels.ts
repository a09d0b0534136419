// Labels that mark what mk owns. Everything mk observes or deletes is found by these,
// never by name patterns.

export const LABEL_PREFIX = 'mk.dev/';
export const LABELS = {
  /** Present on every object mk creates; value is the cluster name. */
  cluster: 'mk.dev/cluster',
  node: 'mk.dev/node',
  pool: 'mk.dev/pool',
  role: 'mk.dev/role',
  ordinal: 'mk.dev/ordinal',
  /** Hash of the node's creation-time settings; a change means the node must be replaced. */
  configHash: 'mk.dev/config-hash',
  /** 'node' | 'network' | 'volume' | 'load-balancer' */
  component: 'mk.dev/component',
  /** A node's static address on the cluster network, as picked at creation (podman reports none for a stopped container). */
  address: 'mk.dev/address',
  /** mk version that created the object. */
  createdBy: 'mk.dev/created-by',
} as const;

export type Component = 'node' | 'network' | 'volume' | 'load-balancer';

export function ownedLabels(cluster: string, component: Component, extra: Record<string, string> = {}): Record<string, string> {
  return { [LABELS.cluster]: cluster, [LABELS.component]: component, ...extra };
}
