// The infrastructure phase's plan: the cluster network, orphan volumes, and the nodes to create,
// start, replace and remove. Pure. What it decides about nodes (NodePlan) is what the Kubernetes
// phase plans its steps around.
import { capabilitiesOf } from '../drivers/capabilities.js';
import type { ObservedCluster, ObservedNode } from '../drivers/types.js';
import { PlanError } from '../errors.js';
import type { StepSink } from '../phase/builder.js';
import type { Action } from '../plan.js';
import { expandNodes, roleText } from '../spec/nodes.js';
import type { Cluster, DesiredNode, Role } from '../spec/types.js';
import { nodeConfigHash, nodeImage } from './node-config.js';
import { preflightHost, type NodesUp } from './preflight.js';
import { isUp, type InfraStep } from './steps.js';
import { planLoadBalancer, wantsLoadBalancer, type EndpointPlan } from './load-balancer.js';

/** A node whose creation settings changed: removed, then created again. */
export interface Replacement {
  node: DesiredNode;
  observed: ObservedNode;
  reason: string;
  /** Step ids: node.remove of the old node, node.create of the new one (or the step after it that the node waits for: the load of its images). */
  remove: string;
  create: string;
}

/** A node the spec no longer has. */
export interface Removal {
  observed: ObservedNode;
  reason: string;
  /** The node.remove step. */
  remove: string;
}

export interface NodePlan {
  desired: DesiredNode[];
  observed: Map<string, ObservedNode>;
  /** Node containers a killed run created but never started: created again. */
  halfMade: Set<string>;
  created: DesiredNode[];
  replaced: Replacement[];
  /** Highest ordinal first. */
  removed: Removal[];
  stopped: DesiredNode[];
  /** Per new or stopped node: the step that brings it up (node.create or node.start; or the load of its images after it: src/images/plan.ts). */
  up: Map<string, string>;
  /** mk's load balancer in front of the control planes: its steps in this run. */
  endpoint: EndpointPlan;
}

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
function guardControlPlanes(cluster: Cluster, desired: DesiredNode[], actual: ObservedCluster, removed: ObservedNode[], replaced: Omit<Replacement, 'remove' | 'create'>[]): void {
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

const removeStep = (b: StepSink<InfraStep>, o: ObservedNode, role: Role, action: Action, reason: string, after: (string | undefined)[] = []): string =>
  b.add({ kind: 'node.remove', node: o.name, role }, o.name, action, `remove node ${o.name} (${roleText(role)})`, reason, after);

/** Every desired node sorted by what it needs: created, changed (replaced), stopped (started), or left alone. */
export interface NodeClasses {
  desired: DesiredNode[];
  observed: Map<string, ObservedNode>;
  /** Node containers a killed run created but never started: created again. */
  halfMade: Set<string>;
  created: DesiredNode[];
  changed: Omit<Replacement, 'remove' | 'create'>[];
  stopped: DesiredNode[];
  /** Unreachable hosts (ssh): never created, replaced or started over. */
  unreachable: ObservedNode[];
}

export function classifyNodes(cluster: Cluster, actual: ObservedCluster): NodeClasses {
  const desired = expandNodes(cluster);
  const observed = new Map(actual.nodes.map((n) => [n.name, n]));
  // A node container that was never started (a run killed mid-create) is created again: the
  // driver's createNode starts or recreates it.
  const halfMade = new Set(actual.nodes.filter((n) => n.state === 'created').map((n) => n.name));
  const classes: NodeClasses = { desired, observed, halfMade, created: [], changed: [], stopped: [], unreachable: [] };
  for (const node of desired) {
    const o = observed.get(node.name);
    const hash = nodeConfigHash(cluster, node);
    if (o?.state === 'unreachable') classes.unreachable.push(o);
    else if (!o || (halfMade.has(node.name) && o.configHash === hash)) classes.created.push(node);
    else if (o.configHash !== hash) classes.changed.push({ node, observed: o, reason: changeReason(cluster, node, o, hash) });
    else if (o.state !== 'running') classes.stopped.push(node);
  }
  return classes;
}

/** The nodes a plan with these classes brings up (what the host's preflight checks). */
export const nodesUp = (c: NodeClasses): NodesUp => ({ created: c.created, started: c.stopped, replaced: c.changed.map((r) => r.node) });

export interface InfrastructureOptions {
  /** Host problems become warnings instead of refusing the plan (--skip-preflight). */
  skipPreflight?: boolean;
}

export function planInfrastructure(b: StepSink<InfraStep>, cluster: Cluster, actual: ObservedCluster, opts: InfrastructureOptions = {}): NodePlan {
  const name = cluster.metadata.name;
  const classes = classifyNodes(cluster, actual);
  const { desired, observed, halfMade, created, changed, stopped } = classes;
  const desiredNames = new Set(desired.map((n) => n.name));
  const image = nodeImage(cluster);
  // An unreachable host (ssh) is left alone and said so.
  for (const o of classes.unreachable) b.warnings.push(`node ${o.name} is unreachable and left alone this run${o.detail ? `: ${o.detail}` : ''}`);
  const leaving = actual.nodes.filter((n) => !desiredNames.has(n.name)).sort((a, b) => b.ordinal - a.ordinal || a.name.localeCompare(b.name));
  guardControlPlanes(cluster, desired, actual, leaving, changed);
  if (actual.host) preflightHost(b, cluster, actual.host, nodesUp(classes), opts.skipPreflight ?? false);

  // The network (when the driver makes one) and the volumes no node uses: before any node is created.
  let network: string | undefined;
  const net = capabilitiesOf(cluster).network;
  if (net && !actual.network) {
    network = b.add({ kind: 'network.create', ...net.request }, name, 'create', `create network ${net.name}${net.request.subnet ? ` (${net.request.subnet})` : ''}`, 'missing');
  } else if (net?.request.subnet && actual.network?.subnet && net.request.subnet !== actual.network.subnet) {
    b.warnings.push(`network ${actual.network.name} has subnet ${actual.network.subnet}, the spec asks for ${net.request.subnet}; changing it needs "mk delete ${name}"`);
  }
  // A node container removed by hand leaves its /var volume: the node is missing, and the volume goes with it.
  const missing = new Set(created.filter((n) => !halfMade.has(n.name)).map((n) => n.name));
  const removedByHand = new Set<string>();
  const volumes = [...actual.orphanVolumes].sort().map((v) => {
    const node = actual.orphanVolumeNodes?.[v];
    if (node && missing.has(node)) {
      removedByHand.add(node);
      return b.add({ kind: 'volume.remove', volume: v }, v, 'remove', `remove volume ${v} (/var of node ${node})`, `node ${node} is missing (its container was removed, or an interrupted run never created it), and its /var volume goes with it`);
    }
    const why = node && !desiredNames.has(node) ? `node ${node} is gone and no longer in the spec` : 'left by an interrupted run';
    return b.add({ kind: 'volume.remove', volume: v }, v, 'remove', `remove orphan volume ${v}`, `no node uses it (${why})`);
  });

  // The first control plane created gets the requested API port (the load balancer, when a new
  // cluster starts with one); a replaced one keeps its port, so kubeconfigs stay valid.
  let portGiven = actual.nodes.some((n) => n.role === 'control-plane' && !halfMade.has(n.name) && n.apiServerPort !== undefined);
  const lbPort = !portGiven && wantsLoadBalancer(cluster) && !actual.loadBalancer ? cluster.spec.networking.apiServerPort : 0;
  if (lbPort !== 0) portGiven = true;
  const createStep = (node: DesiredNode, action: Action, reason: string, after: (string | undefined)[], previous?: ObservedNode): string => {
    let apiServerPort: number | undefined;
    if (node.role === 'control-plane') {
      apiServerPort = previous?.apiServerPort ?? (portGiven ? 0 : cluster.spec.networking.apiServerPort);
      portGiven = true;
    }
    const note = actual.hostNotes?.[node.name];
    return b.add(
      { kind: 'node.create', node, image, configHash: nodeConfigHash(cluster, node), ...(apiServerPort !== undefined ? { apiServerPort } : {}) },
      node.name,
      action,
      `create node ${node.name} (${roleText(node.role)})${action === 'replace' ? ' with the new settings' : ''}`,
      note ? `${reason}; host: ${note}` : reason,
      [network, ...volumes, ...after],
    );
  };

  const up = new Map<string, string>();
  const createReason = (node: DesiredNode): string =>
    halfMade.has(node.name) ? 'never started (left by an interrupted run)' : removedByHand.has(node.name) ? 'missing: created again, with a new /var volume' : 'missing';
  for (const node of created) up.set(node.name, createStep(node, 'create', createReason(node), []));
  for (const node of stopped) {
    const o = observed.get(node.name)!;
    up.set(node.name, b.add({ kind: 'node.start', node: node.name, role: node.role }, node.name, 'start', `start node ${node.name} (${roleText(node.role)})`, `node is ${o.state}`, [network]));
  }

  // Replacements: control planes roll one at a time (each leaves after the one before is back), then workers.
  const replaced: Replacement[] = [];
  let lastControlPlane: string | undefined;
  for (const r of changed.filter((x) => x.observed.role === 'control-plane' || x.node.role === 'control-plane')) {
    const remove = removeStep(b, r.observed, r.observed.role, 'replace', r.reason, [lastControlPlane]);
    const create = createStep(r.node, 'replace', r.reason, [remove], r.observed);
    if (r.node.role === 'control-plane') lastControlPlane = create;
    replaced.push({ ...r, remove, create });
  }
  for (const r of changed.filter((x) => x.observed.role === 'worker' && x.node.role === 'worker')) {
    const remove = removeStep(b, r.observed, r.observed.role, 'replace', r.reason);
    replaced.push({ ...r, remove, create: createStep(r.node, 'replace', r.reason, [remove]) });
  }

  // Scale down, highest ordinal first; control planes only after the replaced ones are back.
  const cpsBack = replaced.filter((r) => r.node.role === 'control-plane').map((r) => r.create);
  const removed = leaving.map((o): Removal => {
    const reason = removalReason(cluster, o);
    return { observed: o, reason, remove: removeStep(b, o, o.role, 'remove', reason, o.role === 'control-plane' ? cpsBack : []) };
  });

  const cpsCreated = [
    ...created.filter((n) => n.role === 'control-plane').map((n) => up.get(n.name)!),
    ...replaced.filter((r) => r.node.role === 'control-plane').map((r) => r.create),
  ];
  const cpsLeaving = removed.some((r) => r.observed.role === 'control-plane') || replaced.some((r) => r.observed.role === 'control-plane');
  const endpoint = planLoadBalancer(b, cluster, actual, { ...(network ? { network } : {}), cpsUp: cpsCreated, cpsLeaving, apiServerPort: lbPort, desired });
  return { desired, observed, halfMade, created, replaced, removed, stopped, up, endpoint };
}

/** Everything mk owns for the cluster, removed: nodes (even the last control plane), orphan volumes, then the network. */
export function planInfrastructureDelete(b: StepSink<InfraStep>, actual: ObservedCluster): Map<string, string> {
  const removals = new Map<string, string>();
  for (const n of [...actual.nodes].sort((a, z) => a.name.localeCompare(z.name))) removals.set(n.name, removeStep(b, n, n.role, 'remove', 'mk delete'));
  const volumes = [...actual.orphanVolumes].sort().map((v) => b.add({ kind: 'volume.remove', volume: v }, v, 'remove', `remove orphan volume ${v}`, 'mk delete'));
  const lb = actual.loadBalancer ? [b.add({ kind: 'lb.remove', cluster: actual.name }, actual.name, 'remove', `remove the load balancer ${actual.loadBalancer.name}`, 'mk delete')] : [];
  if (actual.network) {
    b.add({ kind: 'network.remove', cluster: actual.name }, actual.name, 'remove', `remove network ${actual.network.name}`, 'mk delete', [...removals.values(), ...volumes, ...lb]);
  }
  return removals;
}

/**
 * mk stop: every node that runs is stopped and kept (volume, address, port); workers first, then the
 * control planes, so the API server outlives the kubelets that report to it. Unreachable hosts are said so.
 */
export function planInfrastructureStop(b: StepSink<InfraStep>, actual: ObservedCluster): void {
  for (const o of actual.nodes.filter((n) => n.state === 'unreachable')) b.warnings.push(`node ${o.name} is unreachable and not stopped${o.detail ? `: ${o.detail}` : ''}`);
  const stop = (o: ObservedNode, after: string[] = []): string =>
    b.add({ kind: 'node.stop', node: o.name, role: o.role }, o.name, 'stop', `stop node ${o.name} (${roleText(o.role)})`, 'mk stop', after);
  const byName = (a: ObservedNode, z: ObservedNode) => a.name.localeCompare(z.name);
  const workers = actual.nodes.filter((n) => isUp(n) && n.role === 'worker').sort(byName).map((n) => stop(n));
  const cps = actual.nodes.filter((x) => isUp(x) && x.role === 'control-plane').sort(byName).map((n) => stop(n, workers));
  const lb = actual.loadBalancer;
  if (lb && isUp(lb)) b.add({ kind: 'lb.stop', cluster: actual.name }, actual.name, 'stop', `stop the load balancer ${lb.name}`, 'mk stop', cps);
}
