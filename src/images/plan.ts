// The images phase's plan: every image of spec.images on every node. A node that comes up in this
// run (new, started, replaced) gets them after it is up, checked then; a running node gets the ones
// its runtime does not list, or lists as another image (rebuilt in the source since). The node
// counts as up for kubeadm only once its images are there (the returned NodePlan says so), so an
// air-gapped node has its control-plane images before kubeadm needs them. An image some node needs
// that the source neither has nor can pull is refused here, naming it and how to get it. Pure.
import { PlanError } from '../errors.js';
import type { NodePlan } from '../infrastructure/plan.js';
import type { ObservedCluster } from '../drivers/types.js';
import type { StepSink } from '../phase/builder.js';
import type { ArchiveImages } from './archive.js';
import { holds, shortId } from './runtime.js';
import { missingImage, specImages, type ResolvedImages } from './source.js';
import type { Cluster } from '../spec/types.js';
import { normalizeImageRef } from '../spec/image-refs.js';

/** Images into one node: from the source (references), and archive files (mk image load FILE). */
export type ImageStep = { kind: 'image.load'; node: string; images: string[]; archives?: ArchiveImages[] };

export interface ImagePlan {
  /** The node plan, with each node that loads images in this run counting as up once they are loaded. */
  nodes: NodePlan;
  /** Every image.load step (addons wait for them: their pods may run these images). */
  loads: string[];
}

/** "load image a on node n" / "load images a, b on node n". */
export function loadDescription(node: string, what: readonly string[]): string {
  return `load image${what.length === 1 ? '' : 's'} ${what.join(', ')} on node ${node}`;
}

export function planImages(b: StepSink<ImageStep>, cluster: Cluster, actual: ObservedCluster, nodes: NodePlan, resolved?: ResolvedImages): ImagePlan {
  const refs = specImages(cluster);
  if (refs.length === 0) return { nodes, loads: [] };
  const up = new Map(nodes.up);
  const replacedBy = new Map(nodes.replaced.map((r) => [r.node.name, r.create]));
  const pulls = new Set(refs.filter((r) => resolved?.images[r] && 'pull' in resolved.images[r]));
  const needed = new Set<string>();
  const loads: string[] = [];
  const ready = new Map<string, string>();

  for (const node of nodes.desired) {
    const o = nodes.observed.get(node.name);
    if (o?.state === 'unreachable') continue;
    const cameUp = up.get(node.name) ?? replacedBy.get(node.name);
    let todo: string[];
    let reason: string;
    if (cameUp) {
      todo = refs;
      reason = nodes.created.includes(node) ? 'new node' : replacedBy.has(node.name) ? 'node replaced' : 'node starts: loaded unless it holds them';
    } else {
      const images = o?.images;
      if (!images) continue; // not checked
      if (images.error) {
        todo = refs;
        reason = `what the node holds could not be read: ${images.error}`;
      } else {
        const why = new Map<string, string>();
        for (const ref of refs) {
          const r = resolved?.images[ref];
          const id = r && 'id' in r ? r.id : undefined;
          if (!holds(images.held, ref)) why.set(ref, 'missing');
          else if (id && !holds(images.held, ref, id)) {
            const old = images.held.find((h) => h.ref === normalizeImageRef(ref))!;
            why.set(ref, `changed: ${shortId(old.id)} → ${shortId(id)}`);
          }
        }
        todo = [...why.keys()];
        const reasons = new Set(why.values());
        reason = reasons.size === 1 && reasons.has('missing') ? 'missing' : todo.map((r) => `${r} ${why.get(r)}`).join(', ');
      }
    }
    if (todo.length === 0) continue;
    // A node started again may hold them already: its step finds out (and says what is missing then).
    if (!nodes.stopped.includes(node)) for (const r of todo) needed.add(r);
    const pulled = todo.filter((r) => pulls.has(r));
    const note = pulled.length ? `; ${pulled.join(', ')} pulled into the local engine first` : '';
    const id = b.add({ kind: 'image.load', node: node.name, images: todo }, node.name, 'create', loadDescription(node.name, todo), reason + note, [cameUp]);
    loads.push(id);
    if (cameUp) ready.set(node.name, id);
  }

  if (resolved && needed.size > 0) {
    if (resolved.error) throw new PlanError(`cluster ${cluster.metadata.name}: ${[...needed].join(', ')} cannot be loaded: ${resolved.error}`);
    const missing = [...needed].flatMap((ref) => {
      const r = resolved.images[ref];
      return r && 'missing' in r ? [missingImage(ref, resolved.source, r.missing)] : [];
    });
    if (missing.length > 0) throw new PlanError(`cluster ${cluster.metadata.name}: ${missing.join('\n')}`);
  }
  if (ready.size === 0) return { nodes, loads };
  // kubeadm (init, join) goes on a node once its images are loaded.
  for (const [name, id] of ready) if (up.has(name)) up.set(name, id);
  const replaced = nodes.replaced.map((r) => (ready.has(r.node.name) ? { ...r, create: ready.get(r.node.name)! } : r));
  return { nodes: { ...nodes, up, replaced }, loads };
}
