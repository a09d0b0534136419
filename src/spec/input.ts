// The cluster spec as users write it (schema/cluster.v1alpha1.json): every field with a default is
// optional. defaults.ts turns a schema-valid input into the normalized Cluster of types.ts.
import type { Cri, HostSpec, QemuDriverOptions, Role, SshDriverOptions, Taint } from './types.js';

export interface PoolInput {
  name: string;
  role: Role;
  count?: number;
  hosts?: HostSpec[];
  labels?: Record<string, string>;
  taints?: Taint[];
}

export interface ContainerDriverInput {
  image?: string;
  privileged?: boolean;
  network?: string;
  subnet?: string;
  host?: string;
}

export interface DriverInput {
  name?: 'docker' | 'podman' | 'ssh' | 'qemu';
  docker?: ContainerDriverInput & { context?: string };
  podman?: ContainerDriverInput;
  ssh?: SshDriverOptions;
  qemu?: Partial<QemuDriverOptions>;
}

export interface AddonInput {
  name: string;
  enabled?: boolean;
  options?: Record<string, unknown>;
  manifests?: string;
  sha256?: string;
  force?: boolean;
  images?: Record<string, string>;
}

export interface ClusterInput {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: {
    kubernetesVersion?: string;
    bootstrap?: 'kubeadm' | 'none';
    driver?: DriverInput;
    cri?: Cri;
    nodes?: PoolInput[];
    networking?: {
      podSubnet?: string;
      serviceSubnet?: string;
      apiServerPort?: number;
      cni?: string;
      controlPlaneEndpoint?: string;
    };
    loadBalancer?: { enabled?: boolean; addressPool?: 'auto' | string[] };
    addons?: AddonInput[];
    images?: string[];
  };
}
