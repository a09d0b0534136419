// Where the qemu driver keeps a cluster's machines: one folder per cluster under
// $MK_HOME/machines/qemu (outside the cluster's state folder, which `mk delete` forgets: a VM is
// found here as long as it exists). Per cluster: cluster.json (its network) and mk's client key;
// per node: node.json (what it was made with: mk's ownership record, as labels are for containers),
// its host key (mk made it, so mk pins it), the disk overlay, qemu's pidfile, QMP socket and console.
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Role } from '../../spec/types.js';

export interface ClusterRecord {
  cluster: string;
  /** The network between the VMs: a /24 of static addresses. */
  subnet: string;
  /** The multicast group and port qemu's socket network uses for it (host-local: localaddr 127.0.0.1). */
  mcast: string;
  createdBy: string;
}

export interface NodeRecord {
  cluster: string;
  name: string;
  pool: string;
  ordinal: number;
  role: Role;
  configHash: string;
  /** The VM image folder it was made from, and that image's id (manifest). */
  image: string;
  imageId: string;
  /** Address and MAC on the cluster network. */
  address: string;
  mac: string;
  /** 127.0.0.1 ports forwarded to the guest's sshd and (control planes) API server. */
  sshPort: number;
  apiServerPort?: number;
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
  createdBy: string;
  createdAt: string;
}

/** The qemu driver's folder under mk's state directory. */
export function machinesLayout(home: string): Layout {
  return new Layout(join(home, 'machines', 'qemu'));
}

/** Clusters that have VMs, or a VM network, under mk's state directory `home` (no ssh library loaded). */
export function qemuClusters(home: string): Promise<string[]> {
  return machinesLayout(home).ownedClusters();
}

export class Layout {
  constructor(readonly root: string) {}

  clusterDir(cluster: string): string {
    return join(this.root, cluster);
  }
  clusterFile(cluster: string): string {
    return join(this.clusterDir(cluster), 'cluster.json');
  }
  clientKey(cluster: string): string {
    return join(this.clusterDir(cluster), 'id_ed25519');
  }
  nodeDir(cluster: string, node: string): string {
    return join(this.clusterDir(cluster), 'nodes', node);
  }
  nodeFile(cluster: string, node: string, file: NodeFile): string {
    return join(this.nodeDir(cluster, node), file);
  }

  async readCluster(cluster: string): Promise<ClusterRecord | undefined> {
    return readJson<ClusterRecord>(this.clusterFile(cluster));
  }

  async writeCluster(r: ClusterRecord): Promise<void> {
    await writeJson(this.clusterFile(r.cluster), r);
  }

  /** Every cluster with a folder here. */
  async clusters(): Promise<string[]> {
    return (await readdir(this.root, { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory()).map((d) => d.name);
  }

  /** Clusters with a network record or a node record, sorted. */
  async ownedClusters(): Promise<string[]> {
    const out: string[] = [];
    for (const c of await this.clusters()) {
      if ((await this.readCluster(c)) || (await this.nodes(c)).records.length > 0) out.push(c);
    }
    return out.sort();
  }

  /** The node records of a cluster; a folder without one (a creation cut short) is listed by name in `partial`. */
  async nodes(cluster: string): Promise<{ records: NodeRecord[]; partial: string[] }> {
    const dirs = (await readdir(join(this.clusterDir(cluster), 'nodes'), { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory());
    const records: NodeRecord[] = [];
    const partial: string[] = [];
    for (const d of dirs) {
      const r = await readJson<NodeRecord>(this.nodeFile(cluster, d.name, 'node.json'));
      if (r && r.cluster === cluster && r.name === d.name) records.push(r);
      else partial.push(d.name);
    }
    return { records, partial };
  }

  async readNode(cluster: string, node: string): Promise<NodeRecord | undefined> {
    const r = await readJson<NodeRecord>(this.nodeFile(cluster, node, 'node.json'));
    return r && r.cluster === cluster && r.name === node ? r : undefined;
  }

  async writeNode(r: NodeRecord): Promise<void> {
    await writeJson(this.nodeFile(r.cluster, r.name, 'node.json'), r);
  }

  async removeNode(cluster: string, node: string): Promise<void> {
    await rm(this.nodeDir(cluster, node), { recursive: true, force: true });
  }

  async removeCluster(cluster: string): Promise<void> {
    await rm(this.clusterDir(cluster), { recursive: true, force: true });
  }
}

export type NodeFile = 'node.json' | 'disk.qcow2' | 'qemu.pid' | 'qmp.sock' | 'console.log' | 'host_ed25519' | 'authorized_keys';

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** Atomic (temp + rename), 0600 in 0700 folders: records name ports and keys' places. */
async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}
