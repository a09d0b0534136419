// Removal of exactly what mk applied for an addon: what its inventory lists and still carries mk's
// labels for the addon. Also prunes what a later apply no longer renders (see apply.ts).
import type { CustomResourceDefinition, KubeClient } from '../kube/index.js';
import { deleteInventory, readInventory } from './inventory-store.js';
import { clusterName, describeRef, ownedBy, type ClusterRefLike } from './labels.js';
import { isCrd, removalOrder } from './order.js';
import type { ObjectRef } from './types.js';

export interface RemoveResult {
  addon: string;
  /** Whether the addon had an inventory (false: nothing to remove). */
  inventory: boolean;
  deleted: ObjectRef[];
  /** Listed in the inventory but kept: no longer carries mk's labels for the addon, or (CRDs) still has objects mk did not create. */
  kept: { ref: ObjectRef; reason: string }[];
  durationMs: number;
}

export interface RemoveOptions {
  /** Retries on transient API errors (429, 5xx, connection). Default 6 (about 12 s). */
  retries?: number;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

/**
 * Deletes refs (in removal order) that still carry mk's labels for this cluster and addon.
 * A CRD is kept while objects of its kind exist that mk did not create for this addon.
 */
export async function deleteOwned(client: KubeClient, cluster: string, addon: string, refs: readonly ObjectRef[]): Promise<Pick<RemoveResult, 'deleted' | 'kept'>> {
  const deleted: ObjectRef[] = [];
  const kept: RemoveResult['kept'] = [];
  for (const ref of removalOrder(refs)) {
    const cur = await client.read(ref);
    if (!cur) continue;
    if (!ownedBy(cur.metadata?.labels, cluster, addon)) {
      kept.push({ ref, reason: `does not carry mk's labels for addon ${addon}` });
      continue;
    }
    if (isCrd(ref)) {
      const crd = cur as CustomResourceDefinition;
      const version = crd.spec.versions.find((v) => v.storage)?.name ?? crd.spec.versions[0]?.name;
      const foreign = version ? (await client.list(`${crd.spec.group}/${version}`, crd.spec.names.kind)).filter((i) => !ownedBy(i.metadata?.labels, cluster, addon)) : [];
      if (foreign.length > 0) {
        kept.push({ ref, reason: `${foreign.length} ${crd.spec.names.kind} object(s) not created by mk still exist` });
        continue;
      }
    }
    await client.delete(ref);
    deleted.push(ref);
  }
  return { deleted, kept };
}

/** Deletes what the addon's inventory lists and still carries mk's labels for it, then the inventory. No inventory: nothing to do. */
export async function removeAddon(client: KubeClient, cluster: ClusterRefLike, addon: string, opts: RemoveOptions = {}): Promise<RemoveResult> {
  const start = Date.now();
  const name = clusterName(cluster);
  const api = client.with({ retries: opts.retries ?? 6, signal: opts.signal, onRetry: opts.log });
  const inv = await readInventory(api, addon);
  if (!inv || inv.cluster !== name) return { addon, inventory: false, deleted: [], kept: [], durationMs: Date.now() - start };
  const result = await deleteOwned(api, name, addon, inv.objects);
  for (const d of result.deleted) opts.log?.(`deleted ${describeRef(d)}`);
  await deleteInventory(api, addon);
  return { addon, inventory: true, ...result, durationMs: Date.now() - start };
}
