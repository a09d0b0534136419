// Public API of the addons engine, for the planner and the steps.
//
//   const { apply, remove } = await planAddons(client, cluster, { specDir, env });   // observe + render + pure diff
//   for (const a of apply) await installAddon(client, cluster, a, { specDir, env, wait: { timeoutMs } });
//   for (const name of remove) await removeAddon(client, cluster, name);
import type { KubeClient } from '../kube/index.js';
import type { AddonSpec, Cluster } from '../spec/types.js';
import { applyAddon, type ApplyOptions, type ApplyResult } from '../manifests/apply.js';
import { addonContentHash, addonSpecHash, diffAddons, type AddonDiff } from './diff.js';
import { desiredAddons, kubeadmImagesOf } from '../spec/addons.js';
import { readKubeadmImages } from './observe.js';
import { readInstalled, type InstalledAddon } from '../manifests/installed.js';
import { renderAddon, type RenderContext } from './render.js';

export { applyAddon } from '../manifests/apply.js';
export type { ApplyOptions, ApplyResult } from '../manifests/apply.js';
export { removeAddon } from '../manifests/remove.js';
export type { RemoveResult } from '../manifests/remove.js';
export { readInstalled } from '../manifests/installed.js';
export type { InstalledAddon } from '../manifests/installed.js';
export { AddonError, AddonConflictError, AddonNotReadyError } from '../manifests/errors.js';
export { diffAddons, addonSpecHash, addonContentHash } from './diff.js';
export { desiredAddons, orderByDependencies } from '../spec/addons.js';
export type { AddonDiff, InstalledState } from './diff.js';
export { waitForAddon, objectReadiness } from '../manifests/readiness.js';
export { renderAddon } from './render.js';
export type { RenderContext, Rendered } from './render.js';
export { CATALOG, catalogAddon } from '../catalog/index.js';
export { autoAddressPool } from '../catalog/metallb/pool.js';
export type { K8sObject, ObjectRef } from '../manifests/types.js';
export type { CatalogAddon, RenderEnv } from '../catalog/types.js';

/** Render (catalog or user manifests) and apply one addon, recording version and spec hash in its inventory. */
export async function installAddon(client: KubeClient, cluster: Cluster, addon: AddonSpec, ctx: RenderContext & Omit<ApplyOptions, 'version' | 'specHash'>): Promise<ApplyResult> {
  // The images of kubeadm's components it runs too, read now unless the caller has them.
  const unread = kubeadmImagesOf(addon).filter((w) => ctx.env?.kubeadmImages?.[w] === undefined);
  const env = unread.length === 0 ? ctx.env : { ...ctx.env, kubeadmImages: { ...ctx.env?.kubeadmImages, ...(await readKubeadmImages(client, unread)) } };
  const rendered = await renderAddon(addon, cluster, { ...ctx, ...(env ? { env } : {}) });
  return applyAddon(client, cluster, addon, rendered.objects, { ...ctx, version: rendered.version, specHash: addonSpecHash(addon) });
}

/**
 * Observe + render + diff in one call, for the planner: what is installed, and which addons to
 * apply (with why) or remove. Renders every enabled desired addon (user manifests are read,
 * URLs fetched through the sha256 cache) so content changes are seen, not only spec changes.
 */
export async function planAddons(client: KubeClient, cluster: Cluster, ctx: RenderContext & { signal?: AbortSignal }): Promise<AddonDiff & { installed: InstalledAddon[]; desired: AddonSpec[] }> {
  const desired = desiredAddons(cluster);
  const installed = await readInstalled(client.with({ retries: 6, signal: ctx.signal }), cluster.metadata.name);
  const contentHashes: Record<string, string> = {};
  for (const a of desired.filter((d) => d.enabled)) {
    const rendered = await renderAddon(a, cluster, ctx);
    contentHashes[a.name] = addonContentHash(cluster.metadata.name, a.name, rendered.objects);
  }
  return { ...diffAddons(desired, installed, { contentHashes }), installed, desired };
}
