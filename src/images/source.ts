// The desired side of spec.images: what the image source (the local Docker engine) has for each
// reference, and, for one it lacks that some node needs, whether a registry serves it. Read when the
// spec lists images, before planning (like addon manifests); never the cluster.
import type { ImageSource, ObservedCluster } from '../drivers/types.js';
import { expandNodes } from '../spec/nodes.js';
import type { Cluster } from '../spec/types.js';
import { holds } from './runtime.js';

/** What the source can give for one reference. */
export type ResolvedImage =
  /** The source has it: this image. */
  | { id: string; size: number }
  /** The source lacks it, a registry serves it: pulled into the source first. */
  | { pull: true }
  /** Neither: why a registry does not serve it. */
  | { missing: string };

export interface ResolvedImages {
  /** The source, for messages. */
  source: string;
  /** Per reference, as the spec writes it. */
  images: Record<string, ResolvedImage>;
  /** The source could not be asked at all. */
  error?: string;
}

/** The spec's images (a spec saved by an mk without spec.images has none). */
export const specImages = (cluster: Cluster): string[] => cluster.spec.images ?? [];

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

export async function resolveImages(cluster: Cluster, actual: ObservedCluster, source: ImageSource, signal?: AbortSignal): Promise<ResolvedImages> {
  const refs = specImages(cluster);
  const observed = new Map(actual.nodes.map((n) => [n.name, n]));
  const nodes = expandNodes(cluster);
  // A node that is not checked (new, stopped) needs every image.
  const needed = (ref: string) => nodes.some((n) => !holds(observed.get(n.name)?.images?.held ?? [], ref));
  const images: Record<string, ResolvedImage> = {};
  try {
    await Promise.all(
      refs.map(async (ref) => {
        const found = await source.inspect(ref, signal);
        if (found) images[ref] = { id: found.id, size: found.size };
        else if (needed(ref)) {
          const why = await source.pullable(ref, signal);
          images[ref] = why === undefined ? { pull: true } : { missing: why };
        }
      }),
    );
  } catch (err) {
    signal?.throwIfAborted();
    return { source: source.description, images: {}, error: `${source.description} could not be asked about images: ${(err as Error).message}` };
  }
  return { source: source.description, images };
}
