// Pure addon planning: the addons a cluster wants (with implied ones), and what to apply or remove
// given what is installed (from the inventories, see readInstalled).
import { createHash } from 'node:crypto';
import type { AddonSpec, Cluster } from '../spec/types.js';
import { catalogAddon } from '../catalog/index.js';
import { canonicalJson, contentHash } from '../manifests/inventory.js';
import { withAddonLabels } from '../manifests/labels.js';
import type { K8sObject } from '../manifests/types.js';
import { PlanError } from '../errors.js';

/** Hash of what the spec says about an addon (and the catalog version it renders). */
export function addonSpecHash(a: AddonSpec): string {
  const version = a.manifests === undefined ? (catalogAddon(a.name)?.version ?? 'unknown') : 'user';
  const key = { name: a.name, options: a.options, manifests: a.manifests, sha256: a.sha256, force: a.force ?? false, version };
  return createHash('sha256').update(canonicalJson(key)).digest('hex');
}

/** The content hash applyAddon records for these rendered objects (labels included). */
export function addonContentHash(cluster: string, addon: string, objects: readonly K8sObject[]): string {
  return contentHash(objects.map((o) => withAddonLabels(o, cluster, addon)));
}


/** The catalog addons an addon needs installed first (none for user manifests). */
export const addonDependencies = (a: Pick<AddonSpec, 'name' | 'manifests'>): string[] => (a.manifests === undefined ? (catalogAddon(a.name)?.dependsOn ?? []) : []);
const dependsOn = addonDependencies;

/** Orders addons so each comes after the catalog addons it depends on (stable otherwise). Pure. */
export function orderByDependencies(addons: readonly AddonSpec[]): AddonSpec[] {
  const byName = new Map(addons.map((a) => [a.name, a]));
  const out: AddonSpec[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (a: AddonSpec) => {
    if (state.get(a.name) === 'done') return;
    if (state.get(a.name) === 'visiting') throw new PlanError(`the addons depend on each other in a circle through ${a.name}; a catalog entry's dependsOn is wrong (please report it)`);
    state.set(a.name, 'visiting');
    for (const d of dependsOn(a)) {
      const dep = byName.get(d);
      if (dep) visit(dep);
    }
    state.set(a.name, 'done');
    out.push(a);
  };
  addons.forEach(visit);
  return out;
}

/**
 * The addons the cluster wants, in install order: the spec's list, plus metallb when
 * loadBalancer.enabled, plus catalog dependencies of enabled addons that the spec does not list
 * (enabled, default options). A dependency listed with enabled: false stays disabled (the spec
 * rules report that conflict).
 */
export function desiredAddons(cluster: Cluster): AddonSpec[] {
  const list = cluster.spec.addons.map((a) => ({ ...a }));
  const names = new Set(list.map((a) => a.name));
  if (cluster.spec.loadBalancer.enabled && !names.has('metallb')) {
    list.push({ name: 'metallb', enabled: true, options: {} });
    names.add('metallb');
  }
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    if (!a.enabled) continue;
    for (const d of dependsOn(a)) {
      if (!names.has(d)) {
        list.push({ name: d, enabled: true, options: {} });
        names.add(d);
      }
    }
  }
  return orderByDependencies(list);
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
