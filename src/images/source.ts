// The desired side of the images phase: what the image source (the local Docker engine) has for
// each reference of spec.images and of the catalog addons' images, and, for one it lacks that some
// node needs, whether a registry serves it. Read when the spec lists images or enables catalog
// addons, before planning (like addon manifests); never the cluster.
import type { ImageSource, ObservedCluster } from '../drivers/types.js';
import { localBuildFor } from '../catalog/local-builds.js';
import { addonImages, type AddonImage } from '../spec/addons.js';
import { imageDigest } from '../spec/image-refs.js';
import { expandNodes } from '../spec/nodes.js';
import type { Cluster } from '../spec/types.js';
import { holds } from './runtime.js';

/** What the source can give for one reference. */
export type ResolvedImage =
  /** The source has it: this image. */
  | { id: string; size: number }
  /** The source lacks it, a registry serves it: spec.images are pulled into the source first; addon images are pulled by the nodes. */
  | { pull: true }
  /** Neither: why a registry does not serve it. */
  | { missing: string };

export interface ResolvedImages {
  /** The source, for messages. */
  source: string;
  /** Per reference of spec.images, as the spec writes it. */
  images: Record<string, ResolvedImage>;
  /**
   * Per reference of a catalog addon's image (not in spec.images), when the spec enables any: what
   * the source has (loaded like spec.images), else, when some node lacks it, whether a registry
   * serves it. Absent for a reference every node holds and the source lacks.
   */
  addons?: Record<string, ResolvedImage>;
  /** The source could not be asked at all. */
  error?: string;
}

/** The spec's images (a spec saved by an mk without spec.images has none). */
export const specImages = (cluster: Cluster): string[] => cluster.spec.images ?? [];

/** The catalog addons' images the images phase looks after: none on cri-o nodes, which mk cannot load into (they pull). */
export const addonImagesOf = (cluster: Cluster): AddonImage[] => (cluster.spec.cri === 'cri-o' ? [] : addonImages(cluster));

/** Addon image references that are not also in spec.images (those are kept as spec.images are). */
export const addonImageRefs = (cluster: Cluster): string[] => {
  const spec = new Set(specImages(cluster));
  return [...new Set(addonImagesOf(cluster).map((i) => i.ref))].filter((r) => !spec.has(r));
};

/** Whether the images phase has anything to keep on the nodes (else it reads nothing). */
export const keepsImages = (cluster: Cluster): boolean => specImages(cluster).length > 0 || addonImageRefs(cluster).length > 0;

/**
 * Where to get an image the source lacks, naming it: `why` a registry does not serve it (the plan
 * asked), or undefined (mk image load, which does not pull).
 */
export function missingImage(ref: string, source: string, why?: string): string {
  const head = why === undefined ? `image ${ref} is not in ${source}` : `image ${ref} is not in ${source}, and no registry serves it (${why})`;
  return (
    `${head}. Get it there first: docker build -t ${ref} DIR (your own image), docker pull ${ref} (on a machine that reaches its registry), ` +
    `or docker load -i FILE (an archive from docker save); then ${why === undefined ? 'load it again, or give mk image load the archive file' : 'apply again'}`
  );
}

/** An addon's image that no node, no local engine and no registry can give, and the ways out. */
export function missingAddonImage(image: AddonImage, lacking: readonly string[], source: string, why: string): string {
  const where = lacking.length === 1 ? `node ${lacking[0]} lacks it` : `nodes ${lacking.join(', ')} lack it`;
  const { addon, key, ref, upstream } = image;
  const built = localBuildFor(upstream ?? ref);
  const head = `addon ${addon}: image ${key} ${ref}${upstream ? ` (in place of ${upstream})` : ''}: ${where}, ${source} does not have it, and no registry serves it (${why}).`;
  const set = (tag: string) => `add images: { ${key}: ${tag} } to addon ${addon} in spec.addons`;
  const npm = (tag: string) => `npm run addon-images ${tag.replace(/^mk\.local\/addons\/|:[^:]*$/g, '')}`;
  const ways: string[] = [];
  if (ref === built) ways.push(`build it: ${npm(ref)}`);
  else if (built) ways.push(`build a stand-in with ${npm(built)} and ${set(built)}`);
  else ways.push(`npm run addon-images cannot build it here (scripts/addon-images.sh list says why)`);
  if (imageDigest(ref) === undefined) ways.push(`docker pull ${ref} where a registry is reachable (or docker load -i an archive of it), and mk loads it from ${source}`);
  else ways.push(`let the nodes pull it where a registry is reachable: a reference pinned by digest comes only from a registry (docker save does not keep the registry's digest), or ${set('a tag of yours')}`);
  return `${head} Then apply again; to get it: ${ways.join('; or ')}`;
}

export async function resolveImages(cluster: Cluster, actual: ObservedCluster, source: ImageSource, signal?: AbortSignal): Promise<ResolvedImages> {
  const refs = specImages(cluster);
  const addonRefs = addonImageRefs(cluster);
  const observed = new Map(actual.nodes.map((n) => [n.name, n]));
  const nodes = expandNodes(cluster);
  // A node that is not checked (new, stopped) needs every image.
  const needed = (ref: string) => nodes.some((n) => !holds(observed.get(n.name)?.images?.held ?? [], ref));
  /** From the source if it has it (never one pinned by digest: docker save loses the digest), else a registry if some node needs it. */
  const resolve = async (ref: string, into: Record<string, ResolvedImage>): Promise<void> => {
    const found = imageDigest(ref) === undefined ? await source.inspect(ref, signal) : undefined;
    if (found) into[ref] = { id: found.id, size: found.size };
    else if (needed(ref)) {
      const why = await source.pullable(ref, signal);
      into[ref] = why === undefined ? { pull: true } : { missing: why };
    }
  };
  const images: Record<string, ResolvedImage> = {};
  const addons: Record<string, ResolvedImage> = {};
  try {
    await Promise.all([...refs.map((r) => resolve(r, images)), ...addonRefs.map((r) => resolve(r, addons))]);
  } catch (err) {
    signal?.throwIfAborted();
    return { source: source.description, images: {}, error: `${source.description} could not be asked about images: ${(err as Error).message}` };
  }
  return { source: source.description, images, ...(addonRefs.length > 0 ? { addons } : {}) };
}
