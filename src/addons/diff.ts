// Pure addon planning: what to apply or remove given what the cluster wants (desiredAddons, in
// src/spec/addons.ts) and what is installed (from the inventories, see readInstalled).
import { createHash } from 'node:crypto';
import type { AddonSpec } from '../spec/types.js';
import { catalogAddon } from '../catalog/index.js';
import { orderByDependencies } from '../spec/addons.js';
import { canonicalJson, contentHash } from '../manifests/inventory.js';
import { withAddonLabels } from '../manifests/labels.js';
import type { K8sObject } from '../manifests/types.js';

/**
 * Hash of what the spec says about an addon (and the catalog version it renders). Image overrides
 * count only when there are any, so the hash of an addon without them is what it always was.
 */
export function addonSpecHash(a: AddonSpec): string {
  const version = a.manifests === undefined ? (catalogAddon(a.name)?.version ?? 'unknown') : 'user';
  const images = a.images && Object.keys(a.images).length > 0 ? { images: a.images } : {};
  const key = { name: a.name, options: a.options, manifests: a.manifests, sha256: a.sha256, force: a.force ?? false, version, ...images };
  return createHash('sha256').update(canonicalJson(key)).digest('hex');
}

/** The content hash applyAddon records for these rendered objects (labels included). */
export function addonContentHash(cluster: string, addon: string, objects: readonly K8sObject[]): string {
  return contentHash(objects.map((o) => withAddonLabels(o, cluster, addon)));
}

/** What readInstalled reports, as far as the diff needs it. */
export interface InstalledState {
  name: string;
  specHash: string;
  contentHash?: string;
  /** Objects of the inventory that are gone or lost mk's labels. */
  missing?: readonly unknown[];
}

export interface AddonDiff {
  /** Enabled addons to apply, in install order, each with why. */
  apply: AddonSpec[];
  reasons: Record<string, 'not installed' | 'spec changed' | 'content changed' | 'drift'>;
  /** Installed addons to remove (disabled, or no longer in the spec), dependents first. */
  remove: string[];
}

/**
 * Pure. An enabled addon is applied when it has no inventory, its spec hash differs, its rendered
 * content hash differs (when the caller passes contentHashes, e.g. for user manifests or metallb's
 * auto pool), or objects of its inventory were deleted or relabelled by hand (drift).
 * Installed addons that are disabled or absent from desired are removed.
 */
export function diffAddons(desired: readonly AddonSpec[], installed: readonly InstalledState[], opts: { contentHashes?: Record<string, string> } = {}): AddonDiff {
  const have = new Map(installed.map((i) => [i.name, i]));
  const apply: AddonSpec[] = [];
  const reasons: AddonDiff['reasons'] = {};
  for (const a of orderByDependencies(desired)) {
    if (!a.enabled) continue;
    const inst = have.get(a.name);
    const content = opts.contentHashes?.[a.name];
    const reason = !inst
      ? 'not installed'
      : inst.specHash !== addonSpecHash(a)
        ? 'spec changed'
        : content !== undefined && content !== inst.contentHash
          ? 'content changed'
          : (inst.missing?.length ?? 0) > 0
            ? 'drift'
            : undefined;
    if (reason) {
      apply.push(a);
      reasons[a.name] = reason;
    }
  }
  const enabled = new Set(desired.filter((a) => a.enabled).map((a) => a.name));
  const removeSet = installed.map((i) => i.name).filter((n) => !enabled.has(n));
  // Dependents before their dependencies: reverse install order of the catalog graph.
  const order = orderByDependencies(removeSet.map((name) => ({ name, enabled: false, options: {} }))).map((a) => a.name);
  return { apply, reasons, remove: order.reverse() };
}
