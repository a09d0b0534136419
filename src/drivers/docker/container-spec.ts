// The pure mapping from a node create request to Docker's container and volume create options.
// Every setting a node container needs to run systemd (and later kubelet) lives here.
import type Dockerode from 'dockerode';
import type { LoadBalancerRequest, NodeCreateRequest } from '../types.js';
import { LABELS, ownedLabels } from '../labels.js';
import { LB_COMMAND, lbName } from '../load-balancer.js';

export const API_SERVER_PORT = '6443/tcp';
export const NODE_STOP_SIGNAL = 'SIGRTMIN+3';

/**
 * The capability set that runs systemd and the kubelet where --privileged cannot: everything but
 * SYS_RESOURCE, seccomp and AppArmor unconfined, /proc and /sys paths unmasked (the kubelet and
 * kube-proxy write sysctls), and every device allowed in the node's device cgroup (pods get devices).
 */
export const REDUCED_CAPABILITIES = {
  CapAdd: ['ALL'],
  CapDrop: ['SYS_RESOURCE'],
  SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
  DeviceCgroupRules: ['a *:* rwm'],
} as const;

/** HostConfig fields of API 1.41 that @types/dockerode does not declare. */
type HostConfig = Dockerode.HostConfig & { CgroupnsMode?: 'private' | 'host'; Init?: boolean; MaskedPaths?: string[]; ReadonlyPaths?: string[] };

export interface NodeContainerInput {
  request: NodeCreateRequest;
  /** Docker network name the node joins. */
  network: string;
  /** Static IPv4 address on that network. */
  ipv4Address?: string;
  privileged: boolean;
  /** Bind-mount the daemon host's /lib/modules read-only (kube-proxy and CNIs load modules). */
  mountLibModules: boolean;
  /** Pass /dev/kmsg through (kubelet's OOM watcher reads it). */
  kmsgDevice: boolean;
  /** Value of the created-by label (mk version). */
  createdBy: string;
}

/** The node's /var volume. */
export function varVolumeName(nodeName: string): string {
  return `${nodeName}-var`;
}

export function nodeLabels(request: NodeCreateRequest, createdBy: string, ipv4Address?: string): Record<string, string> {
  const { node } = request;
  return ownedLabels(node.cluster, 'node', {
    [LABELS.node]: node.name,
    [LABELS.pool]: node.pool,
    [LABELS.role]: node.role,
    [LABELS.ordinal]: String(node.ordinal),
    [LABELS.configHash]: request.configHash,
    ...(ipv4Address ? { [LABELS.address]: ipv4Address } : {}),
    [LABELS.createdBy]: createdBy,
  });
}

export function varVolumeOptions(request: NodeCreateRequest, createdBy: string): Dockerode.VolumeCreateOptions {
  const { node } = request;
  return {
    Name: varVolumeName(node.name),
    Labels: ownedLabels(node.cluster, 'volume', { [LABELS.node]: node.name, [LABELS.createdBy]: createdBy }),
  };
}

export function nodeContainerOptions(input: NodeContainerInput): Dockerode.ContainerCreateOptions {
  const { request, network } = input;
  const { node } = request;
  // Control planes publish the API server on 127.0.0.1: the requested port, or any free one.
  const publishApi = node.role === 'control-plane';

  const mounts: Dockerode.MountConfig = [{ Type: 'volume', Source: varVolumeName(node.name), Target: '/var', ReadOnly: false }];
  if (input.mountLibModules) mounts.push({ Type: 'bind', Source: '/lib/modules', Target: '/lib/modules', ReadOnly: true });

  const security: Partial<HostConfig> = input.privileged
    ? { Privileged: true }
    : {
        Privileged: false,
        CapAdd: [...REDUCED_CAPABILITIES.CapAdd],
        CapDrop: [...REDUCED_CAPABILITIES.CapDrop],
        SecurityOpt: [...REDUCED_CAPABILITIES.SecurityOpt],
        DeviceCgroupRules: [...REDUCED_CAPABILITIES.DeviceCgroupRules],
        // The API form of --security-opt systempaths=unconfined: nothing masked, nothing read-only.
        MaskedPaths: [],
        ReadonlyPaths: [],
      };

  const hostConfig: HostConfig = {
    NetworkMode: network,
    Mounts: mounts,
    Tmpfs: { '/tmp': '', '/run': '', '/run/lock': '' },
    ...security,
    CgroupnsMode: 'private',
    // Pods' traffic is routed through the node.
    Sysctls: { 'net.ipv4.ip_forward': '1' },
    RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 1 },
    Init: false,
  };
  // Privileged containers see every host device already.
  if (input.kmsgDevice && !input.privileged) {
    hostConfig.Devices = [{ PathOnHost: '/dev/kmsg', PathInContainer: '/dev/kmsg', CgroupPermissions: 'rwm' }];
  }
  if (publishApi) {
    const port = request.apiServerPort ?? 0;
    hostConfig.PortBindings = { [API_SERVER_PORT]: [{ HostIp: '127.0.0.1', HostPort: port === 0 ? '' : String(port) }] };
  }

  const endpoint: Dockerode.EndpointSettings = input.ipv4Address ? { IPAMConfig: { IPv4Address: input.ipv4Address } } : {};
  return {
    name: node.name,
    Hostname: node.name,
    Image: request.image,
    Labels: nodeLabels(request, input.createdBy, input.ipv4Address),
    Env: ['container=docker'],
    StopSignal: NODE_STOP_SIGNAL,
    Tty: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(publishApi ? { ExposedPorts: { [API_SERVER_PORT]: {} } } : {}),
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: { [network]: endpoint } },
  };
}

/**
 * mk's load balancer: haproxy from the node image as process 1, a static address on the cluster
 * network, the API published on 127.0.0.1. No capabilities beyond Docker's defaults; the engine
 * starts it again after a restart of its own.
 */
export function lbContainerOptions(req: LoadBalancerRequest, network: string, ipv4Address: string, createdBy: string): Dockerode.ContainerCreateOptions {
  const name = lbName(req.cluster);
  return {
    name,
    Hostname: name,
    Image: req.image,
    Labels: ownedLabels(req.cluster, 'load-balancer', { [LABELS.address]: ipv4Address, [LABELS.createdBy]: createdBy }),
    Entrypoint: [...LB_COMMAND],
    Cmd: [],
    ExposedPorts: { [API_SERVER_PORT]: {} },
    HostConfig: {
      NetworkMode: network,
      PortBindings: { [API_SERVER_PORT]: [{ HostIp: '127.0.0.1', HostPort: req.apiServerPort === 0 ? '' : String(req.apiServerPort) }] },
      RestartPolicy: { Name: 'unless-stopped' },
    },
    NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: ipv4Address } } } },
  };
}
