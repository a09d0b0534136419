// cluster.yaml text for tests that run the mk CLI: a spec as a user writes it (only the fields given,
// mk's defaults for the rest), built from plain values so each test states what differs.
import yaml from 'js-yaml';
import { API_VERSION, KIND } from '../../src/spec/types.js';

export interface HostSpec {
  address: string;
  labels?: Record<string, string>;
}

export interface PoolSpec {
  name: string;
  role: 'control-plane' | 'worker';
  /** Docker nodes. */
  count?: number;
  /** One node per machine (ssh). */
  hosts?: HostSpec[];
}

export type DriverSpec =
  | { name: 'docker'; docker: { image: string; privileged?: boolean } }
  | { name: 'podman'; podman: { image: string; privileged?: boolean } }
  | { name: 'ssh'; ssh: { user?: string; sudo?: boolean; identityFile?: string; knownHostsFile?: string; timeouts?: Record<string, number> } }
  | { name: 'qemu'; qemu: { image?: string; cpus?: number; memory?: number; disk?: number; accel?: 'auto' | 'kvm' | 'tcg' } };

export interface ClusterSpec {
  name: string;
  kubernetesVersion?: string;
  /** Left out: mk's default (kubeadm). */
  bootstrap?: 'kubeadm' | 'none';
  driver: DriverSpec;
  nodes: PoolSpec[];
  networking?: { podSubnet?: string; serviceSubnet?: string; apiServerPort?: number; cni?: string };
  loadBalancer?: { enabled: boolean; addressPool?: string | string[] };
  addons?: Array<{ name: string; enabled?: boolean; options?: Record<string, unknown>; images?: Record<string, string> }>;
  images?: string[];
}

/** The cluster.yaml for `c` (fields left undefined are not written). */
export function clusterYaml({ name, ...spec }: ClusterSpec): string {
  return yaml.dump({ apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec });
}

/** Docker nodes from `image`, unprivileged (what the test images need). */
export const dockerDriver = (image: string): DriverSpec => ({ name: 'docker', docker: { image, privileged: false } });

/** Nodes from `image` on podman's API service, unprivileged (the image must be in podman's store). */
export const podmanDriver = (image: string): DriverSpec => ({ name: 'podman', podman: { image, privileged: false } });

/**
 * VMs of the VM node image (npm run vm-image), under software emulation: this project's machines have
 * a /dev/kvm whose guests hang at boot (PVM, ../shared/docs/ENVIRONMENT.md), so tests never try KVM.
 */
export const qemuDriver = (image: string, more: { cpus?: number; memory?: number } = {}): DriverSpec => ({ name: 'qemu', qemu: { image, accel: 'tcg', ...more } });

/** The machines' user "mk" with passwordless sudo, as the test hosts have it. */
export const sshDriver = (ssh: { identityFile: string; knownHostsFile: string; timeouts?: Record<string, number> }): DriverSpec => ({ name: 'ssh', ssh: { user: 'mk', sudo: true, ...ssh } });

const pool = (name: string, role: PoolSpec['role'], nodes: number | Array<string | HostSpec>): PoolSpec =>
  typeof nodes === 'number' ? { name, role, count: nodes } : { name, role, hosts: nodes.map((h) => (typeof h === 'string' ? { address: h } : h)) };

/** Pool "cp": `count` Docker nodes, or one node per host address. */
export const controlPlanes = (nodes: number | Array<string | HostSpec>): PoolSpec => pool('cp', 'control-plane', nodes);

/** Pool "w": `count` Docker nodes, or one node per host address. */
export const workers = (nodes: number | Array<string | HostSpec>): PoolSpec => pool('w', 'worker', nodes);

/** YAML lines of a "billion laughs" mapping at `indent`: 10 levels of 9 aliases each, 9^10 values once expanded. */
export function billionLaughs(indent: number): string {
  const pad = ' '.repeat(indent);
  const lines = [`${pad}a0: &a0 [${Array(9).fill('lol').join(', ')}]`];
  for (let i = 1; i < 10; i++) lines.push(`${pad}a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  return lines.join('\n') + '\n';
}
