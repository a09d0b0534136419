// The bootstrap half of observing a cluster: which running nodes kubeadm finished on (their sentinel),
// and whether the user's kubeconfig has mk's context. Adds to what the driver observed; read-only.
import pLimit from 'p-limit';
import type { Driver, ObservedCluster, ObservedNode } from '../drivers/types.js';
import type { Cluster } from '../spec/types.js';
import { controlPlaneOrder, serverUrl } from './endpoint.js';
import { contextName, hasEntry, kubeconfigPath, readKubeconfig } from './kubeconfig.js';
import { readSentinel, type Sentinel } from './node.js';

export async function observeBootstrap(driver: Driver, cluster: Cluster, observed: ObservedCluster, signal?: AbortSignal): Promise<ObservedCluster> {
  if (cluster.spec.bootstrap !== 'kubeadm') return observed;
  const limit = pLimit(8);
  const sentinels = new Map<string, Sentinel>();
  const read = await Promise.all(
    observed.nodes.map((n) =>
      limit(async (): Promise<ObservedNode> => {
        if (n.state !== 'running') return n;
        const sentinel = await readSentinel(driver.node(observed.name, n.name), signal);
        if (sentinel) sentinels.set(n.name, sentinel);
        return { ...n, kubeadm: sentinel ? 'done' : 'none' };
      }),
    ),
  );
  const primary = controlPlaneOrder(cluster, read).find((n) => n.kubeadm === 'done');
  // The CA of the first finished control plane is the cluster's: a node set up with another one
  // joined an earlier cluster of this name (the control plane was initialised again) and must join again.
  const clusterCa = primary && sentinels.get(primary.name)?.caCertHash;
  const nodes = read.map((n): ObservedNode => {
    const ca = sentinels.get(n.name)?.caCertHash;
    return clusterCa && ca && ca !== clusterCa ? { ...n, kubeadm: 'stale' } : n;
  });
  let kubeconfig: ObservedCluster['kubeconfig'];
  if (primary) {
    const name = contextName(cluster.metadata.name);
    // Any control plane of the cluster will do as the server.
    const servers = controlPlaneOrder(cluster, nodes).filter((n) => n.kubeadm === 'done').map((n) => serverUrl(cluster, n));
    const doc = await readKubeconfig(kubeconfigPath()).catch(() => undefined);
    kubeconfig = servers.some((s) => hasEntry(doc, name, s)) ? 'ok' : 'missing';
  }
  return { ...observed, nodes, ...(kubeconfig ? { kubeconfig } : {}) };
}
