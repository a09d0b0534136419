// The Kubernetes API of a cluster as the user reaches it: context mk-<cluster> in the kubeconfig mk
// writes on apply. Finding the context makes no network call, so `mk status` stays fast for
// clusters without one.
import { contextName, kubeconfigPath, readKubeconfig } from '../kubeadm/kubeconfig.js';
import { KubeClient, KubeConnectionError, KubeconfigError, kubeconfigCredentials } from '../kube/index.js';
import { loadBalancerServices, type LoadBalancerListing, type LoadBalancerService, type ServiceJson } from './loadbalancers.js';

export type ClusterAccess = { ok: true; client: KubeClient; path: string; context: string; server: string } | { ok: false; reason: string };

/** How long `mk status` waits for the API server before saying it did not answer. */
export const LIST_TIMEOUT_MS = 3000;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export async function clusterAccess(cluster: string, path: string = kubeconfigPath()): Promise<ClusterAccess> {
  const context = contextName(cluster);
  const restore = `mk apply writes it; mk kubeconfig ${cluster} --switch restores it`;
  let doc: Awaited<ReturnType<typeof readKubeconfig>>;
  try {
    doc = await readKubeconfig(path);
  } catch (err) {
    return { ok: false, reason: `cannot read ${path}: ${messageOf(err)}` };
  }
  if (!doc) return { ok: false, reason: `no kubeconfig at ${path}` };
  if (!doc.contexts?.some((c) => c.name === context)) return { ok: false, reason: `no context ${context} in ${path} (${restore})` };
  try {
    // Only mk's context, its cluster and its user are read: entries of other tools do not hide them.
    const client = new KubeClient(kubeconfigCredentials(doc, { context, where: path }));
    return { ok: true, client, path, context, server: client.server };
  } catch (err) {
    if (err instanceof KubeconfigError) return { ok: false, reason: `${err.message} (${restore})` };
    throw err;
  }
}

/** Lists every LoadBalancer Service; rejects on any API or connection error, or after timeoutMs. */
export async function listLoadBalancers(client: KubeClient, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<LoadBalancerService[]> {
  const timeoutMs = opts.timeoutMs ?? LIST_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  try {
    const list = await client.json<{ items?: ServiceJson[] }>('GET', '/api/v1/services', { timeoutMs, signal });
    return loadBalancerServices(list.items ?? []);
  } catch (err) {
    if (deadline.aborted) throw new KubeConnectionError(`did not answer within ${timeoutMs / 1000}s`, { cause: err });
    throw err;
  }
}

/**
 * What `mk status` shows for one cluster: its LoadBalancer Services through context mk-<cluster>,
 * or the reason they could not be listed.
 */
export async function loadBalancerStatus(cluster: string, opts: { kubeconfig?: string; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<LoadBalancerListing> {
  const access = await clusterAccess(cluster, opts.kubeconfig);
  if (!access.ok) return { loadBalancersError: access.reason };
  try {
    return { loadBalancers: await listLoadBalancers(access.client, opts) };
  } catch (err) {
    return { loadBalancersError: `API server ${access.server}: ${messageOf(err)}` };
  } finally {
    access.client.close();
  }
}
