// What is installed, from the inventories: the one way addons are observed, by the planner
// (observe.ts) and by planAddons alike.
import pLimit from 'p-limit';
import type { KubeClient } from '../kube/index.js';
import { parseInventory } from './inventory.js';
import { listInventories } from './inventory-store.js';
import { ownedBy } from './labels.js';
import type { ObjectRef } from './types.js';

export interface InstalledAddon {
  name: string;
  version: string;
  specHash: string;
  contentHash: string;
  objects: ObjectRef[];
  /** Inventory objects that are gone or being deleted (drift: applying again repairs it). Empty when not checked. */
  missing: ObjectRef[];
  /** Inventory objects that now exist without mk's labels for the addon (replaced or relabelled by someone else): never touched without force. */
  foreign: ObjectRef[];
}

/**
 * The cluster's installed addons, sorted by name. With checkObjects (default true) every listed
 * object is read, 4 at a time: gone (or being deleted) is missing (drift), present without mk's
 * labels for the addon is foreign.
 */
export async function readInstalled(client: KubeClient, cluster: string, opts: { checkObjects?: boolean } = {}): Promise<InstalledAddon[]> {
  const limit = pLimit(4);
  const out: InstalledAddon[] = [];
  for (const cm of await listInventories(client, cluster)) {
    const inv = parseInventory(cm);
    if (!inv || inv.cluster !== cluster) continue;
    const state = await Promise.all(
      opts.checkObjects === false
        ? []
        : inv.objects.map((ref) =>
            limit(async () => {
              const cur = await client.read(ref);
              return !cur || cur.metadata?.deletionTimestamp ? 'missing' : ownedBy(cur.metadata?.labels, cluster, inv.addon) ? 'ok' : 'foreign';
            }),
          ),
    );
    const missing = inv.objects.filter((_, i) => state[i] === 'missing');
    const foreign = inv.objects.filter((_, i) => state[i] === 'foreign');
    out.push({ name: inv.addon, version: inv.version, specHash: inv.specHash ?? '', contentHash: inv.contentHash, objects: inv.objects, missing, foreign });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
