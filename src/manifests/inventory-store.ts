// Reading and writing the inventories in the cluster (the ConfigMap format is in inventory.ts).
import type { ConfigMap, KubeClient } from '../kube/index.js';
import { LABEL_CLUSTER } from './labels.js';
import { INVENTORY_NAMESPACE, LABEL_INVENTORY, inventoryConfigMap, inventoryName, parseInventory, type Inventory } from './inventory.js';
import type { ObjectRef } from './types.js';

const inventoryRef = (addon: string): ObjectRef => ({ apiVersion: 'v1', kind: 'ConfigMap', namespace: INVENTORY_NAMESPACE, name: inventoryName(addon) });

/** The addon's inventory, or undefined when there is none (or it is not one of mk's). */
export async function readInventory(client: KubeClient, addon: string): Promise<Inventory | undefined> {
  const cm = await client.read<ConfigMap>(inventoryRef(addon));
  return cm ? parseInventory(cm) : undefined;
}

/** Writes the inventory (server-side apply; mk owns every field of it). */
export async function writeInventory(client: KubeClient, inv: Inventory): Promise<void> {
  await client.apply(inventoryConfigMap(inv), { force: true });
}

export async function deleteInventory(client: KubeClient, addon: string): Promise<void> {
  await client.delete(inventoryRef(addon));
}

/** The inventory ConfigMaps labelled for this cluster: one request, no discovery, so a cluster without addons costs one round trip. */
export async function listInventories(client: KubeClient, cluster: string): Promise<ConfigMap[]> {
  const selector = encodeURIComponent(`${LABEL_CLUSTER}=${cluster},${LABEL_INVENTORY}=true`);
  return (await client.json<{ items?: ConfigMap[] }>('GET', `/api/v1/namespaces/${INVENTORY_NAMESPACE}/configmaps?labelSelector=${selector}`, { allow404: true }))?.items ?? [];
}
