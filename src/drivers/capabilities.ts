// What the layers above need to know about a driver, as facts of the spec: planning is pure, so it
// asks here instead of branching on the driver's name. The one place (with src/spec) that does.
import { MkError } from '../errors.js';
import type { Cluster, PodmanDriverOptions } from '../spec/types.js';
import { REDUCED_CAPABILITIES } from './docker/container-spec.js';
import type { NetworkRequest, ObservedNode } from './types.js';

export interface DriverCapabilities {
  /** The network the driver makes for the cluster (what to ask for, and the name it gets); undefined: nodes bring their own (ssh hosts). */
  network?: { request: NetworkRequest; name: string };
  /** The image nodes start from ('' where nodes are hosts). */
  nodeImage: string;
  /** Whether nodes run privileged (hosts always are). */
  privileged: boolean;
  /** Linux capabilities nodes go without (every other one is asked of the engine that starts them). */
  droppedCapabilities: readonly string[];
  /** Nodes are machines that outlive the cluster (ssh hosts): deleting the cluster resets each with kubeadm. */
  nodesOutliveCluster: boolean;
  /** The node network is mk's own, so a LoadBalancer address pool can be carved from it (addressPool: auto). */
  autoAddressPool: boolean;
  /** Nodes are containers on this host: the kubelet gets a cgroup root and a resolv.conf made from the host's upstream resolvers. */
  containerNodes: boolean;
  /**
   * mk runs its own load balancer in front of the control planes when there are more than one (a
   * container of the node image running haproxy); false: the user names the endpoint (ssh).
   */
  loadBalancer: boolean;
  /** How this machine reaches a control plane's API server: its published 127.0.0.1 port (containers, VMs) or the host's address. */
  apiServerUrl(node: ObservedNode): string;
  /** Creation settings beyond the image that only a new node takes (a VM's cpus, memory and disk): part of the node's config hash. */
  nodeSettings?: string;
  /**
   * How many times kubeadm's and mk's bootstrap waits are stretched: 1, or 3 for VMs that may run
   * under software emulation (qemu unless accel: kvm), where every component is several times slower.
   */
  patience: number;
}

export function capabilitiesOf(cluster: Cluster): DriverCapabilities {
  const driver = cluster.spec.driver;
  switch (driver.name) {
    case 'docker':
      return containerEngine(cluster.metadata.name, driver.docker);
    case 'podman':
      return containerEngine(cluster.metadata.name, driver.podman);
    case 'ssh':
      return {
        nodeImage: '',
        privileged: true,
        droppedCapabilities: [],
        nodesOutliveCluster: true,
        autoAddressPool: false,
        containerNodes: false,
        loadBalancer: false,
        apiServerUrl: (node) => {
          if (!node.address) throw new MkError(`control plane ${node.name} has no address`);
          return `https://${node.address.includes(':') ? `[${node.address}]` : node.address}:6443`;
        },
        patience: 1,
      };
    case 'qemu': {
      const q = driver.qemu;
      return {
        network: { request: { cluster: cluster.metadata.name, ...(q.subnet ? { subnet: q.subnet } : {}) }, name: `mk-${cluster.metadata.name}` },
        nodeImage: q.image,
        privileged: true,
        droppedCapabilities: [],
        nodesOutliveCluster: false,
        // The VMs' network is not on this machine: addresses carved from it would not answer here.
        autoAddressPool: false,
        containerNodes: false,
        loadBalancer: false,
        apiServerUrl: publishedPort,
        nodeSettings: `cpus=${q.cpus} memory=${q.memory}MiB disk=${q.disk}GiB`,
        patience: q.accel === 'kvm' ? 1 : 3,
      };
    }
  }
}

function publishedPort(node: ObservedNode): string {
  if (!node.apiServerPort) throw new MkError(`control plane ${node.name} publishes no API server port`);
  return `https://127.0.0.1:${node.apiServerPort}`;
}

/** Nodes are containers of an engine with the Docker API (docker, podman): the same facts. */
function containerEngine(cluster: string, o: PodmanDriverOptions): DriverCapabilities {
  return {
    network: {
      request: { cluster, ...(o.network ? { name: o.network } : {}), ...(o.subnet ? { subnet: o.subnet } : {}) },
      name: o.network ?? `mk-${cluster}`,
    },
    nodeImage: o.image,
    privileged: o.privileged,
    droppedCapabilities: o.privileged ? [] : REDUCED_CAPABILITIES.CapDrop.map((c) => `CAP_${c}`),
    nodesOutliveCluster: false,
    autoAddressPool: true,
    containerNodes: true,
    loadBalancer: true,
    apiServerUrl: publishedPort,
    patience: 1,
  };
}
