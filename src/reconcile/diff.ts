// diff(desired, actual) -> Plan. Pure: no I/O, deterministic, no secrets.
import { PlanError } from '../errors.js';
import { expandNodes } from '../spec/nodes.js';
import type { AddonSpec, Cluster, DesiredNode, Role } from '../spec/types.js';
import type { ObservedAddon, ObservedCluster, ObservedNode } from '../drivers/types.js';
import { catalogAddon } from '../addons/catalog/index.js';
import { CNI_ADDON_NAME, addonDependencies, desiredAddons, diffAddons, type AddonDiff } from '../addons/diff.js';
import { nodeConfigHash, nodeImage } from './node-config.js';
import { orderSteps } from './order.js';
import type { Action, Plan, PlannedStep, Step } from './plan.js';

export { nodeConfigHash, nodeImage } from './node-config.js';

/** Stable step id: "<kind>:<subject>", e.g. "node.create:dev-worker-2". */
export function stepId(kind: Step['kind'], subject: string): string {
  return `${kind}:${subject}`;
}

function roleText(role: Role): string {
  return role === 'control-plane' ? 'control plane' : 'worker';
}

interface Replacement {
  node: DesiredNode;
  observed: ObservedNode;
  reason: string;
}

/** Collects steps; each helper returns the id so callers can depend on it. */
class Steps {
  readonly list: PlannedStep[] = [];
  add(step: Step, subject: string, action: Action, description: string, reason: string, dependsOn: (string | undefined)[] = []): string {
    const id = stepId(step.kind, subject);
    const deps = [...new Set(dependsOn.filter((d): d is string => d !== undefined))];
    this.list.push({ id, step, action, description, reason, implemented: IMPLEMENTED.has(step.kind), dependsOn: deps });
    return id;
  }
}

/** Kinds that have a real implementation today; the rest are filled in by later issues. */
export const IMPLEMENTED: ReadonlySet<Step['kind']> = new Set([
  'network.create',
  'network.remove',
  'node.create',
  'node.start',
  'node.remove',
  'volume.remove',
  'kubeadm.init',
  'kubeadm.join',
  'kubeadm.reset',
  'cni.apply',
  'kubeconfig.export',
  'cluster.wait',
  'addon.apply',
  'addon.remove',
]);

function changeReason(cluster: Cluster, node: DesiredNode, observed: ObservedNode, hash: string): string {
  const image = nodeImage(cluster);
  const parts: string[] = [];
  if (observed.image !== image) parts.push(`image ${observed.image} → ${image}`);
  if (observed.role !== node.role) parts.push(`role ${observed.role} → ${node.role}`);
  if (observed.pool !== node.pool) parts.push(`pool ${observed.pool} → ${node.pool}`);
  if (parts.length > 0) return parts.join(', ');
  return `creation settings changed (privileged, CRI, Kubernetes version or host): config hash ${observed.configHash} → ${hash}`;
}

function removalReason(cluster: Cluster, node: ObservedNode): string {
  const pool = cluster.spec.nodes.find((p) => p.name === node.pool);
  if (!pool) return `pool ${node.pool} is no longer in the spec`;
  const count = pool.hosts ? pool.hosts.length : pool.count;
  return `pool ${node.pool} scaled down to ${count}`;
}

/**
 * Refuse any plan that would leave the cluster without a control plane: one that removes every existing
 * control plane (scale-down, removed pool, role change), or replaces one in place while no other stands
 * (replacements roll one node at a time, after new control planes joined, so two are enough).
 */
function guardControlPlanes(cluster: Cluster, desired: DesiredNode[], actual: ObservedCluster, removed: ObservedNode[], replaced: Replacement[]): void {
  const name = cluster.metadata.name;
  const cps = desired.filter((n) => n.role === 'control-plane');
  if (cps.length === 0) {
    throw new PlanError(`cluster ${name}: the spec has no control-plane node; add a pool with role: control-plane (to delete the cluster run "mk delete ${name}")`);
  }
  const existing = actual.nodes.filter((n) => n.role === 'control-plane');
  if (existing.length === 0) return;
  const leaving = [
    ...removed.filter((n) => n.role === 'control-plane').map((n) => `${n.name} (${removalReason(cluster, n)})`),
    ...replaced.filter((r) => r.observed.role === 'control-plane' && r.node.role !== 'control-plane').map((r) => `${r.node.name} (${r.reason})`),
  ];
  const advice = `to start over, delete the cluster with "mk delete ${name}" and apply again`;
  if (leaving.length === existing.length) {
    throw new PlanError(
      `refusing to remove the last control plane of cluster ${name}: ${leaving.join(', ')} would leave no existing control plane standing. ` +
        `Add the new control plane first and apply, then remove the old one in a second apply; ${advice}.`,
    );
  }
  const fresh = cps.filter((n) => !actual.nodes.some((o) => o.name === n.name)).length;
  const inPlace = replaced.filter((r) => r.observed.role === 'control-plane' && r.node.role === 'control-plane');
  if (inPlace.length > 0 && existing.length + fresh < 2) {
    const r = inPlace[0]!;
    throw new PlanError(
      `refusing to replace ${r.node.name} (${r.reason}): it is the only control plane of cluster ${name}, and replacing it would destroy the cluster. ` +
        `Add a second control plane first and apply, then change it; ${advice}.`,
    );
  }
}

export function diff(cluster: Cluster, actual: ObservedCluster, opts: { file?: string } = {}): Plan {
  const name = cluster.metadata.name;
  const desired = expandNodes(cluster);
  const desiredNames = new Set(desired.map((n) => n.name));
  const observed = new Map(actual.nodes.map((n) => [n.name, n]));
  const image = nodeImage(cluster);
  const warnings: string[] = [];
  const s = new Steps();

  // Classify every node.
  const created: DesiredNode[] = [];
  const replaced: Replacement[] = [];
  const stopped: { node: DesiredNode; observed: ObservedNode }[] = [];
  // A node container that was never started (a run killed mid-create) is created again: the
  // driver's createNode starts or recreates it.
  const halfMade = new Set(actual.nodes.filter((n) => n.state === 'created').map((n) => n.name));
  const missing = (node: DesiredNode) => (halfMade.has(node.name) ? 'never started (left by an interrupted run)' : 'missing');
  for (const node of desired) {
    const o = observed.get(node.name);
    const hash = nodeConfigHash(cluster, node);
    // An unreachable host (ssh) is never created, replaced or started over: it is left alone and said so.
    if (o?.state === 'unreachable') warnings.push(`node ${node.name} is unreachable and left alone this run${o.detail ? `: ${o.detail}` : ''}`);
    else if (!o || (halfMade.has(node.name) && o.configHash === hash)) created.push(node);
    else if (o.configHash !== hash) replaced.push({ node, observed: o, reason: changeReason(cluster, node, o, hash) });
    else if (o.state !== 'running') stopped.push({ node, observed: o });
  }
  const removed = actual.nodes.filter((n) => !desiredNames.has(n.name)).sort((a, b) => b.ordinal - a.ordinal || a.name.localeCompare(b.name));

  guardControlPlanes(cluster, desired, actual, removed, replaced);

  // Network (docker only: ssh hosts bring their own).
  let network: string | undefined;
  if (cluster.spec.driver.name === 'docker') {
    const opts = cluster.spec.driver.docker;
    const netName = opts.network ?? `mk-${name}`;
    if (!actual.network) {
      network = s.add(
        { kind: 'network.create', cluster: name, ...(opts.network ? { name: opts.network } : {}), ...(opts.subnet ? { subnet: opts.subnet } : {}) },
        name,
        'create',
        `create network ${netName}${opts.subnet ? ` (${opts.subnet})` : ''}`,
        'missing',
      );
    } else if (opts.subnet && actual.network.subnet && opts.subnet !== actual.network.subnet) {
      warnings.push(`network ${actual.network.name} has subnet ${actual.network.subnet}, the spec asks for ${opts.subnet}; changing it needs "mk delete ${name}"`);
    }
  }

  // Orphan volumes go before any node is created, so a new node never meets a stale volume.
  const volumes = [...actual.orphanVolumes]
    .sort()
    .map((v) => s.add({ kind: 'volume.remove', volume: v }, v, 'remove', `remove orphan volume ${v}`, 'no node uses it (left by an interrupted run)'));

  const kube = cluster.spec.bootstrap === 'kubeadm';
  const existingControlPlanes = actual.nodes.filter((n) => n.role === 'control-plane' && !halfMade.has(n.name));
  // A node whose sentinel was not read (stopped, unreachable, or a driver that does not say) counts as joined.
  const joined = (o: ObservedNode | undefined): boolean => o !== undefined && !halfMade.has(o.name) && o.kubeadm !== 'none';
  const bootstrap = kube && !existingControlPlanes.some(joined);
  const firstControlPlane = bootstrap ? desired.find((n) => n.role === 'control-plane') : undefined;
  let firstCpPortGiven = existingControlPlanes.some((n) => n.apiServerPort !== undefined);

  const createNode = (node: DesiredNode, action: Action, reason: string, after: (string | undefined)[], previous?: ObservedNode): string => {
    let apiServerPort: number | undefined;
    if (node.role === 'control-plane') {
      // A replaced control plane keeps its published port, so kubeconfigs stay valid.
      apiServerPort = previous?.apiServerPort ?? (firstCpPortGiven ? 0 : cluster.spec.networking.apiServerPort);
      firstCpPortGiven = true;
    }
    const step: Step = { kind: 'node.create', node, image, configHash: nodeConfigHash(cluster, node), ...(apiServerPort !== undefined ? { apiServerPort } : {}) };
    const what = action === 'replace' ? ' with the new settings' : '';
    const note = actual.hostNotes?.[node.name];
    return s.add(step, node.name, action, `create node ${node.name} (${roleText(node.role)})${what}`, note ? `${reason}; host: ${note}` : reason, [network, ...volumes, ...after]);
  };
  const join = (node: DesiredNode, action: Action, reason: string, after: (string | undefined)[]): string =>
    s.add(
      { kind: 'kubeadm.join', node: node.name, role: node.role },
      node.name,
      action,
      `join ${node.name} to the cluster as a ${roleText(node.role)}`,
      reason,
      after,
    );
  const removeNode = (o: ObservedNode, role: Role, action: Action, reason: string, after: (string | undefined)[]): string => {
    const reset = kube && o.kubeadm !== 'none'
      ? s.add({ kind: 'kubeadm.reset', node: o.name, role, drain: true }, o.name, action, `drain ${o.name}, kubeadm reset, delete its Node`, reason, after)
      : undefined;
    return s.add({ kind: 'node.remove', node: o.name, role }, o.name, action, `remove node ${o.name} (${roleText(role)})`, reason, reset ? [reset] : after);
  };

  // Containers: new nodes (the first control plane first, so it gets the requested API port), stopped ones started.
  const up = new Map<string, string>();
  const createdCps = created.filter((n) => n.role === 'control-plane');
  for (const node of [...createdCps.filter((n) => n === firstControlPlane), ...created.filter((n) => n !== firstControlPlane)]) {
    up.set(node.name, createNode(node, 'create', missing(node), []));
  }
  for (const { node, observed: o } of stopped) {
    up.set(node.name, s.add({ kind: 'node.start', node: node.name, role: node.role }, node.name, 'start', `start node ${node.name} (${roleText(node.role)})`, `node is ${o.state}`, [network]));
  }
  // Which nodes kubeadm must still run on: new containers and running nodes without the sentinel
  // (a stopped node's sentinel is read once it runs again, on the next apply).
  const joinReason = (node: DesiredNode): string | undefined => {
    const o = observed.get(node.name);
    if (created.includes(node)) return 'new node';
    if (o?.state === 'running' && o.kubeadm === 'none') return 'kubeadm has not finished on this node (left by an interrupted run)';
    if (o?.state === 'running' && o.kubeadm === 'stale') return 'joined an earlier cluster of this name (another CA): reset, then join again';
    // Initialising the control plane again (it was removed) makes a new CA: joined nodes follow.
    if (o?.state === 'running' && o.kubeadm === 'done' && firstControlPlane && node !== firstControlPlane) return 'the control plane is initialised again: reset, then join again';
    return undefined;
  };

  const joins: string[] = [];
  const cpJoins: string[] = [];
  let init: string | undefined;
  if (kube && firstControlPlane) {
    const reason = created.includes(firstControlPlane) ? 'new cluster: first control plane' : 'new cluster: kubeadm has not finished on the first control plane';
    init = s.add({ kind: 'kubeadm.init', node: firstControlPlane.name }, firstControlPlane.name, 'create', `kubeadm init on ${firstControlPlane.name}`, reason, [up.get(firstControlPlane.name)]);
  }
  if (kube) {
    // New control planes join one after another, then replaced control planes roll one at a time.
    for (const node of desired.filter((n) => n.role === 'control-plane' && n !== firstControlPlane)) {
      const reason = joinReason(node);
      if (reason) cpJoins.push(join(node, 'create', reason, [up.get(node.name), init, cpJoins.at(-1)]));
    }
  }
  const freshCpJoins = [...cpJoins];
  for (const r of replaced.filter((x) => x.observed.role === 'control-plane' || x.node.role === 'control-plane')) {
    const gone = removeNode(r.observed, r.observed.role, 'replace', r.reason, [...freshCpJoins, cpJoins.at(-1)]);
    const create = createNode(r.node, 'replace', r.reason, [gone], r.observed);
    const joined = kube ? join(r.node, 'replace', r.reason, [create, cpJoins.at(-1)]) : create;
    if (r.node.role === 'control-plane') cpJoins.push(joined);
  }
  joins.push(...cpJoins);
  // Workers in parallel.
  if (kube) {
    for (const node of desired.filter((n) => n.role === 'worker')) {
      const reason = joinReason(node);
      if (reason) joins.push(join(node, 'create', reason, [up.get(node.name), init]));
    }
  }
  for (const r of replaced.filter((x) => x.observed.role === 'worker' && x.node.role === 'worker')) {
    const gone = removeNode(r.observed, r.observed.role, 'replace', r.reason, []);
    const create = createNode(r.node, 'replace', r.reason, [gone]);
    if (kube) joins.push(join(r.node, 'replace', r.reason, [create, init]));
  }

  // Cluster network (endpoint name, CNI) whenever the set of nodes changes; removals come after it,
  // so no node still points at a control plane that is leaving.
  const joinedLeaving = removed.filter((o) => o.kubeadm !== 'none');
  let net: string | undefined;
  if (kube && (init || joins.length > 0 || joinedLeaving.length > 0)) {
    const cni = cluster.spec.networking.cni;
    const what = cni === 'auto' ? 'mk CNI' : cni === 'none' ? 'no CNI' : `CNI from ${cni}`;
    net = s.add({ kind: 'cni.apply', cni }, name, init ? 'create' : 'change', `cluster network: API endpoint name, ${what}`, init ? 'new cluster' : 'nodes join or leave', [init, ...joins]);
  }
  // Scale down: control planes only after every new control plane has joined.
  for (const o of removed) {
    removeNode(o, o.role, 'remove', removalReason(cluster, o), [net, ...(o.role === 'control-plane' ? cpJoins : [])]);
  }

  let last: string | undefined;
  if (kube) {
    const cpChanged = init !== undefined || replaced.some((r) => r.observed.role === 'control-plane') || removed.some((o) => o.role === 'control-plane');
    const missingContext = actual.kubeconfig === 'missing';
    if (cpChanged || missingContext) {
      const reason = init ? 'new cluster' : cpChanged ? 'a control plane leaves' : `context mk-${name} is missing or points elsewhere`;
      last = s.add({ kind: 'kubeconfig.export', cluster: name }, name, init ? 'create' : 'change', `export kubeconfig context mk-${name}`, reason, s.list.map((x) => x.id));
    }
    if (init || joins.length > 0 || net || stopped.length > 0) {
      last = s.add({ kind: 'cluster.wait', cluster: name }, name, init ? 'create' : 'change', 'wait until every node is Ready and CoreDNS answers', init ? 'new cluster' : 'nodes changed', s.list.map((x) => x.id));
    }
  }

  // Addons, after the cluster steps: all of them on a new cluster, else what the API server shows missing, changed or drifted.
  const unchecked: string[] = [];
  addonSteps(s, cluster, actual, { kube, fresh: firstControlPlane !== undefined, after: last ?? init, warnings, unchecked });

  return { cluster: name, ...(opts.file !== undefined ? { file: opts.file } : {}), steps: orderSteps(s.list), warnings, ...(unchecked.length ? { unchecked } : {}) };
}

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

function removalReasonOf(cluster: Cluster, name: string): string {
  if (cluster.spec.addons.some((a) => a.name === name)) return 'disabled in the spec';
  if (name === 'metallb') return 'spec.loadBalancer.enabled is false and metallb is not in spec.addons';
  return 'not in the spec (nor needed by an addon it lists)';
}

/**
 * Addon steps. Kubernetes must run (bootstrap: kubeadm); on a new cluster every enabled addon is
 * installed after the bootstrap, else the observed inventories decide: enabled addons that are not
 * installed, changed (spec, catalog version, rendered content) or drifted (objects deleted by hand)
 * are applied, installed ones the spec no longer enables are removed. Dependencies are installed
 * first and removed last; removals go before applies (an object can move from one addon to another).
 * Addons that could not be observed are left alone, with a warning.
 */
function addonSteps(s: Steps, cluster: Cluster, actual: ObservedCluster, ctx: { kube: boolean; fresh: boolean; after: string | undefined; warnings: string[]; unchecked: string[] }): void {
  const name = cluster.metadata.name;
  const desired = desiredAddons(cluster);
  const enabled = desired.filter((a) => a.enabled);
  if (cluster.spec.addons.some((a) => a.name === CNI_ADDON_NAME)) {
    throw new PlanError(`cluster ${name}: addon name "${CNI_ADDON_NAME}" is reserved (mk records the networking.cni manifest under it); give the addon another name`);
  }
  if (!ctx.kube) {
    if (enabled.length > 0) ctx.warnings.push(`bootstrap: none runs no Kubernetes, so addons (${enabled.map((a) => a.name).join(', ')}) are not installed`);
    return;
  }
  if (cluster.spec.driver.name === 'ssh' && cluster.spec.loadBalancer.addressPool === 'auto' && enabled.some((a) => a.name === 'metallb' && a.manifests === undefined)) {
    throw new PlanError(
      `cluster ${name}: loadBalancer.addressPool "auto" is carved from the cluster's Docker network, and ssh hosts have none. ` +
        'List the addresses MetalLB may hand out, free ones on the hosts\' network, e.g. addressPool: ["192.168.1.240-192.168.1.250"]',
    );
  }
  const applyStep = (a: AddonSpec, action: Action, reason: string, after: (string | undefined)[]): string => {
    const verb = action === 'create' ? 'install' : reason.startsWith('drift') ? 'repair' : 'update';
    const needs = addonDependencies(a).map((d) => stepId('addon.apply', d)).filter((id) => s.list.some((x) => x.id === id));
    return s.add({ kind: 'addon.apply', addon: a }, a.name, action, `${verb} addon ${a.name}${impliedBy(cluster, a, enabled)}`, reason, [ctx.after, ...after, ...needs]);
  };

  if (ctx.fresh) {
    for (const a of enabled) applyStep(a, 'create', 'new cluster', []);
    return;
  }
  const observed = actual.addons;
  if (!observed) return; // not checked by the caller
  if (observed.error) {
    ctx.warnings.push(`${observed.error}; addons are left as they are this run`);
    ctx.unchecked.push('addons');
    return;
  }
  const installed = new Map(observed.installed.map((i) => [i.name, i]));
  for (const i of observed.installed) {
    if (i.foreign.length > 0) {
      ctx.warnings.push(`addon ${i.name}: ${i.foreign.join(', ')} now exist${i.foreign.length === 1 ? 's' : ''} without mk's labels (replaced by someone else); mk leaves ${i.foreign.length === 1 ? 'it' : 'them'} alone unless the addon says force: true`);
    }
  }
  const d = diffAddons(desired, observed.installed, { contentHashes: observed.rendered });

  const removes = new Map<string, string>();
  for (const r of d.remove) {
    const inst = installed.get(r)!;
    // Dependents go first: d.remove lists them first.
    const dependents = [...removes.keys()].filter((x) => installed.get(x)?.version !== 'user' && addonDependencies({ name: x }).includes(r));
    removes.set(r, s.add({ kind: 'addon.remove', addon: r }, r, 'remove', `remove addon ${r} (${inst.objects} object${inst.objects === 1 ? '' : 's'})`, removalReasonOf(cluster, r), [ctx.after, ...dependents.map((x) => removes.get(x))]));
  }
  for (const a of enabled) {
    const broken = observed.renderErrors[a.name];
    const reason = d.reasons[a.name];
    if (broken === undefined && reason === undefined) continue;
    const text = broken !== undefined ? `cannot be rendered: ${broken}` : addonReason(a, reason!, installed.get(a.name));
    applyStep(a, installed.has(a.name) ? 'change' : 'create', text, [...removes.values()]);
  }
}

/**
 * Everything mk owns for the cluster, removed. Exempt from the control-plane guard: the cluster goes.
 * resetHosts (ssh): machines stay, so kubeadm reset runs on each first (no drain: the cluster goes).
 */
export function deletePlan(actual: ObservedCluster, opts: { resetHosts?: boolean } = {}): Plan {
  const s = new Steps();
  const gone = [...actual.nodes]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((n) => {
      const reset =
        opts.resetHosts && n.state === 'running'
          ? s.add({ kind: 'kubeadm.reset', node: n.name, role: n.role, drain: false }, n.name, 'remove', `kubeadm reset on ${n.name}`, 'mk delete')
          : undefined;
      return s.add({ kind: 'node.remove', node: n.name, role: n.role }, n.name, 'remove', `remove node ${n.name} (${roleText(n.role)})`, 'mk delete', [reset]);
    });
  const volumes = [...actual.orphanVolumes]
    .sort()
    .map((v) => s.add({ kind: 'volume.remove', volume: v }, v, 'remove', `remove orphan volume ${v}`, 'mk delete'));
  if (actual.network) {
    s.add({ kind: 'network.remove', cluster: actual.name }, actual.name, 'remove', `remove network ${actual.network.name}`, 'mk delete', [...gone, ...volumes]);
  }
  return { cluster: actual.name, steps: orderSteps(s.list), warnings: [] };
}
