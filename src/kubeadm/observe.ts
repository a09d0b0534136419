// The bootstrap half of observing a cluster: which running nodes kubeadm finished on (their sentinel),
// and whether the user's kubeconfig has mk's context. Adds to what the driver observed; read-only.
import pLimit from 'p-limit';
import type { Driver, ObservedCluster, ObservedNode } from '../drivers/types.js';
import type { Cluster } from '../spec/types.js';
import { controlPlaneOrder, serverUrl } from './endpoint.js';
import { contextName, hasEntry, kubeconfigPath, readKubeconfig } from './kubeconfig.js';
import { readSentinel } from './node.js';

export async function observeBootstrap(driver: Driver, cluster: Cluster, observed: ObservedCluster, signal?: AbortSignal): Promise<ObservedCluster> {
  if (cluster.spec.bootstrap !== 'kubeadm') return observed;
  const limit = pLimit(8);
  const nodes = await Promise.all(
    observed.nodes.map((n) =>
      limit(async (): Promise<ObservedNode> => {
        if (n.state !== 'running') return n;
        const sentinel = await readSentinel(driver.node(observed.name, n.name), signal);
        return { ...n, kubeadm: sentinel ? 'done' : 'none' };
      }),
    ),
  );
  const primary = controlPlaneOrder(cluster, nodes).find((n) => n.kubeadm === 'done');
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
