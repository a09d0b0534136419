// kubeadm configuration as a pure function of the spec and the observed node facts.
// The kubeadm API version follows the Kubernetes version (v1beta4 from 1.31, v1beta3 before);
// v1beta4 writes extraArgs as name/value lists, v1beta3 as maps. Output is deterministic
// (argument lists sorted) so golden files can pin it. Tokens and certificate keys are inputs of
// the join config only, which is written to the node with mode 0600 and never logged.
import yaml from 'js-yaml';
import type { Cluster, Cri, Role, Taint } from '../spec/types.js';
import { kubernetesMinor } from '../spec/versions.js';
import { capabilitiesOf } from '../drivers/capabilities.js';
import { BootstrapError } from './errors.js';

export type KubeadmApiVersion = 'kubeadm.k8s.io/v1beta3' | 'kubeadm.k8s.io/v1beta4';

export const CRI_SOCKETS: Record<Cri, string> = {
  containerd: 'unix:///run/containerd/containerd.sock',
  'cri-o': 'unix:///var/run/crio/crio.sock',
  docker: 'unix:///var/run/cri-dockerd.sock',
};

/** The in-cluster name of the API endpoint; every node resolves it (e.g. /etc/hosts) to a control plane. */
export function controlPlaneEndpointName(cluster: string): string {
  return `${cluster}-api.mk.internal`;
}

export function minorVersion(kubernetesVersion: string): number {
  const minor = kubernetesMinor(kubernetesVersion);
  if (minor === undefined) throw new BootstrapError(`spec.kubernetesVersion ${JSON.stringify(kubernetesVersion)} is not a Kubernetes version: write it like v1.36.3`);
  return minor;
}

export function kubeadmApiVersion(kubernetesVersion: string): KubeadmApiVersion {
  return minorVersion(kubernetesVersion) >= 31 ? 'kubeadm.k8s.io/v1beta4' : 'kubeadm.k8s.io/v1beta3';
}

/** What mk knows about one node when it renders its config. */
export interface NodeFacts {
  name: string;
  role: Role;
  /** Address on the cluster network. */
  address: string;
  labels: Record<string, string>;
  taints: Taint[];
}

export interface KubeletSettings {
  /** Must match the runtime's cgroup driver. */
  cgroupDriver: 'cgroupfs' | 'systemd';
  /** Nodes in containers: a cgroup root of their own. */
  cgroupRoot?: string;
  /** A resolv.conf without loopback nameservers (Docker's 127.0.0.11 loops CoreDNS). */
  resolvConf?: string;
}

export interface InitInput {
  cluster: Cluster;
  node: NodeFacts;
  kubelet: KubeletSettings;
  /** Extra API server certificate SANs (e.g. a published host name). */
  extraSANs?: string[];
}

export interface JoinInput extends Omit<InitInput, 'kubelet'> {
  /** host:port of the API endpoint the joining node uses for discovery. */
  apiServerEndpoint: string;
  token: string;
  /** sha256:<hex> of the cluster CA's public key. */
  caCertHash: string;
  /** Control planes only: the key that decrypts the certificates uploaded by `kubeadm init phase upload-certs`. */
  certificateKey?: string;
}

type Args = Record<string, string>;

function args(api: KubeadmApiVersion, map: Args): Array<{ name: string; value: string }> | Args {
  const keys = Object.keys(map).sort();
  if (api === 'kubeadm.k8s.io/v1beta3') return Object.fromEntries(keys.map((k) => [k, map[k]!]));
  return keys.map((name) => ({ name, value: map[name]! }));
}

function nodeLabels(cluster: Cluster, node: NodeFacts): string {
  const labels: Args = { ...node.labels, 'mk.dev/cluster': cluster.metadata.name };
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

function nodeRegistration(api: KubeadmApiVersion, cluster: Cluster, node: NodeFacts) {
  const taints = [...node.taints];
  if (node.role === 'control-plane' && !taints.some((t) => t.key === 'node-role.kubernetes.io/control-plane')) {
    // A cluster of control planes only keeps them schedulable, as kind and minikube do.
    const hasWorkers = cluster.spec.nodes.some((p) => p.role === 'worker' && (p.hosts?.length ?? p.count) > 0);
    if (hasWorkers) taints.push({ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' });
  }
  return {
    name: node.name,
    criSocket: CRI_SOCKETS[cluster.spec.cri],
    imagePullPolicy: 'IfNotPresent',
    kubeletExtraArgs: args(api, { 'node-ip': node.address, 'node-labels': nodeLabels(cluster, node) }),
    taints: taints.map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect })),
  };
}

function sans(input: InitInput): string[] {
  const name = input.cluster.metadata.name;
  const endpoint = input.cluster.spec.networking.controlPlaneEndpoint;
  const all = ['localhost', '127.0.0.1', input.node.address, controlPlaneEndpointName(name), ...(endpoint ? [endpoint] : []), ...(input.extraSANs ?? [])];
  return [...new Set(all)];
}

function clusterConfiguration(api: KubeadmApiVersion, input: InitInput) {
  const { cluster } = input;
  const n = cluster.spec.networking;
  return {
    apiVersion: api,
    kind: 'ClusterConfiguration',
    clusterName: cluster.metadata.name,
    kubernetesVersion: cluster.spec.kubernetesVersion,
    controlPlaneEndpoint: `${controlPlaneEndpointName(cluster.metadata.name)}:6443`,
    networking: { podSubnet: n.podSubnet, serviceSubnet: n.serviceSubnet, dnsDomain: 'cluster.local' },
    apiServer: { certSANs: sans(input) },
    controllerManager: { extraArgs: args(api, { 'bind-address': '0.0.0.0' }) },
    scheduler: { extraArgs: args(api, { 'bind-address': '0.0.0.0' }) },
  };
}

function kubeletConfiguration(input: InitInput) {
  const minor = minorVersion(input.cluster.spec.kubernetesVersion);
  const k = input.kubelet;
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: k.cgroupDriver,
    ...(k.cgroupRoot ? { cgroupRoot: k.cgroupRoot } : {}),
    // From 1.35 the kubelet refuses cgroup v1 unless told otherwise; mk's hosts may still run it.
    ...(minor >= 35 ? { failCgroupV1: false } : {}),
    failSwapOn: false,
    ...(k.resolvConf ? { resolvConf: k.resolvConf } : {}),
    // The node's disk is the host's disk: never evict pods or images because the host is full.
    imageGCHighThresholdPercent: 100,
    evictionHard: { 'imagefs.available': '0%', 'nodefs.available': '0%', 'nodefs.inodesFree': '0%' },
  };
}

const kubeProxyConfiguration = {
  apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
  kind: 'KubeProxyConfiguration',
  mode: 'iptables',
  // Skips the host-global nf_conntrack_max sysctl, which a node in a container may not set.
  conntrack: { maxPerCore: 0 },
};

// kubeadm's own defaults (v1beta4 Timeouts), in minutes.
const KUBEADM_TIMEOUT_MINUTES = { controlPlaneComponentHealthCheck: 4, kubeletHealthCheck: 4, kubernetesAPICall: 1, etcdAPICall: 2, tlsBootstrap: 5, discovery: 5 };

/**
 * kubeadm's timeouts stretched by the driver's patience (emulated VMs), v1beta4 only; nothing (its
 * defaults) otherwise. Discovery and TLS bootstrap stay within the 15 min life of mk's join token.
 */
function timeouts(api: KubeadmApiVersion, cluster: Cluster): { timeouts?: Record<string, string> } {
  const patience = capabilitiesOf(cluster).patience;
  if (patience <= 1 || api !== 'kubeadm.k8s.io/v1beta4') return {};
  const stretched = Object.entries(KUBEADM_TIMEOUT_MINUTES).map(([k, m]) => [k, `${Math.min(m * patience, 14)}m0s`]);
  return { timeouts: Object.fromEntries(stretched) };
}

function dump(docs: object[]): string {
  return docs.map((d) => yaml.dump(d, { lineWidth: -1, noRefs: true, quotingType: '"' })).join('---\n');
}

/** Config for `kubeadm init` on the first control plane. kubeadm mints its own first token; mk deletes it. */
export function renderInitConfig(input: InitInput): string {
  const api = kubeadmApiVersion(input.cluster.spec.kubernetesVersion);
  const init = {
    apiVersion: api,
    kind: 'InitConfiguration',
    localAPIEndpoint: { advertiseAddress: input.node.address, bindPort: 6443 },
    nodeRegistration: nodeRegistration(api, input.cluster, input.node),
    skipPhases: ['preflight'],
    ...timeouts(api, input.cluster),
  };
  return dump([init, clusterConfiguration(api, input), kubeletConfiguration(input), kubeProxyConfiguration]);
}

/** Config for `kubeadm join` (workers, and control planes with a certificate key). Holds secrets: write it 0600. */
export function renderJoinConfig(input: JoinInput): string {
  const api = kubeadmApiVersion(input.cluster.spec.kubernetesVersion);
  const join = {
    apiVersion: api,
    kind: 'JoinConfiguration',
    discovery: { bootstrapToken: { apiServerEndpoint: input.apiServerEndpoint, token: input.token, caCertHashes: [input.caCertHash] } },
    nodeRegistration: nodeRegistration(api, input.cluster, input.node),
    ...(input.node.role === 'control-plane'
      ? { controlPlane: { localAPIEndpoint: { advertiseAddress: input.node.address, bindPort: 6443 }, ...(input.certificateKey ? { certificateKey: input.certificateKey } : {}) } }
      : {}),
    skipPhases: ['preflight'],
    ...timeouts(api, input.cluster),
  };
  // The kubelet configuration of a joining node comes from the cluster (kubeadm's kubelet-config ConfigMap).
  return dump([join]);
}
