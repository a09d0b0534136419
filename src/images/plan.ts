// The images phase's plan: every image of spec.images on every node, and every image of an enabled
// catalog addon that the source (the local engine) has. A node that comes up in this run (new,
// started, replaced) gets them after it is up, checked then; a running node gets the ones its
// runtime does not list, or lists as another image (rebuilt in the source since). The node counts as
// up for kubeadm only once its spec.images are there (the returned NodePlan says so), so an air-gapped
// node has its control-plane images before kubeadm needs them; addon images load alongside kubeadm,
// and the addons wait for them. An addon image the source lacks is
// pulled by the nodes when a registry serves it. An image some node needs that nothing can give is
// refused here, naming it and how to get it. Pure.
import { PlanError } from '../errors.js';
import type { NodePlan } from '../infrastructure/plan.js';
import type { ObservedCluster } from '../drivers/types.js';
import type { StepSink } from '../phase/builder.js';
import type { ArchiveImages } from './archive.js';
import { holds, shortId } from './runtime.js';
import { addonImageRefs, addonImagesOf, missingAddonImage, missingImage, specImages, type ResolvedImages } from './source.js';
import type { Cluster } from '../spec/types.js';
import { normalizeImageRef } from '../spec/image-refs.js';

/** Images into one node: from the source (references), and archive files (mk image load FILE). */
export type ImageStep = { kind: 'image.load'; node: string; images: string[]; archives?: ArchiveImages[] };

export interface ImagePlan {
  /** The node plan, with each node that loads images in this run counting as up once they are loaded. */
  nodes: NodePlan;
  /** Every image.load step (addons wait for them: their pods may run these images). */
  loads: string[];
  /** Where each catalog addon image comes from, by reference (for the addon steps); empty when they were not resolved. */
  addonSources: Record<string, AddonImageSource>;
}

/** Where an addon image comes from, as the plan says it ("from the Docker engine at ..."); `loads`: mk loads it in this run. */
export interface AddonImageSource {
  said: string;
  loads: boolean;
}

/** "load image a on node n" / "load images a, b on node n". */
export function loadDescription(node: string, what: readonly string[]): string {
  return `load image${what.length === 1 ? '' : 's'} ${what.join(', ')} on node ${node}`;
}

const ON_EVERY_NODE: AddonImageSource = { said: 'on every node', loads: false };

const registryOf = (ref: string): string => normalizeImageRef(ref).split('/')[0]!;

export function planImages(b: StepSink<ImageStep>, cluster: Cluster, actual: ObservedCluster, nodes: NodePlan, resolved?: ResolvedImages): ImagePlan {
  const specRefs = specImages(cluster);
  // Addon images count once resolved (or once the source could not be asked about them).
  const addonRefs = resolved?.addons || resolved?.error ? addonImageRefs(cluster) : [];
  const refs = [...specRefs, ...addonRefs];
  if (refs.length === 0) return { nodes, loads: [], addonSources: {} };
  const isSpec = new Set(specRefs);
  const resolvedOf = (ref: string) => (isSpec.has(ref) ? resolved?.images[ref] : resolved?.addons?.[ref]);
  const idOf = (ref: string) => {
    const r = resolvedOf(ref);
    return r && 'id' in r ? r.id : undefined;
  };
  // spec.images are always loaded (pulled into the source first if need be); an addon image only when the source has it.
  const loadable = (ref: string) => isSpec.has(ref) || idOf(ref) !== undefined;
  const addonsOf = new Map<string, string[]>();
  for (const i of addonImagesOf(cluster)) addonsOf.set(i.ref, [...(addonsOf.get(i.ref) ?? []), i.addon]);
  const up = new Map(nodes.up);
  const replacedBy = new Map(nodes.replaced.map((r) => [r.node.name, r.create]));
  const pulls = new Set(specRefs.filter((r) => resolved?.images[r] && 'pull' in resolved.images[r]));
  const needed = new Set<string>();
  /** Addon images a node lacks and cannot be given by mk: the nodes that lack each. */
  const lacking = new Map<string, string[]>();
  const loaded = new Set<string>();
  const loads: string[] = [];
  const ready = new Map<string, string>();

  for (const node of nodes.desired) {
    const o = nodes.observed.get(node.name);
    if (o?.state === 'unreachable') continue;
    const cameUp = up.get(node.name) ?? replacedBy.get(node.name);
    // A node started again may hold them already: its step finds out (and says what is missing then).
    const checked = !nodes.stopped.includes(node);
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
          const id = idOf(ref);
          if (!holds(images.held, ref)) why.set(ref, 'missing');
          else if (id && !holds(images.held, ref, id)) {
            const old = images.held.find((h) => h.ref === normalizeImageRef(ref))!;
            why.set(ref, `changed: ${shortId(old.id)} → ${shortId(id)}`);
          }
        }
        todo = [...why.keys()];
        const reasons = new Set(todo.filter(loadable).map((r) => why.get(r)));
        reason = reasons.size === 1 && reasons.has('missing') ? 'missing' : todo.filter(loadable).map((r) => `${r} ${why.get(r)}`).join(', ');
      }
    }
    if (checked) for (const r of todo.filter((x) => !loadable(x))) lacking.set(r, [...(lacking.get(r) ?? []), node.name]);
    todo = todo.filter(loadable);
    if (todo.length === 0) continue;
    if (checked) for (const r of todo) needed.add(r);
    const pulled = todo.filter((r) => pulls.has(r));
    const forAddons = [...new Set(todo.flatMap((r) => (isSpec.has(r) ? [] : (addonsOf.get(r) ?? []))))];
    const note = `${pulled.length ? `; ${pulled.join(', ')} pulled into the local engine first` : ''}${forAddons.length ? `; for addon${forAddons.length === 1 ? '' : 's'} ${forAddons.join(', ')}` : ''}`;
    const id = b.add({ kind: 'image.load', node: node.name, images: todo }, node.name, 'create', loadDescription(node.name, todo), reason + note, [cameUp]);
    loads.push(id);
    for (const r of todo) loaded.add(r);
    // kubeadm waits for spec.images (an air-gapped node's control-plane images may be among them),
    // not for addon images: those load while kubeadm runs, and only the addons wait for them.
    if (cameUp && todo.some((r) => isSpec.has(r))) ready.set(node.name, id);
  }

  if (resolved) refuseMissing(cluster, resolved, [...needed].filter((r) => isSpec.has(r)), lacking);
  const addonSources = Object.fromEntries(
    (addonRefs.length > 0 ? addonImagesOf(cluster) : []).flatMap(({ ref }): [string, AddonImageSource][] => {
      if (isSpec.has(ref)) return [[ref, { said: 'kept by spec.images', loads: false }]];
      const r = resolvedOf(ref);
      if (!r) return resolved?.error ? [] : [[ref, ON_EVERY_NODE]];
      if ('pull' in r) return [[ref, { said: `pulled by the nodes from ${registryOf(ref)}`, loads: false }]];
      if ('id' in r) return [[ref, loaded.has(ref) ? { said: `from ${resolved!.source}`, loads: true } : ON_EVERY_NODE]];
      return [];
    }),
  );
  if (ready.size === 0) return { nodes, loads, addonSources };
  // kubeadm (init, join) goes on a node once its images are loaded.
  for (const [name, id] of ready) if (up.has(name)) up.set(name, id);
  const replaced = nodes.replaced.map((r) => (ready.has(r.node.name) ? { ...r, create: ready.get(r.node.name)! } : r));
  return { nodes: { ...nodes, up, replaced }, loads, addonSources };
}

/**
 * Refuses the plan when an image some node needs cannot be had: a spec image the source neither has
 * nor can pull, an addon image no node, source or registry can give (naming the addon, the image key
 * and the ways out), or any of them when the source could not be asked.
 */
function refuseMissing(cluster: Cluster, resolved: ResolvedImages, needed: readonly string[], lacking: ReadonlyMap<string, string[]>): void {
  const name = cluster.metadata.name;
  if (resolved.error && needed.length + lacking.size > 0) throw new PlanError(`cluster ${name}: ${[...needed, ...lacking.keys()].join(', ')} cannot be loaded: ${resolved.error}`);
  const missing = needed.flatMap((ref) => {
    const r = resolved.images[ref];
    return r && 'missing' in r ? [missingImage(ref, resolved.source, r.missing)] : [];
  });
  for (const image of addonImagesOf(cluster)) {
    const r = resolved.addons?.[image.ref];
    const nodes = lacking.get(image.ref);
    if (nodes && r && 'missing' in r) missing.push(missingAddonImage(image, nodes, resolved.source, r.missing));
  }
  if (missing.length > 0) throw new PlanError(`cluster ${name}: ${missing.join('\n')}`);
}
