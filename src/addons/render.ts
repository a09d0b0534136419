// From an addon entry of the spec to the objects to apply: the catalog's render, or the user's
// manifests (a file/folder inside the spec's folder, or a verified https:// download).
import type { AddonSpec, Cluster } from '../spec/types.js';
import { catalogAddon } from './catalog/index.js';
import { AddonError } from './errors.js';
import { checkOptions } from './options.js';
import { fetchVerified, loadLocalManifests, parseManifests, type FetchOptions } from './manifests.js';
import type { K8sObject, RenderEnv } from './types.js';

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
  if (problems.length > 0) throw new AddonError(addon.name, problems.map((p) => `options.${p.option}: ${p.message}`).join('; '));
  try {
    return { objects: entry.render(addon.options, cluster, ctx.env), version: entry.version, source: 'catalog' };
  } catch (err) {
    throw new AddonError(addon.name, (err as Error).message, { cause: err });
  }
}
