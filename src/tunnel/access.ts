// The Kubernetes API of a cluster as the user reaches it: context mk-<cluster> in the kubeconfig mk
// writes on apply. Finding the context makes no network call, and a missing one is found without
// loading @kubernetes/client-node (about a second to import on a busy machine), so `mk status`
// stays fast for clusters without one.
import type { KubeConfig } from '@kubernetes/client-node';
import { contextName, kubeconfigPath, readKubeconfig } from '../kubeadm/kubeconfig.js';
import { loadBalancerServices, type LoadBalancerListing, type LoadBalancerService, type ServiceJson } from './loadbalancers.js';

export type ClusterAccess =
  | { ok: true; kubeConfig: KubeConfig; path: string; context: string; server: string }
  | { ok: false; reason: string };

/** How long `mk status` waits for the API server before saying it did not answer. */
export const LIST_TIMEOUT_MS = 3000;

export async function clusterAccess(cluster: string, path: string = kubeconfigPath()): Promise<ClusterAccess> {
  const context = contextName(cluster);
  try {
    const doc = await readKubeconfig(path);
    if (!doc) return { ok: false, reason: `no kubeconfig at ${path}` };
    if (!doc.contexts?.some((c) => c.name === context)) {
      return { ok: false, reason: `no context ${context} in ${path} (mk apply writes it; mk kubeconfig ${cluster} --switch restores it)` };
    }
  } catch (err) {
    return { ok: false, reason: `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}` };
  }
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    // Entries of other tools that client-node cannot parse must not hide mk's own.
    kc.loadFromFile(path, { onInvalidEntry: 'filter' });
  } catch (err) {
    return { ok: false, reason: `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!kc.getContextObject(context)) return { ok: false, reason: `context ${context} in ${path} is incomplete` };
  kc.setCurrentContext(context);
  const server = kc.getCurrentCluster()?.server;
  if (!server) return { ok: false, reason: `context ${context} in ${path} names no cluster server` };
  return { ok: true, kubeConfig: kc, path, context, server };
}

/** Lists every LoadBalancer Service; rejects on any API or connection error, or after timeoutMs. */
export async function listLoadBalancers(kc: KubeConfig, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<LoadBalancerService[]> {
  const { kubeJson } = await import('../kube/rest.js');
  const timeoutMs = opts.timeoutMs ?? LIST_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  try {
    const list = await kubeJson<{ items?: ServiceJson[] }>(kc, 'GET', '/api/v1/services', { timeoutMs, signal });
    return loadBalancerServices(list?.items ?? []);
  } catch (err) {
    if (deadline.aborted) throw new Error(`did not answer within ${timeoutMs / 1000}s`, { cause: err });
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
    return { loadBalancers: await listLoadBalancers(access.kubeConfig, opts) };
  } catch (err) {
    const { apiMessage } = await import('../kube/rest.js');
    return { loadBalancersError: `API server ${access.server}: ${apiMessage(err)}` };
  }
}
