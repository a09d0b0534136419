// The local host inventory: $MK_HOME/clusters/<cluster>/ssh-hosts.json remembers every host mk
// prepared for a cluster, so a host removed from the spec is still found (and cleaned) later, and
// `mk status` lists ssh clusters without a spec. A file mk cannot read or understand is refused
// (InventoryError naming it), never taken as empty. Loads no ssh library.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { Role } from '../../spec/types.js';
import { clusterStateDir, writePrivateFile } from '../../state.js';
import { InventoryError } from '../errors.js';

export const INVENTORY_FILE = 'ssh-hosts.json';

export interface InventoryEntry {
  address: string;
  port?: number;
  user?: string;
  pool: string;
  ordinal: number;
  role: Role;
  configHash: string;
}

/** Node name -> its host. */
export type InventoryNodes = Record<string, InventoryEntry>;

export function inventoryPath(cluster: string, home: string): string {
  return join(clusterStateDir(cluster, home), INVENTORY_FILE);
}

/** The file's nodes; throws InventoryError (naming `path`) when the text is not an inventory. */
export function parseInventory(text: string, path: string): InventoryNodes {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InventoryError(path, `not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const nodes = (doc as { nodes?: unknown } | null)?.nodes;
  if (!isRecord(nodes)) throw new InventoryError(path, 'no "nodes" object');
  for (const [name, e] of Object.entries(nodes)) {
    const problem = entryProblem(e);
    if (problem) throw new InventoryError(path, `node "${name}": ${problem}`);
  }
  return nodes as InventoryNodes;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function entryProblem(e: unknown): string | undefined {
  if (!isRecord(e)) return 'not an object';
  if (typeof e.address !== 'string' || e.address === '') return 'no "address"';
  if (e.port !== undefined && !Number.isInteger(e.port)) return '"port" is not a number';
  if (e.user !== undefined && typeof e.user !== 'string') return '"user" is not a string';
  if (typeof e.pool !== 'string') return 'no "pool"';
  if (!Number.isInteger(e.ordinal)) return 'no "ordinal"';
  if (e.role !== 'control-plane' && e.role !== 'worker') return '"role" is neither control-plane nor worker';
  if (typeof e.configHash !== 'string') return 'no "configHash"';
  return undefined;
}

/** The cluster's remembered hosts; none when the file does not exist. */
export async function readInventory(cluster: string, home: string): Promise<InventoryNodes> {
  const path = inventoryPath(cluster, home);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new InventoryError(path, `cannot be read (${(err as Error).message})`, { cause: err });
  }
  return parseInventory(text, path);
}

/**
 * Clusters under `home` that remember at least one host, sorted; inventories that cannot be read
 * are left out and returned as `errors`.
 */
export async function inventoryClusters(home: string): Promise<{ clusters: string[]; errors: InventoryError[] }> {
  let dirs: string[];
  try {
    dirs = (await readdir(join(home, 'clusters'), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { clusters: [], errors: [] };
    throw err;
  }
  const clusters: string[] = [];
  const errors: InventoryError[] = [];
  for (const name of dirs.sort()) {
    try {
      if (Object.keys(await readInventory(name, home)).length > 0) clusters.push(name);
    } catch (err) {
      if (!(err instanceof InventoryError)) throw err;
      errors.push(err);
    }
  }
  return { clusters, errors };
}

/** Reads and updates the inventories under one mk home; updates run one at a time. */
export class HostInventory {
  private readonly serial = pLimit(1);

  constructor(private readonly home: string) {}

  path(cluster: string): string {
    return inventoryPath(cluster, this.home);
  }

  read(cluster: string): Promise<InventoryNodes> {
    return readInventory(cluster, this.home);
  }

  remember(cluster: string, name: string, entry: InventoryEntry): Promise<void> {
    return this.update(cluster, (nodes) => {
      nodes[name] = entry;
    });
  }

  forget(cluster: string, name: string): Promise<void> {
    return this.update(cluster, (nodes) => {
      delete nodes[name];
    });
  }

  private update(cluster: string, fn: (nodes: InventoryNodes) => void): Promise<void> {
    return this.serial(async () => {
      const nodes = await this.read(cluster);
      fn(nodes);
      await writePrivateFile(clusterStateDir(cluster, this.home), INVENTORY_FILE, JSON.stringify({ nodes }, null, 2) + '\n');
    });
  }
}
