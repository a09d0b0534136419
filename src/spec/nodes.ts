// Expand node pools into the concrete nodes the spec asks for. Pure.
import type { Cluster, DesiredNode, Role } from './types.js';

export function nodeName(cluster: string, pool: string, ordinal: number): string {
  return `${cluster}-${pool}-${ordinal}`;
}

export function expandNodes(cluster: Cluster): DesiredNode[] {
  const name = cluster.metadata.name;
  return cluster.spec.nodes.flatMap((pool) => {
    const hosts = pool.hosts;
    const count = hosts ? hosts.length : pool.count;
    return Array.from({ length: count }, (_, i): DesiredNode => {
      const host = hosts?.[i];
      return {
        name: host?.name ?? nodeName(name, pool.name, i + 1),
        cluster: name,
        pool: pool.name,
        ordinal: i + 1,
        role: pool.role,
        labels: { ...pool.labels, ...host?.labels },
        taints: [...pool.taints, ...(host?.taints ?? [])],
        ...(host ? { host } : {}),
      };
    });
  });
}

/** A role as plans and messages say it. */
export function roleText(role: Role): string {
  return role === 'control-plane' ? 'control plane' : 'worker';
}
