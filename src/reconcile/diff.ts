// diff(desired, actual) -> Plan. Pure: no I/O, deterministic, no secrets.
import { PlanError } from '../errors.js';
import { expandNodes } from '../spec/nodes.js';
import type { Cluster, DesiredNode, Role } from '../spec/types.js';
import type { ObservedCluster, ObservedNode } from '../drivers/types.js';
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

  const existingControlPlanes = actual.nodes.filter((n) => n.role === 'control-plane' && !halfMade.has(n.name));
  const bootstrap = existingControlPlanes.length === 0;
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
  const removeNode = (name: string, role: Role, action: Action, reason: string, after: (string | undefined)[]): string => {
    const reset = s.add({ kind: 'kubeadm.reset', node: name, role }, name, action, `kubeadm reset on ${name}`, reason, after);
    return s.add({ kind: 'node.remove', node: name, role }, name, action, `remove node ${name} (${roleText(role)})`, reason, [reset]);
  };

  // Bootstrap: first control plane, CNI, kubeconfig, addons.
  let init: string | undefined;
  const cpJoins: string[] = [];
  const createdCps = created.filter((n) => n.role === 'control-plane');
  const createdWorkers = created.filter((n) => n.role === 'worker');
  if (firstControlPlane) {
    const create = createNode(firstControlPlane, 'create', missing(firstControlPlane), []);
    init = s.add({ kind: 'kubeadm.init', node: firstControlPlane.name }, firstControlPlane.name, 'create', `kubeadm init on ${firstControlPlane.name}`, 'new cluster: first control plane', [create]);
    let last = init;
    if (cluster.spec.networking.cni !== 'none') {
      last = s.add({ kind: 'cni.apply', cni: cluster.spec.networking.cni }, name, 'create', `install CNI (${cluster.spec.networking.cni})`, 'new cluster', [init]);
    }
    s.add({ kind: 'kubeconfig.export', cluster: name }, name, 'create', `export kubeconfig for ${name}`, 'new cluster', [init]);
    for (const addon of cluster.spec.addons.filter((a) => a.enabled)) {
      last = s.add({ kind: 'addon.apply', addon }, addon.name, 'create', `install addon ${addon.name}`, 'new cluster', [last]);
    }
  }
  if (cluster.spec.addons.length > 0) {
    const all = cluster.spec.addons.map((a) => a.name).join(', ');
    const enabled = cluster.spec.addons.filter((a) => a.enabled).map((a) => a.name).join(', ') || 'none';
    warnings.push(
      bootstrap
        ? `addons are not reconciled yet: enabled ones (${enabled}) are only planned with the first bootstrap and reported as not implemented`
        : `addons are not reconciled yet: ${all} are not checked or changed by this plan`,
    );
  }

  // New control planes join one after another, then replaced control planes roll one at a time.
  for (const node of createdCps.filter((n) => n !== firstControlPlane)) {
    const create = createNode(node, 'create', missing(node), []);
    cpJoins.push(join(node, 'create', 'new node', [create, init, cpJoins.at(-1)]));
  }
  const freshCpJoins = [...cpJoins];
  for (const r of replaced.filter((x) => x.observed.role === 'control-plane' || x.node.role === 'control-plane')) {
    const gone = removeNode(r.node.name, r.observed.role, 'replace', r.reason, [...freshCpJoins, cpJoins.at(-1)]);
    const create = createNode(r.node, 'replace', r.reason, [gone], r.observed);
    const joined = join(r.node, 'replace', r.reason, [create, cpJoins.at(-1)]);
    if (r.node.role === 'control-plane') cpJoins.push(joined);
  }
  // Workers in parallel.
  for (const node of createdWorkers) {
    const create = createNode(node, 'create', missing(node), []);
    join(node, 'create', 'new node', [create, init]);
  }
  for (const r of replaced.filter((x) => x.observed.role === 'worker' && x.node.role === 'worker')) {
    const gone = removeNode(r.node.name, r.observed.role, 'replace', r.reason, []);
    const create = createNode(r.node, 'replace', r.reason, [gone]);
    join(r.node, 'replace', r.reason, [create, init]);
  }
  for (const { node, observed: o } of stopped) {
    s.add({ kind: 'node.start', node: node.name, role: node.role }, node.name, 'start', `start node ${node.name} (${roleText(node.role)})`, `node is ${o.state}`, [network]);
  }
  // Scale down: control planes only after every new control plane has joined.
  for (const o of removed) {
    removeNode(o.name, o.role, 'remove', removalReason(cluster, o), o.role === 'control-plane' ? cpJoins : []);
  }

  return { cluster: name, ...(opts.file !== undefined ? { file: opts.file } : {}), steps: orderSteps(s.list), warnings };
}

/** Everything mk owns for the cluster, removed. Exempt from the control-plane guard: the cluster goes. */
export function deletePlan(actual: ObservedCluster): Plan {
  const s = new Steps();
  const gone = [...actual.nodes]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((n) => s.add({ kind: 'node.remove', node: n.name, role: n.role }, n.name, 'remove', `remove node ${n.name} (${roleText(n.role)})`, 'mk delete'));
  const volumes = [...actual.orphanVolumes]
    .sort()
    .map((v) => s.add({ kind: 'volume.remove', volume: v }, v, 'remove', `remove orphan volume ${v}`, 'mk delete'));
  if (actual.network) {
    s.add({ kind: 'network.remove', cluster: actual.name }, actual.name, 'remove', `remove network ${actual.network.name}`, 'mk delete', [...gone, ...volumes]);
  }
  return { cluster: actual.name, steps: orderSteps(s.list), warnings: [] };
}
