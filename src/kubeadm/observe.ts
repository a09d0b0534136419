// The Kubernetes half of observing a cluster: per running node, whether kubeadm finished there (its
// sentinel), whether its kubelet runs and mk's CNI config is there, and the Node's Ready condition as
// the API server has it; whether the user's kubeconfig has mk's context. Adds to what the driver
// observed; read-only.
import pLimit from 'p-limit';
import type { Driver, NodeHandle, ObservedCluster, ObservedNode } from '../drivers/types.js';
import type { Cluster } from '../spec/types.js';
import { readyCondition, type KubeNode } from './api.js';
import { adminCache, firstAdminAccess } from './context.js';
import { controlPlaneOrder, endpointUrl, serverUrl } from './endpoint.js';
import { contextName, hasEntry, kubeconfigPath, readKubeconfig } from './kubeconfig.js';
import { CNI_CONFLIST, NODE_NETWORK_TEST } from './network.js';
import { SENTINEL, type Sentinel } from './node.js';
import { readEtcdMembers } from './etcd.js';
import { controlPlaneCount } from '../infrastructure/index.js';

/** How long observing waits for the API server's list of Nodes before going on without it. */
const NODES_TIMEOUT_MS = 5000;

/**
 * One exec tells what observe needs of a running node: kubeadm's sentinel, the kubelet's state,
 * mk's CNI config, and mk's node network (restored at boot, the API endpoint name in /etc/hosts).
 */
export const NODE_FACTS_SCRIPT = `cat "$1" 2>/dev/null; echo; echo --mk--; systemctl is-active kubelet 2>/dev/null; echo --mk--; [ -f "$2" ] && echo yes; echo --mk--; ${NODE_NETWORK_TEST} && echo yes; exit 0`;

export interface NodeFacts {
  sentinel?: Sentinel;
  /** What systemctl says of the kubelet ('' when it could not say). */
  kubelet: string;
  cniConfig: boolean;
  nodeNetwork: boolean;
}

export function nodeFactsArgv(): string[] {
  return ['sh', '-c', NODE_FACTS_SCRIPT, 'mk-node-facts', SENTINEL, CNI_CONFLIST];
}

/** Parses what NODE_FACTS_SCRIPT printed. Pure. */
export function parseNodeFacts(stdout: string): NodeFacts {
  const [sentinel = '', kubelet = '', cni = '', network = ''] = stdout.split('--mk--\n');
  let parsed: Sentinel | undefined;
  try {
    parsed = sentinel.trim() ? (JSON.parse(sentinel) as Sentinel) : undefined;
  } catch {
    parsed = undefined;
  }
  return { ...(parsed ? { sentinel: parsed } : {}), kubelet: kubelet.trim(), cniConfig: cni.trim() === 'yes', nodeNetwork: network.trim() === 'yes' };
}

export async function readNodeFacts(node: NodeHandle, signal?: AbortSignal): Promise<NodeFacts> {
  return parseNodeFacts((await node.exec(nodeFactsArgv(), signal ? { signal } : {})).stdout);
}

/** Each Node's Ready condition, through the first control plane that gives admin access; undefined when the API server does not answer in time. */
async function readyConditions(driver: Driver, cluster: Cluster, nodes: readonly ObservedNode[], shared: Map<string, unknown>, signal?: AbortSignal): Promise<Map<string, KubeNode> | undefined> {
  const bounded = signal ? AbortSignal.any([signal, AbortSignal.timeout(NODES_TIMEOUT_MS)]) : AbortSignal.timeout(NODES_TIMEOUT_MS);
  try {
    const admin = await firstAdminAccess(driver, cluster, nodes, { signal: bounded, cache: adminCache(shared) });
    if (!admin) return undefined;
    const list = await admin.client.with({ signal: bounded, timeoutMs: NODES_TIMEOUT_MS, retries: 0 }).json<{ items: KubeNode[] }>('GET', '/api/v1/nodes');
    return new Map(list.items.map((n) => [n.metadata.name, n]));
  } catch {
    signal?.throwIfAborted();
    return undefined;
  }
}

export async function observeBootstrap(
  driver: Driver,
  cluster: Cluster,
  observed: ObservedCluster,
  opts: { signal?: AbortSignal; shared?: Map<string, unknown> } = {},
): Promise<ObservedCluster> {
  if (cluster.spec.bootstrap !== 'kubeadm') return observed;
  const { signal } = opts;
  const limit = pLimit(8);
  const facts = new Map<string, NodeFacts>();
  const read = await Promise.all(
    observed.nodes.map((n) =>
      limit(async (): Promise<ObservedNode> => {
        if (n.state !== 'running') return n;
        const f = await readNodeFacts(driver.node(observed.name, n.name), signal);
        facts.set(n.name, f);
        return { ...n, kubeadm: f.sentinel ? 'done' : 'none' };
      }),
    ),
  );
  const primary = controlPlaneOrder(cluster, read).find((n) => n.kubeadm === 'done');
  // The CA of the first finished control plane is the cluster's: a node set up with another one
  // joined an earlier cluster of this name (the control plane was initialised again) and must join again.
  const clusterCa = primary && facts.get(primary.name)?.sentinel?.caCertHash;
  // The Nodes through the API server and, when the cluster has or wants more than one control plane,
  // etcd's members through the first control plane: asked at the same time.
  const joinedCps = read.filter((n) => n.role === 'control-plane' && n.kubeadm === 'done').length;
  const [registered, etcd] = await Promise.all([
    primary ? readyConditions(driver, cluster, read, opts.shared ?? new Map(), signal) : undefined,
    primary && (controlPlaneCount(cluster) > 1 || joinedCps > 1) ? readEtcdMembers(driver.node(observed.name, primary.name), signal) : undefined,
  ]);
  const builtinCni = cluster.spec.networking.cni === 'auto';
  const nodes = read.map((n): ObservedNode => {
    const f = facts.get(n.name);
    const ca = f?.sentinel?.caCertHash;
    if (clusterCa && ca && ca !== clusterCa) return { ...n, kubeadm: 'stale' };
    if (n.kubeadm !== 'done' || !f) return n;
    const k = registered?.get(n.name);
    const c = k && readyCondition(k);
    const ready = registered && (k ? { status: c?.status ?? 'Unknown', ...(c?.reason ? { reason: c.reason } : {}), ...(c?.message ? { message: c.message } : {}) } : ('unregistered' as const));
    const version = k?.status?.nodeInfo?.kubeletVersion;
    return { ...n, health: { kubelet: f.kubelet, nodeNetwork: f.nodeNetwork, ...(builtinCni ? { cniConfig: f.cniConfig } : {}), ...(ready ? { ready } : {}), ...(version ? { version } : {}) } };
  });
  let kubeconfig: ObservedCluster['kubeconfig'];
  if (primary) {
    const name = contextName(cluster.metadata.name);
    // The load balancer when it is the endpoint; else any control plane of the cluster will do as the server.
    const lb = endpointUrl(cluster, observed);
    const servers = lb ? [lb] : controlPlaneOrder(cluster, nodes).filter((n) => n.kubeadm === 'done').map((n) => serverUrl(cluster, n));
    const doc = await readKubeconfig(kubeconfigPath()).catch(() => undefined);
    kubeconfig = servers.some((s) => hasEntry(doc, name, s)) ? 'ok' : 'missing';
  }
  return { ...observed, nodes, ...(kubeconfig ? { kubeconfig } : {}), ...(etcd ? { etcd } : {}) };
}
