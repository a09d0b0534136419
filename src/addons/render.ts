// From an addon entry of the spec to the objects to apply: the catalog's render (with the spec's
// image overrides in place), or the user's manifests (a file/folder inside the spec's folder, or a
// verified https:// download).
import type { AddonSpec, Cluster } from '../spec/types.js';
import { catalogAddon } from '../catalog/index.js';
import { addonContentHash } from './diff.js';
import { desiredAddons } from '../spec/addons.js';
import { AddonError, ManifestError } from '../manifests/errors.js';
import { zipMembers } from '../manifests/zip.js';
import { checkOptions, optionAt } from '../catalog/options.js';
import { fetchVerified, fetchVerifiedBytes, loadLocalManifests, parseManifests, type FetchOptions } from '../manifests/load.js';
import type { K8sObject } from '../manifests/types.js';
import type { CatalogAddon, RenderEnv } from '../catalog/types.js';
import { catalogImageTexts, kubeadmImageText } from '../catalog/kubeadm-images.js';

export interface RenderContext {
  /** Folder of the spec file: user manifests are resolved against it (and must stay inside it). */
  specDir: string;
  env?: RenderEnv;
  fetch?: FetchOptions;
}

export interface Rendered {
  objects: K8sObject[];
  /** Catalog version, or "user". */
  version: string;
  source: 'catalog' | 'file' | 'url';
}

export async function renderAddon(addon: AddonSpec, cluster: Cluster, ctx: RenderContext): Promise<Rendered> {
  if (addon.manifests !== undefined) {
    if (/^https:\/\//.test(addon.manifests) || /^[a-z][a-z0-9+.-]*:\/\//i.test(addon.manifests)) {
      if (!addon.sha256) throw new AddonError(addon.name, `manifests from ${addon.manifests} need sha256`);
      const text = await fetchVerified(addon.manifests, addon.sha256, ctx.fetch);
      return { objects: parseManifests(text, addon.manifests), version: 'user', source: 'url' };
    }
    return { objects: await loadLocalManifests(ctx.specDir, addon.manifests), version: 'user', source: 'file' };
  }
  const entry = catalogAddon(addon.name);
  if (!entry) throw new AddonError(addon.name, 'not in mk\'s catalog; give manifests: to install your own');
  const problems = checkOptions(entry.optionsSchema, addon.options);
  if (problems.length > 0) throw new AddonError(addon.name, problems.map((p) => `options.${optionAt(p)}: ${p.message}`).join('; '));
  let files: Record<string, string> | undefined;
  try {
    files = entry.fetched ? await fetchReleaseFiles(entry.fetched, addon.options.releaseMirror, ctx.fetch) : undefined;
  } catch (err) {
    const hint = addon.options.releaseMirror ? '' : '; without access to it, set options.releaseMirror to a server holding the same files';
    throw new AddonError(addon.name, `release files: ${(err as Error).message}${hint}`, { cause: err });
  }
  // An image the addon shares with kubeadm runs as the cluster has it (read into env.kubeadmImages);
  // one that addons[].images replaces needs no reading: a stand-in reference is replaced below.
  const kubeadm = Object.entries(entry.kubeadmImages ?? {}).map(([key, which]) => ({ key, which, ref: ctx.env?.kubeadmImages?.[which] ?? (addon.images?.[key] !== undefined ? kubeadmImageText(which) : undefined) }));
  const env: RenderEnv | undefined = kubeadm.length === 0 ? ctx.env : { ...ctx.env, kubeadmImages: { ...ctx.env?.kubeadmImages, ...Object.fromEntries(kubeadm.flatMap((k) => (k.ref ? [[k.which, k.ref]] : []))) } };
  let objects: K8sObject[];
  try {
    objects = entry.render(addon.options, cluster, env, files);
  } catch (err) {
    throw new AddonError(addon.name, (err as Error).message, { cause: err });
  }
  const catalogImages = { ...entry.images, ...Object.fromEntries(kubeadm.flatMap((k) => (k.ref ? [[k.key, k.ref]] : []))) };
  const { objects: overridden, unused } = overrideImages(objects, catalogImages, addon.images);
  if (unused.length > 0) {
    const which = unused.map((key) => `images.${key} (${catalogImageTexts(entry)[key] ?? 'not an image of this addon'})`).join(', ');
    throw new AddonError(addon.name, `${which}: no image field of its objects names it (the addon puts it together from other values), so it cannot be overridden; remove the override`);
  }
  return { objects: overridden, version: entry.version, source: 'catalog' };
}

/**
 * A catalog addon's objects with the spec's image overrides in place of the catalog's references:
 * every `image` field that names the catalog's reference of an overridden key (containers, init
 * and ephemeral containers of any pod template), and `image:` lines of pod templates a ConfigMap
 * keeps as YAML (local-path-provisioner's helper pod). `unused`: overridden keys whose reference
 * appears in neither. Pure.
 */
export function overrideImages(objects: readonly K8sObject[], catalog: Readonly<Record<string, string>>, overrides: Readonly<Record<string, string>> = {}): { objects: K8sObject[]; unused: string[] } {
  const swap = new Map<string, string>(); // the catalog's reference -> the override
  for (const [key, ref] of Object.entries(overrides)) if (catalog[key] !== undefined && catalog[key] !== ref) swap.set(catalog[key], ref);
  const used = new Set<string>();
  const replaced = (ref: string): string | undefined => {
    const to = swap.get(ref);
    if (to !== undefined) used.add(ref);
    return to;
  };
  const inText = (text: string): string =>
    text.replace(/^(\s*(?:-\s+)?image:\s*)(["']?)(\S+?)\2(\s*)$/gm, (line, head: string, quote: string, ref: string, tail: string) => {
      const to = replaced(ref);
      return to === undefined ? line : `${head}${quote}${to}${quote}${tail}`;
    });
  const walk = (value: unknown, key?: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => walk(v));
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    return key === 'image' && typeof value === 'string' ? (replaced(value) ?? value) : value;
  };
  const out = swap.size === 0 ? [...objects] : objects.map((o) => {
    const next = walk(o) as K8sObject;
    if (o.kind === 'ConfigMap' && next.data !== null && typeof next.data === 'object') {
      next.data = Object.fromEntries(Object.entries(next.data as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? inText(v) : v]));
    }
    return next;
  });
  const unused = Object.keys(overrides).filter((key) => catalog[key] === undefined || (swap.has(catalog[key]) && !used.has(catalog[key])));
  return { objects: out, unused };
}

/** What every enabled addon of the spec renders to now, as content hashes, or why it cannot be rendered. */
export interface RenderedAddons {
  hashes: Record<string, string>;
  errors: Record<string, string>;
}

/**
 * The desired side of the addons, for the planner: each enabled addon rendered (catalog addons are
 * pure; user manifests are read or fetched, sha256-checked and cached; metallb's auto pool comes
 * from the observed node network). Never throws for an addon that cannot be rendered: its error is
 * recorded and the planner says so. Aborting the signal still throws.
 */
export async function renderAddons(cluster: Cluster, ctx: RenderContext & { signal?: AbortSignal }): Promise<RenderedAddons> {
  const out: RenderedAddons = { hashes: {}, errors: {} };
  for (const a of desiredAddons(cluster).filter((d) => d.enabled)) {
    try {
      const r = await renderAddon(a, cluster, ctx);
      out.hashes[a.name] = addonContentHash(cluster.metadata.name, a.name, r.objects);
    } catch (err) {
      ctx.signal?.throwIfAborted();
      out.errors[a.name] = err instanceof Error ? err.message : String(err);
    }
  }
  return out;
}

/** A catalog addon's pinned upstream files, by key: from the cache or downloaded and verified. */
export async function fetchReleaseFiles(fetched: NonNullable<CatalogAddon['fetched']>, mirror: unknown, opts?: FetchOptions): Promise<Record<string, string>> {
  const base = (typeof mirror === 'string' && mirror !== '' ? mirror : fetched.baseUrl).replace(/\/+$/, '');
  const out: Record<string, string> = {};
  for (const [key, file] of Object.entries(fetched.files)) {
    const url = `${base}/${file.path}`;
    if (!file.members) {
      out[key] = await fetchVerified(url, file.sha256, opts);
      continue;
    }
    const zip = await fetchVerifiedBytes(url, file.sha256, opts);
    try {
      out[key] = zipMembers(zip, file.members).map((m) => m.toString('utf8')).join('\n---\n');
    } catch (err) {
      throw new ManifestError(`${url}: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}
