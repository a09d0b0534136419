// The addons a spec wants, with the ones it implies (metallb for spec.loadBalancer, the catalog
// dependencies of what it lists), in install order; and the images those catalog addons run, with
// the spec's per-addon overrides (addons[].images) in place of the catalog's. Pure.
import { catalogAddon } from '../catalog/index.js';
import { kubeadmImageText } from '../catalog/kubeadm-images.js';
import type { KubeadmImage } from '../catalog/types.js';
import { PlanError } from '../errors.js';
import type { AddonSpec, Cluster } from './types.js';

/** The catalog addons an addon needs installed first (none for user manifests). */
export const addonDependencies = (a: Pick<AddonSpec, 'name' | 'manifests'>): string[] => (a.manifests === undefined ? (catalogAddon(a.name)?.dependsOn ?? []) : []);

/** Orders addons so each comes after the catalog addons it depends on (stable otherwise). */
export function orderByDependencies(addons: readonly AddonSpec[]): AddonSpec[] {
  const byName = new Map(addons.map((a) => [a.name, a]));
  const out: AddonSpec[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (a: AddonSpec) => {
    if (state.get(a.name) === 'done') return;
    if (state.get(a.name) === 'visiting') throw new PlanError(`the addons depend on each other in a circle through ${a.name}; a catalog entry's dependsOn is wrong (please report it)`);
    state.set(a.name, 'visiting');
    for (const d of addonDependencies(a)) {
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
    for (const d of addonDependencies(a)) {
      if (!names.has(d)) {
        list.push({ name: d, enabled: true, options: {} });
        names.add(d);
      }
    }
  }
  return orderByDependencies(list);
}

/** One image an enabled catalog addon runs. */
export interface AddonImage {
  addon: string;
  /** The image's key in the catalog entry (and in addons[].images). */
  key: string;
  /** The reference its pods run: the spec's override, else the catalog's. */
  ref: string;
  /** The catalog's reference, when the spec overrides it with another. */
  upstream?: string;
}

/**
 * The images of every enabled catalog addon, overrides applied; none without Kubernetes on the nodes.
 * An image the addon shares with kubeadm (CatalogAddon.kubeadmImages) is the cluster's own, on the
 * nodes as the control-plane images are: listed only when addons[].images names another in its place.
 */
export function addonImages(cluster: Cluster): AddonImage[] {
  if (cluster.spec.bootstrap !== 'kubeadm') return [];
  return desiredAddons(cluster)
    .filter((a) => a.enabled && a.manifests === undefined)
    .flatMap((a) => {
      const entry = catalogAddon(a.name);
      const pinned = Object.entries(entry?.images ?? {}).map(([key, catalogRef]): AddonImage => {
        const ref = a.images?.[key] ?? catalogRef;
        return { addon: a.name, key, ref, ...(ref !== catalogRef ? { upstream: catalogRef } : {}) };
      });
      const replaced = Object.entries(entry?.kubeadmImages ?? {}).flatMap(([key, which]): AddonImage[] => {
        const ref = a.images?.[key];
        return ref === undefined ? [] : [{ addon: a.name, key, ref, upstream: kubeadmImageText(which) }];
      });
      return [...pinned, ...replaced];
    });
}

/** The kubeadm images (CatalogAddon.kubeadmImages) an addon runs, read from the cluster to render it: those addons[].images does not replace. */
export function kubeadmImagesOf(a: Pick<AddonSpec, 'name' | 'manifests' | 'images'>): KubeadmImage[] {
  if (a.manifests !== undefined) return [];
  return [...new Set(Object.entries(catalogAddon(a.name)?.kubeadmImages ?? {}).filter(([key]) => a.images?.[key] === undefined).map(([, which]) => which))];
}

/** The kubeadm images the enabled catalog addons of the spec run (see kubeadmImagesOf). */
export function kubeadmImagesWanted(cluster: Cluster): KubeadmImage[] {
  if (cluster.spec.bootstrap !== 'kubeadm') return [];
  return [...new Set(desiredAddons(cluster).filter((a) => a.enabled).flatMap(kubeadmImagesOf))];
}
