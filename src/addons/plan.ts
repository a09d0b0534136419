// The addons phase's plan. Kubernetes must run (bootstrap: kubeadm); on a new cluster every enabled
// addon is installed after the bootstrap, else the observed inventories decide: enabled addons that
// are not installed, changed (spec, catalog version, rendered content) or drifted (objects deleted by
// hand) are applied, installed ones the spec no longer enables are removed. Dependencies are
// installed first and removed last; removals go before applies (an object can move from one addon
// to another). Addons that could not be observed are left alone, with a warning. Pure.
import { capabilitiesOf } from '../drivers/capabilities.js';
import type { ObservedAddon, ObservedCluster } from '../drivers/types.js';
import { PlanError } from '../errors.js';
import type { StepSink } from '../phase/builder.js';
import { stepId, type Action } from '../plan.js';
import type { AddonSpec, Cluster } from '../spec/types.js';
import { catalogAddon } from '../catalog/index.js';
import { CNI_ADDON_NAME } from '../kubeadm/plan.js';
import { diffAddons, type AddonDiff } from './diff.js';
import { addonDependencies, addonImages, desiredAddons } from '../spec/addons.js';
import type { RenderedAddons } from './render.js';
import type { AddonImageSource } from '../images/plan.js';

export type AddonStep = { kind: 'addon.apply'; addon: AddonSpec } | { kind: 'addon.remove'; addon: string };

function addonReason(a: AddonSpec, reason: AddonDiff['reasons'][string], inst: ObservedAddon | undefined): string {
  switch (reason) {
    case 'not installed':
      return 'not installed';
    case 'spec changed': {
      const version = a.manifests === undefined ? catalogAddon(a.name)?.version : undefined;
      return inst && version && inst.version !== version ? `version ${inst.version} → ${version}` : 'spec changed (options, manifests or force)';
    }
    case 'content changed':
      return 'what it renders to changed since the last apply';
    case 'drift': {
      const missing = inst?.missing ?? [];
      return `drift: ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''} missing`;
    }
  }
}

/** Why the spec wants an addon it does not list itself, for the step description. */
function impliedBy(cluster: Cluster, a: AddonSpec, enabled: readonly AddonSpec[]): string {
  if (cluster.spec.addons.some((x) => x.name === a.name)) return '';
  if (a.name === 'metallb' && cluster.spec.loadBalancer.enabled) return ' (for spec.loadBalancer)';
  const needers = enabled.filter((x) => addonDependencies(x).includes(a.name)).map((x) => x.name);
  return needers.length > 0 ? ` (needed by ${needers.join(', ')})` : '';
}

function removalReason(cluster: Cluster, name: string): string {
  if (cluster.spec.addons.some((a) => a.name === name)) return 'disabled in the spec';
  if (name === 'metallb') return 'spec.loadBalancer.enabled is false and metallb is not in spec.addons';
  return 'not in the spec (nor needed by an addon it lists)';
}

/**
 * "; images controller R1, speaker R2 from ...": where each image of the addon comes
 * from, when known; said on install, and otherwise only when mk loads one of them in this run.
 */
function imagesNote(cluster: Cluster, addon: string, sources: Readonly<Record<string, AddonImageSource>>, install: boolean): string {
  const mine = addonImages(cluster).filter((i) => i.addon === addon && sources[i.ref] !== undefined);
  if (!install && !mine.some((i) => sources[i.ref]!.loads)) return '';
  // Grouped by where they come from: "images a R1, b R2 from the local engine, c R3 on every node".
  const bySource = new Map<string, string[]>();
  for (const i of mine) {
    const { said } = sources[i.ref]!;
    bySource.set(said, [...(bySource.get(said) ?? []), `${i.key} ${i.ref}`]);
  }
  const parts = [...bySource].map(([source, images]) => `${images.join(', ')} ${source}`);
  return mine.length === 0 ? '' : `; image${mine.length === 1 ? '' : 's'} ${parts.join(', ')}`;
}

/**
 * Adds the addon steps. kube.ready: the step after which the cluster is usable (addons wait for it);
 * kube.fresh: the cluster is bootstrapped in this run, so every enabled addon is installed.
 * rendered: what each enabled addon renders to now (content changes are seen by it).
 * imageSources: where each catalog addon image comes from (the images phase decided), said in the reasons.
 */
export function planAddonSteps(
  b: StepSink<AddonStep>,
  cluster: Cluster,
  actual: ObservedCluster,
  kube: { ready?: string; fresh: boolean },
  rendered: RenderedAddons = { hashes: {}, errors: {} },
  imageSources: Readonly<Record<string, AddonImageSource>> = {},
): void {
  const name = cluster.metadata.name;
  const desired = desiredAddons(cluster);
  const enabled = desired.filter((a) => a.enabled);
  if (cluster.spec.addons.some((a) => a.name === CNI_ADDON_NAME)) {
    throw new PlanError(`cluster ${name}: addon name "${CNI_ADDON_NAME}" is reserved (mk records the networking.cni manifest under it); give the addon another name`);
  }
  if (cluster.spec.bootstrap !== 'kubeadm') {
    if (enabled.length > 0) b.warnings.push(`bootstrap: none runs no Kubernetes, so addons (${enabled.map((a) => a.name).join(', ')}) are not installed`);
    return;
  }
  if (!capabilitiesOf(cluster).autoAddressPool && cluster.spec.loadBalancer.addressPool === 'auto' && enabled.some((a) => a.name === 'metallb' && a.manifests === undefined)) {
    throw new PlanError(
      `cluster ${name}: loadBalancer.addressPool "auto" is carved from the cluster's Docker network, and ssh hosts have none. ` +
        'List the addresses MetalLB may hand out, free ones on the hosts\' network, e.g. addressPool: ["192.168.1.240-192.168.1.250"]',
    );
  }
  const applied = new Set<string>();
  const applyStep = (a: AddonSpec, action: Action, reason: string, after: (string | undefined)[]): void => {
    const verb = action === 'create' ? 'install' : reason.startsWith('drift') ? 'repair' : 'update';
    const needs = addonDependencies(a).filter((d) => applied.has(d)).map((d) => stepId('addon.apply', d));
    b.add({ kind: 'addon.apply', addon: a }, a.name, action, `${verb} addon ${a.name}${impliedBy(cluster, a, enabled)}`, reason + imagesNote(cluster, a.name, imageSources, action === 'create'), [kube.ready, ...after, ...needs]);
    applied.add(a.name);
  };

  if (kube.fresh) {
    for (const a of enabled) applyStep(a, 'create', 'new cluster', []);
    return;
  }
  const observed = actual.addons;
  if (!observed) return; // not checked by the caller
  if (observed.error) {
    b.warnings.push(`${observed.error}; addons are left as they are this run`);
    b.unchecked.push('addons');
    return;
  }
  const installed = new Map(observed.installed.map((i) => [i.name, i]));
  for (const i of observed.installed) {
    if (i.foreign.length > 0) {
      b.warnings.push(`addon ${i.name}: ${i.foreign.join(', ')} now exist${i.foreign.length === 1 ? 's' : ''} without mk's labels (replaced by someone else); mk leaves ${i.foreign.length === 1 ? 'it' : 'them'} alone unless the addon says force: true`);
    }
  }
  const d = diffAddons(desired, observed.installed, { contentHashes: rendered.hashes });

  const removes = new Map<string, string>();
  for (const r of d.remove) {
    const inst = installed.get(r)!;
    // Dependents go first: d.remove lists them first.
    const dependents = [...removes.keys()].filter((x) => installed.get(x)?.version !== 'user' && addonDependencies({ name: x }).includes(r));
    removes.set(r, b.add({ kind: 'addon.remove', addon: r }, r, 'remove', `remove addon ${r} (${inst.objects} object${inst.objects === 1 ? '' : 's'})`, removalReason(cluster, r), [kube.ready, ...dependents.map((x) => removes.get(x))]));
  }
  for (const a of enabled) {
    const broken = rendered.errors[a.name];
    const reason = d.reasons[a.name];
    if (broken === undefined && reason === undefined) continue;
    const text = broken !== undefined ? `cannot be rendered: ${broken}` : addonReason(a, reason!, installed.get(a.name));
    applyStep(a, installed.has(a.name) ? 'change' : 'create', text, [...removes.values()]);
  }
}
