// The phases of a reconcile, in the order they plan and run:
//
//   1. infrastructure  the driver: the cluster network, nodes (create, start, replace, remove), volumes
//   2. images          spec.images, and the catalog addons' images the local engine has, on every
//                      node: loaded into the node's runtime once it is up, before kubeadm runs
//                      there and before addons are applied; where each addon image comes from
//   3. kubernetes      kubeadm: init, joins, the cluster network, drain + reset of leaving nodes,
//                      the kubeconfig, the wait until the cluster is usable
//   4. addons          catalog addons and user manifests, through the API server
//
// Each phase observes its part of the actual state (after the phases before it), plans its steps
// from the spec and what was observed (pure), and runs its own step kinds. A new step kind is added
// in its phase's folder; its rank (the reading order among steps ready at the same time) sits on
// one scale for all phases: infrastructure 0-5 and 13, images 5.5, kubernetes 2 and 6-10, addons 11-12.
import { addons, planAddonSteps, type AddonStep } from '../addons/phase.js';
import type { RenderedAddons } from '../addons/render.js';
import { capabilitiesOf } from '../drivers/capabilities.js';
import type { Driver, ObservedCluster } from '../drivers/types.js';
import { images, keepsImages, planImages, resolveImages, type ImageStep, type ResolvedImages } from '../images/phase.js';
import { infrastructure, planInfrastructure, planInfrastructureDelete, planInfrastructureStop, type InfraStep, type NodePlan } from '../infrastructure/index.js';
import { kubernetes, planKubernetes, planKubernetesDelete, type KubeStep } from '../kubeadm/phase.js';
import { PlanBuilder } from '../phase/builder.js';
import type { ObserveContext, StepKind, StepKinds } from '../phase/types.js';
import type { NewNodes, Plan, PlannedStep } from '../plan.js';
import type { Cluster } from '../spec/types.js';
import { orderSteps } from './order.js';

export const PHASES = [infrastructure, images, kubernetes, addons] as const;

export type Step = InfraStep | ImageStep | KubeStep | AddonStep;
export type ClusterPlan = Plan<Step>;
export type ClusterStep = PlannedStep<Step>;

const KINDS: StepKinds<Step> = { ...infrastructure.kinds, ...images.kinds, ...kubernetes.kinds, ...addons.kinds };

/** The handler and scheduling facts of a step's kind. */
export function kindOf<S extends Step>(step: S): StepKind<S> {
  return KINDS[step.kind as S['kind']] as unknown as StepKind<S>;
}

export const rankOf = (step: Step): number => kindOf(step).rank;

/** What the cluster is now: each phase adds its part to what the phases before it observed. */
export async function observePhases(opts: Omit<ObserveContext, 'shared'>): Promise<ObservedCluster> {
  const ctx: ObserveContext = { ...opts, shared: new Map() };
  let observed: ObservedCluster = { name: ctx.cluster, nodes: [], orphanVolumes: [] };
  for (const phase of PHASES) {
    ctx.signal?.throwIfAborted();
    observed = await phase.observe(ctx, observed);
  }
  return observed;
}

function finish(b: PlanBuilder<Step>, cluster: string, file: string | undefined, newNodes?: NewNodes): ClusterPlan {
  return {
    cluster,
    ...(file !== undefined ? { file } : {}),
    steps: orderSteps(b.list, rankOf),
    warnings: b.warnings,
    ...(b.unchecked.length ? { unchecked: b.unchecked } : {}),
    ...(b.problems.length ? { problems: b.problems } : {}),
    ...(newNodes ? { newNodes } : {}),
  };
}

/** The node image and Kubernetes version of the nodes a plan creates or replaces. */
function newNodesOf(cluster: Cluster, nodes: NodePlan): NewNodes | undefined {
  if (nodes.created.length + nodes.replaced.length === 0) return undefined;
  const image = capabilitiesOf(cluster).nodeImage;
  return { ...(image ? { image } : {}), ...(cluster.spec.bootstrap === 'kubeadm' ? { kubernetesVersion: cluster.spec.kubernetesVersion } : {}) };
}

/** What the spec asks for beyond itself, resolved by reading files or downloading (never the cluster). */
export interface Resolved {
  /** What each enabled addon renders to now; only when the cluster's addons could be observed. */
  addons?: RenderedAddons;
  /** What the image source has for each of spec.images and the catalog addons' images; only when there are any. */
  images?: ResolvedImages;
}

/**
 * The desired side that takes I/O: the addons' rendered content (user manifests read or fetched,
 * metallb's auto pool from the observed node network), and the images of spec.images and of the
 * catalog addons in the driver's image source. Only what the plan will compare is resolved.
 */
export async function resolveDesired(cluster: Cluster, actual: ObservedCluster, opts: { specDir?: string; signal?: AbortSignal; driver?: Driver } = {}): Promise<Resolved> {
  const signal = opts.signal ? { signal: opts.signal } : {};
  const addons = async (): Promise<RenderedAddons | undefined> => {
    if (!actual.addons || actual.addons.error) return undefined;
    const [{ renderAddons }, { addonEnv, boundedSignal }] = await Promise.all([import('../addons/render.js'), import('../addons/observe.js')]);
    const fetch = { signal: boundedSignal(opts.signal) };
    return renderAddons(cluster, { specDir: opts.specDir ?? process.cwd(), env: addonEnv(actual), fetch, ...signal });
  };
  const wanted = opts.driver && keepsImages(cluster) ? opts.driver : undefined;
  const [rendered, resolvedImages] = await Promise.all([addons(), wanted ? resolveImages(cluster, actual, wanted.imageSource(), opts.signal) : undefined]);
  return { ...(rendered ? { addons: rendered } : {}), ...(resolvedImages ? { images: resolvedImages } : {}) };
}

export interface PlanOptions {
  file?: string;
  resolved?: Resolved;
  /** What the host's preflight finds becomes warnings instead of refusing the plan (--skip-preflight). */
  skipPreflight?: boolean;
}

/** desired (the spec, resolved) + observed -> the plan, phase by phase. Pure: no I/O, deterministic, no secrets. */
export function planCluster(cluster: Cluster, actual: ObservedCluster, opts: PlanOptions = {}): ClusterPlan {
  const b = new PlanBuilder<Step>();
  const nodes = planInfrastructure(b, cluster, actual, { skipPreflight: opts.skipPreflight ?? false });
  // A node that loads images counts as up once they are there: kubeadm goes after them.
  const loaded = planImages(b, cluster, actual, nodes, opts.resolved?.images);
  const kube = planKubernetes(b, cluster, actual, loaded.nodes);
  planAddonSteps(b, cluster, actual, kube, opts.resolved?.addons, loaded.addonSources);
  // Addons wait for every image load (their pods may run those images); kube.ready, when planned, already does.
  for (const s of b.list) if (s.step.kind === 'addon.apply') b.after(s.id, loaded.loads);
  return finish(b, cluster.metadata.name, opts.file, newNodesOf(cluster, nodes));
}

/**
 * Everything mk owns for the cluster, removed (exempt from the control-plane guard: the cluster goes).
 * With the spec of a cluster whose nodes are machines that stay (ssh), kubeadm reset runs on each first.
 */
export function planDelete(actual: ObservedCluster, spec?: Cluster): ClusterPlan {
  const b = new PlanBuilder<Step>();
  const removals = planInfrastructureDelete(b, actual);
  if (spec?.spec.bootstrap === 'kubeadm' && capabilitiesOf(spec).nodesOutliveCluster) planKubernetesDelete(b, actual, removals);
  return finish(b, actual.name, undefined);
}

/** mk stop: every running node stopped and kept (workers first); the cluster comes back with mk start. */
export function planStop(actual: ObservedCluster): ClusterPlan {
  const b = new PlanBuilder<Step>();
  planInfrastructureStop(b, actual);
  return finish(b, actual.name, undefined);
}
