// The images phase: spec.images and the catalog addons' images kept on every node, through each
// node's container runtime. It observes (only when the spec lists images or enables catalog addons)
// what each running node holds, resolves what the image source has, plans image.load steps between
// a node coming up and kubeadm, and runs them.
import pLimit from 'p-limit';
import type { ObservedCluster, ObservedNode } from '../drivers/types.js';
import type { ObserveContext, Phase, StepKinds } from '../phase/types.js';
import type { ImageStep } from './plan.js';
import { readNodeImages, runtimeFor } from './runtime.js';
import { keepsImages } from './source.js';

const kinds: StepKinds<ImageStep> = {
  'image.load': {
    rank: 5.5,
    serial: () => false,
    run: async (ctx, step, id) => (await import('./load.js')).loadImages(ctx, step, id),
  },
};

/** What each running node holds, read in parallel; a spec without images reads nothing. */
async function observe(ctx: ObserveContext, observed: ObservedCluster): Promise<ObservedCluster> {
  const spec = ctx.spec;
  if (ctx.purpose !== 'reconcile' || !spec || !keepsImages(spec) || spec.spec.cri === 'cri-o') return observed;
  const runtime = runtimeFor(spec.spec.cri);
  const limit = pLimit(8);
  const nodes = await Promise.all(
    observed.nodes.map((n) =>
      limit(async (): Promise<ObservedNode> => {
        if (n.state !== 'running') return n;
        try {
          return { ...n, images: await readNodeImages(ctx.driver.node(observed.name, n.name), runtime, ctx.signal) };
        } catch (err) {
          ctx.signal?.throwIfAborted();
          return { ...n, images: { held: [], error: (err as Error).message } };
        }
      }),
    ),
  );
  return { ...observed, nodes };
}

export const images: Phase<ImageStep> = { name: 'images', observe, kinds };

export { planImages, type ImagePlan, type ImageStep } from './plan.js';
export { keepsImages, resolveImages, type ResolvedImages } from './source.js';
