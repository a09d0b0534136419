// Tiny builders for Cluster specs and observed state, so tests read as scenarios.
import { API_VERSION, KIND } from '../../src/spec/types.js';
import type { AddonSpec, Cluster, NodePool, Role } from '../../src/spec/types.js';
import type { ObservedCluster, ObservedLoadBalancer, ObservedNode } from '../../src/drivers/types.js';
import { wantsLoadBalancer } from '../../src/infrastructure/load-balancer.js';
import { expandNodes } from '../../src/spec/nodes.js';
import { nodeConfigHash, nodeImage } from '../../src/infrastructure/node-config.js';

export const DEFAULT_IMAGE = 'mk/node:v1.31.0';

class ClusterBuilder {
  private readonly pools: NodePool[] = [];
  private image = DEFAULT_IMAGE;
  private privileged = true;
  private network: string | undefined;
  private subnet: string | undefined;
  private version = 'v1.31.0';
  private cni = 'auto';
  private readonly addons: AddonSpec[] = [];
  private ssh = false;
  private bootstrap: 'kubeadm' | 'none' = 'kubeadm';
  private images: string[] = [];

  constructor(private readonly name: string) {}

  /** Adds a pool; the first call with role control-plane makes the control-plane pool. */
  withPool(name: string, role: Role, count: number, labels: Record<string, string> = {}): this {
    this.pools.push({ name, role, count, labels, taints: [] });
    return this;
  }
  withControlPlanes(count: number): this {
    return this.withPool('control-plane', 'control-plane', count);
  }
  withWorkers(count: number, pool = 'worker'): this {
    return this.withPool(pool, 'worker', count);
  }
  withImage(image: string): this {
    this.image = image;
    return this;
  }
  withPrivileged(privileged: boolean): this {
    this.privileged = privileged;
    return this;
  }
  withNetwork(name: string, subnet?: string): this {
    this.network = name;
    this.subnet = subnet;
    return this;
  }
  withKubernetesVersion(version: string): this {
    this.version = version;
    return this;
  }
  withCni(cni: string): this {
    this.cni = cni;
    return this;
  }
  withAddon(name: string, options: Record<string, unknown> = {}): this {
    this.addons.push({ name, enabled: true, options });
    return this;
  }
  /** spec.images */
  withImages(...refs: string[]): this {
    this.images.push(...refs);
    return this;
  }
  /** bootstrap: none (nodes only, no Kubernetes). */
  withoutKubernetes(): this {
    this.bootstrap = 'none';
    return this;
  }
  overSsh(): this {
    this.ssh = true;
    return this;
  }

  build(): Cluster {
    const pools = this.pools.some((p) => p.role === 'control-plane')
      ? this.pools
      : [{ name: 'control-plane', role: 'control-plane' as const, count: 1, labels: {}, taints: [] }, ...this.pools];
    return {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: this.name },
      spec: {
        kubernetesVersion: this.version,
        bootstrap: this.bootstrap,
        driver: this.ssh
          ? { name: 'ssh', ssh: {} }
          : {
              name: 'docker',
              docker: {
                image: this.image,
                privileged: this.privileged,
                ...(this.network ? { network: this.network } : {}),
                ...(this.subnet ? { subnet: this.subnet } : {}),
              },
            },
        cri: 'containerd',
        nodes: pools.map((p) => ({ ...p, labels: { ...p.labels }, taints: [...p.taints] })),
        networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', apiServerPort: 0, cni: this.cni },
        loadBalancer: { enabled: false, addressPool: 'auto' },
        addons: this.addons.map((a) => ({ ...a })),
        images: [...this.images],
      },
    };
  }
}

/** aCluster('dev').withWorkers(2).build(): one control plane (unless given) and two workers. */
export function aCluster(name = 'dev'): ClusterBuilder {
  return new ClusterBuilder(name);
}

/** What a driver would observe after a successful apply of `cluster`: every node running, network present. */
export function observedOf(cluster: Cluster): ObservedCluster {
  const name = cluster.metadata.name;
  const nodes = expandNodes(cluster).map(
    (n, i): ObservedNode => ({
      name: n.name,
      pool: n.pool,
      ordinal: n.ordinal,
      role: n.role,
      id: `c${i}`,
      state: 'running',
      image: nodeImage(cluster),
      configHash: nodeConfigHash(cluster, n),
      address: `172.30.0.${10 + i}`,
      ...(n.role === 'control-plane' ? { apiServerPort: 6443 + i } : {}),
    }),
  );
  // A cluster mk made with more than one control plane has its load balancer, listing them.
  const loadBalancer: ObservedLoadBalancer | undefined = wantsLoadBalancer(cluster)
    ? { id: 'lb', name: `${name}-lb`, state: 'running', address: '172.30.0.2', apiServerPort: 7443, image: nodeImage(cluster), backends: Object.fromEntries(nodes.filter((n) => n.role === 'control-plane').map((n) => [n.name, n.address!])) }
    : undefined;
  return { name, network: { id: 'n1', name: `mk-${name}`, subnet: '172.30.0.0/24' }, nodes, ...(loadBalancer ? { loadBalancer } : {}), orphanVolumes: [] };
}
