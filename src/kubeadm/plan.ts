// The Kubernetes phase's plan: kubeadm init on the first control plane, joins (control planes one
// after another, workers in parallel), the cluster network, drain and reset of nodes that leave
// (before the infrastructure phase removes them), the kubeconfig, and the wait until the cluster is
// usable. Pure.
import type { NodePlan } from '../infrastructure/plan.js';
import type { NodeHealth, ObservedCluster, ObservedNode } from '../drivers/types.js';
import type { StepSink } from '../phase/builder.js';
import type { Action } from '../plan.js';
import { roleText } from '../spec/nodes.js';
import type { Cluster, DesiredNode, Role } from '../spec/types.js';
import { untestedVersion, versionOfImageTag } from '../spec/versions.js';
import { capabilitiesOf } from '../drivers/capabilities.js';
import { PlanError } from '../errors.js';
import { quorum } from './etcd-quorum.js';

export type KubeStep =
  /** A control plane that is gone but still an etcd member: the member removed (through another control plane), its Node deleted. */
  | { kind: 'etcd.forget'; node: string; member: string }
  | { kind: 'kubeadm.init'; node: string }
  | { kind: 'kubeadm.join'; node: string; role: Role }
  /** drain: drain the node and delete its Node object first (false when the whole cluster goes). */
  | { kind: 'kubeadm.reset'; node: string; role: Role; drain: boolean }
  /** The cluster network: API endpoint name on every node, and the CNI. */
  | { kind: 'cni.apply'; cni: string }
  /** A joined node whose kubelet does not run: restart it (and fail with its journal if it does not stay up). */
  | { kind: 'kubelet.restart'; node: string; role: Role }
  | { kind: 'kubeconfig.export'; cluster: string }
  /** Every node Ready and CoreDNS answering. */
  | { kind: 'cluster.wait'; cluster: string };

/** The addon name cni.apply records a user CNI manifest (networking.cni: PATH) under: reserved for it. */
export const CNI_ADDON_NAME = 'cni';

export interface KubePlan {
  /** The step after which the cluster is usable (addons go after it); undefined when nothing changes. */
  ready?: string;
  /** The cluster is bootstrapped in this run (kubeadm init). */
  fresh: boolean;
}

/**
 * What may stop kubeadm on the nodes a plan brings: a version newer than mk knows, a node image whose
 * tag names another version than the spec's (kubeadm on the node must be the spec's, checked when
 * each node comes up: src/kubeadm/node.ts).
 */
function versionWarnings(cluster: Cluster): string[] {
  const version = cluster.spec.kubernetesVersion;
  const image = capabilitiesOf(cluster).nodeImage;
  const tagged = image ? versionOfImageTag(image) : undefined;
  const mismatch =
    tagged && tagged !== version
      ? `node image ${image} is tagged for Kubernetes ${tagged}, but spec.kubernetesVersion is ${version}: kubeadm on a node must be the spec's version, so the apply would stop at the first node (set spec.kubernetesVersion: ${tagged}, or use an image of ${version})`
      : undefined;
  return [untestedVersion(version), mismatch].filter((w): w is string => w !== undefined);
}

export function planKubernetes(b: StepSink<KubeStep>, cluster: Cluster, actual: ObservedCluster, nodes: NodePlan): KubePlan {
  if (cluster.spec.bootstrap !== 'kubeadm') return { fresh: false };
  const name = cluster.metadata.name;
  const { desired, observed, halfMade, created, replaced, removed, up, endpoint } = nodes;
  /** The API endpoint moves (mk's load balancer comes or goes): workers' endpoint name and the kubeconfig follow. */
  const endpointMoves = endpoint.create !== undefined || endpoint.remove !== undefined;
  const endpointMove = `the API endpoint moves ${endpoint.create ? 'to the load balancer' : 'back to the control plane'}`;
  if (created.length + replaced.length > 0) b.warnings.push(...versionWarnings(cluster));

  // A node whose sentinel was not read (stopped, unreachable, or a driver that does not say) counts as joined.
  const joined = (o: ObservedNode): boolean => !halfMade.has(o.name) && o.kubeadm !== 'none';
  const bootstrap = !actual.nodes.some((n) => n.role === 'control-plane' && joined(n));
  const first = bootstrap ? desired.find((n) => n.role === 'control-plane') : undefined;

  // Which nodes kubeadm must still run on: new containers, stopped ones started again, and running
  // nodes without the sentinel (or with an earlier cluster's).
  const joinReason = (node: DesiredNode): string | undefined => {
    const o = observed.get(node.name);
    if (created.includes(node)) return 'new node';
    // A stopped node's sentinel is read once it runs: the join goes on unless kubeadm finished there (it may have been stopped mid-join).
    if (nodes.stopped.includes(node)) return 'started again: joins unless kubeadm finished there';
    if (o?.state === 'running' && o.kubeadm === 'none') return 'kubeadm has not finished on this node (left by an interrupted run)';
    if (o?.state === 'running' && o.kubeadm === 'stale') return 'joined an earlier cluster of this name (another CA): reset, then join again';
    // Initialising the control plane again (it was removed) makes a new CA: joined nodes follow.
    if (o?.state === 'running' && o.kubeadm === 'done' && first && node !== first) return 'the control plane is initialised again: reset, then join again';
    return undefined;
  };
  const join = (node: DesiredNode, action: Action, reason: string, after: (string | undefined)[]): string =>
    b.add({ kind: 'kubeadm.join', node: node.name, role: node.role }, node.name, action, `join ${node.name} to the cluster as a ${roleText(node.role)}`, reason, after);
  /** A node leaves the cluster (drain, reset) before its machine goes, and not before `after`. */
  const leave = (o: ObservedNode, remove: string, action: Action, reason: string, after: (string | undefined)[]): void => {
    // A control plane removed leaves the load balancer's backends before its API server stops (one
    // replaced keeps its name there: the health checks skip it while it is away).
    if (o.role === 'control-plane' && action === 'remove') after = [...after, endpoint.configure];
    if (o.kubeadm === 'none') return b.after(remove, after);
    const reset = b.add({ kind: 'kubeadm.reset', node: o.name, role: o.role, drain: true }, o.name, action, `drain ${o.name}, kubeadm reset, delete its Node`, reason, after);
    b.after(remove, [reset]);
  };

  const forgets = bootstrap ? [] : planEtcd(b, cluster, actual, nodes);

  let init: string | undefined;
  if (first) {
    const reason = created.includes(first) ? 'new cluster: first control plane' : 'new cluster: kubeadm has not finished on the first control plane';
    init = b.add({ kind: 'kubeadm.init', node: first.name }, first.name, 'create', `kubeadm init on ${first.name}`, reason, [up.get(first.name)]);
  }
  // New control planes join one after another, then replaced control planes roll one at a time.
  const cpJoins: string[] = [];
  for (const node of desired.filter((n) => n.role === 'control-plane' && n !== first)) {
    const reason = joinReason(node);
    if (reason) cpJoins.push(join(node, 'create', reason, [up.get(node.name), init, cpJoins.at(-1), ...forgets]));
  }
  const freshCpJoins = [...cpJoins];
  for (const r of replaced.filter((x) => x.observed.role === 'control-plane' || x.node.role === 'control-plane')) {
    leave(r.observed, r.remove, 'replace', r.reason, [...freshCpJoins, cpJoins.at(-1), ...forgets]);
    const joined = join(r.node, 'replace', r.reason, [r.create, cpJoins.at(-1)]);
    if (r.node.role === 'control-plane') cpJoins.push(joined);
  }
  // Workers in parallel.
  const joins = [...cpJoins];
  for (const node of desired.filter((n) => n.role === 'worker')) {
    const reason = joinReason(node);
    if (reason) joins.push(join(node, 'create', reason, [up.get(node.name), init]));
  }
  for (const r of replaced.filter((x) => x.observed.role === 'worker' && x.node.role === 'worker')) {
    leave(r.observed, r.remove, 'replace', r.reason, []);
    joins.push(join(r.node, 'replace', r.reason, [r.create, init]));
  }

  // Health of the nodes that stay as they are: a kubelet that does not run is restarted; a node
  // without mk's CNI config or node network gets the cluster network again; what no step repairs is a problem.
  const repairs: string[] = [];
  const netRepairs: string[] = [];
  for (const node of desired) {
    const h = observed.get(node.name)?.health;
    if (!h || joinReason(node) || replaced.some((r) => r.node.name === node.name)) continue;
    if (h.kubelet !== 'active') {
      repairs.push(b.add({ kind: 'kubelet.restart', node: node.name, role: node.role }, node.name, 'change', `restart the kubelet on ${node.name}`, `kubelet is ${h.kubelet || 'not running'}${notReady(h)}`));
    } else if (h.cniConfig === false || h.nodeNetwork === false) {
      const what = h.cniConfig === false ? 'no mk CNI config' : "mk's node network incomplete (API endpoint name, restored at boot)";
      netRepairs.push(`${what} on ${node.name}${notReady(h)}`);
    } else if (h.ready !== undefined && (h.ready === 'unregistered' || h.ready.status !== 'True')) {
      const what = h.ready === 'unregistered' ? 'not registered with the API server' : `NotReady${h.ready.message || h.ready.reason ? ` (${h.ready.message ?? h.ready.reason})` : ''}`;
      b.problems.push(`node ${node.name} is ${what}, though its kubelet runs; its kubelet journal says why (journalctl -u kubelet on the node)`);
    }
  }

  // Cluster network (endpoint name, CNI) whenever the set of nodes changes or a node lost part of
  // it; removals come after it, so no node still points at a control plane that is leaving.
  let net: string | undefined;
  const bootstrapped = init !== undefined || actual.nodes.some((n) => n.kubeadm === 'done');
  if (init || joins.length > 0 || removed.some((r) => r.observed.kubeadm !== 'none') || netRepairs.length > 0 || (endpointMoves && bootstrapped)) {
    const cni = cluster.spec.networking.cni;
    const what = cni === 'auto' ? 'mk CNI' : cni === 'none' ? 'no CNI' : `CNI from ${cni}`;
    const changed = joins.length > 0 || removed.some((r) => r.observed.kubeadm !== 'none');
    const reason = init
      ? 'new cluster'
      : changed
        ? 'nodes join or leave'
        : endpointMoves
          ? endpointMove
          : `repair: ${netRepairs.join('; ')}`;
    net = b.add({ kind: 'cni.apply', cni }, name, init ? 'create' : 'change', `cluster network: API endpoint name, ${what}`, reason, [init, ...joins, endpoint.configure]);
  }
  // Scale down: control planes only after every new control plane has joined.
  for (const r of removed) leave(r.observed, r.remove, 'remove', r.reason, [net, ...(r.observed.role === 'control-plane' ? [...cpJoins, ...forgets] : [])]);

  let last: string | undefined;
  const cpChanged = init !== undefined || replaced.some((r) => r.observed.role === 'control-plane') || removed.some((r) => r.observed.role === 'control-plane');
  // A control plane started again may publish its API server elsewhere (a port its engine picked again).
  const cpStarted = nodes.stopped.some((n) => n.role === 'control-plane');
  if (cpChanged || cpStarted || actual.kubeconfig === 'missing' || (endpointMoves && bootstrapped)) {
    const reason = init
      ? 'new cluster'
      : cpChanged
        ? 'a control plane leaves'
        : endpointMoves
          ? endpointMove
          : cpStarted
            ? 'a control plane starts again: its API server as published now'
            : `context mk-${name} is missing or points elsewhere`;
    last = b.add({ kind: 'kubeconfig.export', cluster: name }, name, init ? 'create' : 'change', `export kubeconfig context mk-${name}`, reason, b.ids().filter((id) => id !== endpoint.remove));
  }
  // The load balancer goes once nothing points at it any more.
  if (endpoint.remove) b.after(endpoint.remove, b.ids().filter((id) => id !== endpoint.remove));
  if (init || joins.length > 0 || net || nodes.stopped.length > 0 || repairs.length > 0) {
    last = b.add({ kind: 'cluster.wait', cluster: name }, name, init ? 'create' : 'change', 'wait until every node is Ready and CoreDNS answers', init ? 'new cluster' : 'nodes changed', b.ids());
  }
  return { ...(last ?? init ? { ready: (last ?? init)! } : {}), fresh: first !== undefined };
}

/**
 * etcd members whose control plane is gone (its node removed by hand or lost; a member an interrupted
 * join added and never started): each is forgotten, one at a time, before any control plane joins or
 * leaves, so a new member never joins a cluster that counts a dead one. Refuses a plan whose removals
 * of control planes would lose quorum, and says when etcd has lost it already. Warns of even counts.
 */
function planEtcd(b: StepSink<KubeStep>, cluster: Cluster, actual: ObservedCluster, nodes: NodePlan): string[] {
  const name = cluster.metadata.name;
  const cps = nodes.desired.filter((n) => n.role === 'control-plane');
  if (cps.length > 1 && cps.length % 2 === 0) {
    const n = cps.length;
    b.warnings.push(`${n} control planes: etcd needs ${quorum(n)} of them and survives the loss of ${n - quorum(n)}, no more than ${n - 1} would; an odd count (${n - 1} or ${n + 1}) is the usual choice`);
  }
  const etcd = actual.etcd;
  if (!etcd) return [];
  if (etcd.error) {
    b.warnings.push(`etcd's members could not be read (${etcd.error}); a control plane that is gone is not removed from etcd this run`);
    return [];
  }
  const desired = new Set(nodes.desired.map((n) => n.name));
  const node = (m: { name: string }): ObservedNode | undefined => (m.name ? actual.nodes.find((n) => n.name === m.name) : undefined);
  const lost = etcd.members.filter((m) => !node(m) || nodes.halfMade.has(m.name));
  // Members that answer once this plan's nodes are up: running (and reachable), or started by it.
  const starts = new Set(nodes.stopped.map((n) => n.name));
  const alive = (m: { name: string }): boolean => {
    const o = node(m);
    return o !== undefined && !nodes.halfMade.has(o.name) && (o.state === 'running' || starts.has(o.name));
  };
  const size = etcd.members.length;
  const answering = etcd.members.filter(alive);
  if (answering.length < quorum(size)) {
    throw new PlanError(
      `etcd of cluster ${name} has lost quorum: ${answering.length} of its ${size} members can answer (${answering.map((m) => m.name).join(', ') || 'none'}), it needs ${quorum(size)}, and no control plane can join or leave. ` +
        `mk cannot repair that: if the machines of the others are gone, restore etcd from a snapshot, or start over with "mk delete ${name}"`,
    );
  }
  guardQuorum(cluster, etcd.members.filter((m) => !lost.includes(m)), alive, nodes);
  const forgets: string[] = [];
  for (const m of lost) {
    const reason = !m.name
      ? `a member an interrupted join added and never started (${m.peerUrls.join(', ')}): it counts against quorum`
      : `control plane ${m.name} is gone (its node was removed or lost) but is still etcd member ${m.id}${desired.has(m.name) ? `: removed so ${m.name} can join again` : ' and no longer in the spec'}; quorum then counts only members that exist`;
    forgets.push(b.add({ kind: 'etcd.forget', node: m.name, member: m.id }, m.name || m.id, 'remove', `remove ${m.name || 'the unnamed member'} from etcd${m.name ? ' and delete its Node' : ''}`, reason, [forgets.at(-1)]));
  }
  return forgets;
}

/**
 * Control planes leave etcd one at a time, after the new ones joined (replaced ones leave and join
 * again in turn). Refuses the plan if a member leaving would take the members that answer below
 * quorum at any point: another member does not answer (unreachable, stopped and not started).
 */
function guardQuorum(cluster: Cluster, members: readonly { name: string }[], alive: (m: { name: string }) => boolean, nodes: NodePlan): void {
  const joining = nodes.created.filter((n) => n.role === 'control-plane').length;
  let size = members.length + joining;
  let up = members.filter(alive).length + joining;
  const down = members.filter((m) => !alive(m)).map((m) => m.name);
  const steps: Array<{ node: string; rejoins: boolean }> = [
    ...nodes.replaced.filter((r) => r.observed.role === 'control-plane').map((r) => ({ node: r.observed.name, rejoins: r.node.role === 'control-plane' })),
    ...nodes.removed.filter((r) => r.observed.role === 'control-plane').map((r) => ({ node: r.observed.name, rejoins: false })),
  ];
  for (const s of steps) {
    if (!members.some((m) => m.name === s.node)) continue;
    const stays = alive({ name: s.node }) ? up - 1 : up;
    if (stays < quorum(size - 1)) {
      throw new PlanError(
        `refusing to take ${s.node} out of etcd: ${down.join(', ')} ${down.length === 1 ? 'does' : 'do'} not answer, so ${stays} of ${size - 1} members would be left to answer, below quorum (${quorum(size - 1)}). ` +
          `Bring ${down.join(', ')} back first (or take ${down.length === 1 ? 'it' : 'them'} out of the spec: a member that is gone is removed first), then apply this change.`,
      );
    }
    size -= 1;
    up = stays;
    if (s.rejoins) {
      size += 1;
      up += 1;
    }
  }
}

/** "; node NotReady: cni plugin not initialized" when the API server says so. */
function notReady(h: NodeHealth): string {
  if (h.ready === undefined || h.ready === 'unregistered' || h.ready.status === 'True') return '';
  return `; node NotReady${h.ready.reason || h.ready.message ? `: ${h.ready.message ?? h.ready.reason}` : ''}`;
}

/** mk delete of a cluster whose nodes are machines that stay (ssh): kubeadm reset on each running one before it is let go. */
export function planKubernetesDelete(b: StepSink<KubeStep>, actual: ObservedCluster, removals: ReadonlyMap<string, string>): void {
  for (const n of actual.nodes) {
    const remove = removals.get(n.name);
    if (n.state !== 'running' || !remove) continue;
    b.after(remove, [b.add({ kind: 'kubeadm.reset', node: n.name, role: n.role, drain: false }, n.name, 'remove', `kubeadm reset on ${n.name}`, 'mk delete')]);
  }
}
