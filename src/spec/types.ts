// The cluster spec as mk uses it after loading, validation and defaulting.
// schema/cluster.v1alpha1.json is the single source of field names; keep the two in step.

export const API_VERSION = 'mk.dev/v1alpha1';
export const KIND = 'Cluster';

export type Role = 'control-plane' | 'worker';
export type Cri = 'containerd' | 'cri-o' | 'docker';
export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
}

/** One host of an ssh pool. */
export interface HostSpec {
  address: string;
  port?: number;
  user?: string;
  /** Node name; defaults to <cluster>-<pool>-<n>. */
  name?: string;
  labels?: Record<string, string>;
  taints?: Taint[];
}

/** A pool of identical nodes. Docker pools have a count; ssh pools list hosts. */
export interface NodePool {
  name: string;
  role: Role;
  count: number;
  hosts?: HostSpec[];
  labels: Record<string, string>;
  taints: Taint[];
}

export interface DockerDriverOptions {
  /** Node image reference; defaulted from the Kubernetes version and CRI. */
  image: string;
  /** Real clusters need privileged nodes; false uses the reduced capability set. */
  privileged: boolean;
  /** Docker network name; default mk-<cluster>. */
  network?: string;
  /** IPv4 subnet (CIDR) for the cluster network; default: a free /24 picked by the driver. */
  subnet?: string;
  /** Docker endpoint (unix:///..., tcp://..., ssh://...); default DOCKER_HOST, then the current context. */
  host?: string;
  /** Docker context name; default DOCKER_CONTEXT, then the CLI's current context. */
  context?: string;
}

/** The podman driver's options: the docker driver's, without Docker contexts (host: podman's socket). */
export type PodmanDriverOptions = Omit<DockerDriverOptions, 'context'>;

/** The qemu driver's options: nodes are VMs of the VM node image (npm run vm-image). */
export interface QemuDriverOptions {
  /** Folder of the VM node image; defaulted from the Kubernetes version ($MK_VM_CACHE or ~/.cache/mk/vm). */
  image: string;
  cpus: number;
  /** MiB per VM. */
  memory: number;
  /** GiB per VM: the disk overlay's size (the guest grows its root file system to it). */
  disk: number;
  /** auto: KVM when a guest really boots under it (tried once per machine), else software emulation. */
  accel: 'auto' | 'kvm' | 'tcg';
  /** IPv4 /24 between the VMs; default: a free one of 10.213.0.0/16. */
  subnet?: string;
}

export interface SshDriverOptions {
  user?: string;
  port?: number;
  identityFile?: string;
  useAgent?: boolean;
  knownHostsFile?: string;
  /** Pinned host-key fingerprints, host -> SHA256:... */
  hostKeys?: Record<string, string>;
  trustOnFirstUse?: boolean;
  sudo?: boolean;
  bastion?: { host: string; port?: number; user?: string };
  /** Hosts worked on at once; default 10. */
  parallel?: number;
  /** Seconds; defaults: connect 15, command 900, idle 60, keepaliveInterval 5, keepaliveCountMax 3. */
  timeouts?: { connect?: number; command?: number; idle?: number; keepaliveInterval?: number; keepaliveCountMax?: number };
}

export type DriverSpec =
  | { name: 'docker'; docker: DockerDriverOptions }
  | { name: 'podman'; podman: PodmanDriverOptions }
  | { name: 'ssh'; ssh: SshDriverOptions }
  | { name: 'qemu'; qemu: QemuDriverOptions };

export interface NetworkingSpec {
  podSubnet: string;
  serviceSubnet: string;
  /** 0 = a free port on 127.0.0.1. */
  apiServerPort: number;
  /** auto | none | a manifest path relative to the spec file. */
  cni: string;
  /** ssh driver: the address of the user's VIP or load balancer in front of the control planes (port 6443). */
  controlPlaneEndpoint?: string;
}

export interface LoadBalancerSpec {
  enabled: boolean;
  /** 'auto' or explicit ranges ("172.30.0.200-172.30.0.250" or CIDRs). */
  addressPool: 'auto' | string[];
}

export interface AddonSpec {
  name: string;
  enabled: boolean;
  /** Free-form per-addon options, validated per addon by the catalog. */
  options: Record<string, unknown>;
  /** User manifests: a path relative to the spec file, or a URL with sha256. */
  manifests?: string;
  sha256?: string;
  /** Take over fields and objects another field manager (or the user) owns. Default false. */
  force?: boolean;
  /** Catalog addons: image references in place of the catalog's, by the entry's image key; absent when none are given. */
  images?: Record<string, string>;
}

export interface ClusterSpecBody {
  kubernetesVersion: string;
  /** kubeadm: bootstrap Kubernetes on the nodes; none: nodes only. */
  bootstrap: 'kubeadm' | 'none';
  driver: DriverSpec;
  cri: Cri;
  nodes: NodePool[];
  networking: NetworkingSpec;
  loadBalancer: LoadBalancerSpec;
  addons: AddonSpec[];
  /** Image references kept on every node (src/images/), as written; empty: mk looks at no node's images. */
  images: string[];
}

export interface Cluster {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: { name: string; labels?: Record<string, string> };
  spec: ClusterSpecBody;
}

/** A spec loaded from disk: the cluster plus where it came from. */
export interface LoadedCluster {
  /** Absolute path of the file, or '-' for stdin. */
  file: string;
  cluster: Cluster;
  /** Files the spec references (CNI manifest, addon manifests), for the watcher. */
  references: string[];
}

/** One node the spec asks for, after expanding pools. Pure data, derived by expandNodes(). */
export interface DesiredNode {
  /** <cluster>-<pool>-<n>, n from 1; also the hostname and the Kubernetes node name. */
  name: string;
  cluster: string;
  pool: string;
  /** 1-based index within the pool; removal takes the highest first. */
  ordinal: number;
  role: Role;
  labels: Record<string, string>;
  taints: Taint[];
  /** ssh driver only. */
  host?: HostSpec;
}
