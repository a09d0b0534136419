// Pure mapping from Docker list results to the driver port's Observed* types.
import type Dockerode from 'dockerode';
import type { NodeState, ObservedCluster, ObservedLoadBalancer, ObservedNetwork, ObservedNode } from '../types.js';
import type { Role } from '../../spec/types.js';
import { LABELS } from '../labels.js';
import { API_SERVER_PORT } from './container-spec.js';

const API_PORT_NUMBER = Number(API_SERVER_PORT.split('/')[0]);

export function nodeState(dockerState: string): NodeState {
  switch (dockerState) {
    case 'running':
      return 'running';
    case 'created':
      return 'created';
    case 'paused':
      return 'paused';
    case 'restarting':
      return 'restarting';
    case 'exited':
      return 'stopped';
    default:
      // 'dead', 'removing'
      return 'dead';
  }
}

export function observedNetwork(net: Dockerode.NetworkInspectInfo): ObservedNetwork {
  const config = net.IPAM?.Config?.find((c) => c.Subnet !== undefined && !c.Subnet.includes(':'));
  return {
    id: net.Id,
    name: net.Name,
    ...(config?.Subnet ? { subnet: config.Subnet } : {}),
    ...(config?.Gateway ? { gateway: config.Gateway } : {}),
  };
}

/**
 * The container's IPv4 address on `network` (or on its only network): current, configured, or the
 * one mk labelled it with at creation (podman reports neither IPAMConfig nor, once stopped, an address).
 */
export function containerAddress(c: Dockerode.ContainerInfo, network: string | undefined): string | undefined {
  const networks = c.NetworkSettings?.Networks ?? {};
  const entry = network !== undefined ? networks[network] : Object.values(networks)[0];
  const configured = (entry?.IPAMConfig as { IPv4Address?: string } | null | undefined)?.IPv4Address;
  return entry?.IPAddress || configured || c.Labels?.[LABELS.address] || undefined;
}

/** The 127.0.0.1 port the container publishes the API server port on. */
function apiPort(c: Dockerode.ContainerInfo): number | undefined {
  return c.Ports?.find((p) => p.PrivatePort === API_PORT_NUMBER && p.Type === 'tcp' && p.PublicPort > 0 && (p.IP === '127.0.0.1' || p.IP === '0.0.0.0' || p.IP === undefined))?.PublicPort;
}

export function observedLoadBalancer(c: Dockerode.ContainerInfo, network: string | undefined): ObservedLoadBalancer {
  const address = containerAddress(c, network);
  const port = apiPort(c);
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? '').replace(/^\//, ''),
    state: nodeState(c.State),
    ...(address ? { address } : {}),
    ...(port ? { apiServerPort: port } : {}),
    image: c.Image,
  };
}

export function observedNode(c: Dockerode.ContainerInfo, network: string | undefined): ObservedNode {
  const labels = c.Labels ?? {};
  const port = apiPort(c);
  const address = containerAddress(c, network);
  return {
    name: labels[LABELS.node] ?? (c.Names?.[0] ?? '').replace(/^\//, ''),
    pool: labels[LABELS.pool] ?? '',
    ordinal: Number(labels[LABELS.ordinal] ?? 0),
    role: (labels[LABELS.role] ?? 'worker') as Role,
    id: c.Id,
    state: nodeState(c.State),
    ...(address ? { address } : {}),
    ...(port ? { apiServerPort: port } : {}),
    image: c.Image,
    configHash: labels[LABELS.configHash] ?? '',
    // "Exited (255) 3 seconds ago": how a node that is not running ended.
    ...(c.State !== 'running' && c.Status ? { detail: c.Status } : {}),
  };
}

export interface ClusterListing {
  containers: Dockerode.ContainerInfo[];
  networks: Dockerode.NetworkInspectInfo[];
  volumes: Dockerode.VolumeInspectInfo[];
}

/** Assemble what mk owns for one cluster (listings already filtered by the cluster label). */
export function observedCluster(name: string, listing: ClusterListing): ObservedCluster {
  const net = listing.networks.find((n) => n.Labels?.[LABELS.component] === 'network');
  const network = net ? observedNetwork(net) : undefined;
  const nodes = listing.containers
    .filter((c) => c.Labels?.[LABELS.component] === 'node')
    .map((c) => observedNode(c, network?.name))
    .sort((a, b) => a.name.localeCompare(b.name));
  const lb = listing.containers.find((c) => c.Labels?.[LABELS.component] === 'load-balancer');
  const mounted = new Set(listing.containers.flatMap((c) => (c.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name as string)));
  const orphans = listing.volumes.filter((v) => v.Labels?.[LABELS.component] === 'volume' && !mounted.has(v.Name));
  const orphanVolumes = orphans.map((v) => v.Name).sort();
  const owners: Record<string, string> = {};
  for (const v of orphans) {
    const node = v.Labels?.[LABELS.node];
    if (node) owners[v.Name] = node;
  }
  return { name, ...(network ? { network } : {}), nodes, ...(lb ? { loadBalancer: observedLoadBalancer(lb, network?.name) } : {}), orphanVolumes, ...(Object.keys(owners).length ? { orphanVolumeNodes: owners } : {}) };
}
