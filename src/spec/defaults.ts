// Defaults: a schema-valid ClusterInput -> the normalized Cluster. Pure; validation is separate.
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AddonInput, ClusterInput, ContainerDriverInput, PoolInput } from './input.js';
import { API_VERSION, KIND } from './types.js';
import type { AddonSpec, Cluster, Cri, DriverSpec, NodePool } from './types.js';
import { normalizeKubernetesVersion } from './versions.js';

export const DEFAULT_KUBERNETES_VERSION = 'v1.36.3';
export const DEFAULT_CRI: Cri = 'containerd';
export const DEFAULT_POD_SUBNET = '10.244.0.0/16';
export const DEFAULT_SERVICE_SUBNET = '10.96.0.0/12';
/** The pool used when a spec lists no nodes. */
export const DEFAULT_POOLS: readonly PoolInput[] = [{ name: 'control-plane', role: 'control-plane', count: 1 }];

/**
 * minikube's node base image, pinned by digest: systemd with containerd, cri-o, dockerd and cri-dockerd,
 * but no Kubernetes binaries; mk installs kubeadm, kubelet and kubectl of the spec's version into it
 * (src/kubeadm/binaries.ts), as minikube does.
 */
export const KICBASE_IMAGE = 'gcr.io/k8s-minikube/kicbase:v0.0.47@sha256:6ed579c9292b4370177b7ef3c42cc4b4a6dcd0735a1814916cbc22c8bf38412b';

/**
 * The node image used when `driver.docker.image` is empty: for containerd kind's published node image
 * of the version (kubeadm, kubelet, containerd, CNI plugins and the control-plane images preloaded);
 * for cri-o and docker minikube's kicbase, which carries those runtimes.
 */
export function defaultNodeImage(kubernetesVersion: string, cri: Cri): string {
  return cri === 'containerd' ? `kindest/node:${kubernetesVersion}` : KICBASE_IMAGE;
}

/**
 * Where `npm run vm-image` writes the VM node image for a Kubernetes version: $MK_VM_CACHE, else
 * $XDG_CACHE_HOME/mk/vm, else ~/.cache/mk/vm, then node-v<version>.
 */
export function defaultVmImage(kubernetesVersion: string, env: NodeJS.ProcessEnv = process.env): string {
  const root = env.MK_VM_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mk', 'vm');
  return join(root, `node-v${kubernetesVersion.replace(/^v/, '')}`);
}

function pool(input: PoolInput): NodePool {
  return {
    name: input.name,
    role: input.role,
    count: input.hosts ? input.hosts.length : (input.count ?? 0),
    ...(input.hosts ? { hosts: input.hosts.map((h) => ({ ...h })) } : {}),
    labels: { ...input.labels },
    taints: (input.taints ?? []).map((t) => ({ ...t })),
  };
}

function driver(input: ClusterInput, version: string, cri: Cri): DriverSpec {
  const d = input.spec?.driver;
  if (d?.name === 'ssh') return { name: 'ssh', ssh: { ...d.ssh } };
  if (d?.name === 'qemu') {
    const q = d.qemu ?? {};
    return { name: 'qemu', qemu: { ...q, image: q.image ? q.image : defaultVmImage(version), cpus: q.cpus ?? 2, memory: q.memory ?? 2048, disk: q.disk ?? 20, accel: q.accel ?? 'auto' } };
  }
  const container = <T extends ContainerDriverInput>(o: T) => ({ ...o, image: o.image ? o.image : defaultNodeImage(version, cri), privileged: o.privileged ?? true });
  if (d?.name === 'podman') return { name: 'podman', podman: container(d.podman ?? {}) };
  return { name: 'docker', docker: container(d?.docker ?? {}) };
}

function addon(a: AddonInput): AddonSpec {
  return {
    name: a.name,
    enabled: a.enabled ?? true,
    options: { ...a.options },
    ...(a.manifests !== undefined ? { manifests: a.manifests } : {}),
    ...(a.sha256 !== undefined ? { sha256: a.sha256 } : {}),
    ...(a.force !== undefined ? { force: a.force } : {}),
    ...(a.images !== undefined ? { images: { ...a.images } } : {}),
  };
}

export function applyDefaults(input: ClusterInput): Cluster {
  const spec = input.spec ?? {};
  const version = normalizeKubernetesVersion(spec.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION);
  const cri = spec.cri ?? DEFAULT_CRI;
  const net = spec.networking ?? {};
  const lb = spec.loadBalancer ?? {};
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: input.metadata.name,
      ...(input.metadata.labels ? { labels: { ...input.metadata.labels } } : {}),
    },
    spec: {
      kubernetesVersion: version,
      bootstrap: spec.bootstrap ?? 'kubeadm',
      driver: driver(input, version, cri),
      cri,
      nodes: (spec.nodes ?? DEFAULT_POOLS).map(pool),
      networking: {
        podSubnet: net.podSubnet ?? DEFAULT_POD_SUBNET,
        serviceSubnet: net.serviceSubnet ?? DEFAULT_SERVICE_SUBNET,
        apiServerPort: net.apiServerPort ?? 0,
        cni: net.cni ?? 'auto',
        ...(net.controlPlaneEndpoint !== undefined ? { controlPlaneEndpoint: net.controlPlaneEndpoint } : {}),
      },
      loadBalancer: {
        enabled: lb.enabled ?? false,
        addressPool: Array.isArray(lb.addressPool) ? [...lb.addressPool] : 'auto',
      },
      addons: (spec.addons ?? []).map(addon),
      images: [...(spec.images ?? [])],
    },
  };
}
