// Small Kubernetes helpers shared by the e2e tests (not a test file: vitest only collects *.test.ts).
import { readFileSync } from 'node:fs';
import { ApiException } from '@kubernetes/client-node';
import { KubeClient, kubeconfigCredentials } from '../../src/kube/index.js';
import { eventually } from '../helpers/wait.js';
import { k8sVersion } from '../k8s/binaries.js';
import { isNodeReady, type KubeNode } from '../../src/kubeadm/api.js';
import type { ObjectRef } from '../../src/addons/index.js';
import { catalogAddon } from '../../src/catalog/index.js';
import { localBuildFor } from '../../src/catalog/local-builds.js';

/** Awaits `p` and returns the ApiException's HTTP code; fails if `p` resolves or throws anything else. */
export async function apiErrorCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
  throw new Error('expected the Kubernetes API call to fail, but it succeeded');
}

/** mk's client for the kubeconfig at `path`, on `context` (default: the current one). */
export function kubeClient(path: string, context?: string): KubeClient {
  return new KubeClient(kubeconfigCredentials(readFileSync(path, 'utf8'), { ...(context ? { context } : {}), where: path }));
}

/** The kubeconfig mk wrote, on its context for `cluster`. */
export function mkClient(path: string, cluster: string): KubeClient {
  return kubeClient(path, `mk-${cluster}`);
}

/** Waits until the cluster has exactly the `expected` nodes, all Ready; returns them. */
export function readyNodes<T extends KubeNode = KubeNode>(client: KubeClient, expected: readonly string[], timeoutMs = 120_000): Promise<T[]> {
  const want = JSON.stringify([...expected].sort());
  return eventually(
    `nodes ${expected.join(', ')} Ready (and no others)`,
    async () => {
      const nodes = (await client.json<{ items: T[] }>('GET', '/api/v1/nodes')).items;
      return JSON.stringify(nodes.map((n) => n.metadata.name).sort()) === want && nodes.every(isNodeReady) ? nodes : undefined;
    },
    timeoutMs,
    2000,
  );
}

/** addons[].images: every image of the catalog addon, the one `npm run addon-images` builds in its place. */
export function localImages(addon: string): Record<string, string> {
  return Object.fromEntries(Object.entries(catalogAddon(addon)!.images).map(([key, ref]) => [key, localBuildFor(ref)!]));
}

export const ref = (kind: string, namespace: string | undefined, n: string, apiVersion = 'v1'): ObjectRef => ({ apiVersion, kind, name: n, ...(namespace ? { namespace } : {}) });

/** The API path of an object (of its collection, with `collection`), its plural made from its kind. */
export function urlOf(r: ObjectRef, collection = false): string {
  const [group, version] = r.apiVersion.includes('/') ? r.apiVersion.split('/') : ['', r.apiVersion];
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const plural = `${r.kind.toLowerCase()}${r.kind.endsWith('s') ? 'es' : 's'}`.replace(/([^aeiou])ys$/, '$1ies');
  return `${base}${r.namespace ? `/namespaces/${r.namespace}` : ''}/${plural}${collection ? '' : `/${r.name}`}`;
}

/** What mk's inventory of an addon lists (undefined: no inventory, the addon is not installed). */
export async function addonInventory(client: KubeClient, addon: string): Promise<ObjectRef[] | undefined> {
  const cm = await client.json<{ data?: { objects?: string } }>('GET', urlOf(ref('ConfigMap', 'kube-system', `mk-addon-${addon}`)), { allow404: true });
  return cm ? (JSON.parse(cm.data?.objects ?? '[]') as ObjectRef[]) : undefined;
}

/**
 * A pod on `node` resolves kubernetes.default's name (getent in the kube-proxy image, a Debian rootfs
 * every node holds: nothing is pulled); its phase and log, once it ended.
 */
export async function dnsProbe(kc: KubeClient, node: string, timeoutMs: number): Promise<{ phase: string; log: string }> {
  await kc.json('POST', '/api/v1/namespaces/default/pods', {
    body: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'dns-probe' },
      spec: {
        nodeName: node,
        restartPolicy: 'Never',
        containers: [{ name: 'probe', image: `registry.k8s.io/kube-proxy:${k8sVersion()}`, imagePullPolicy: 'Never', command: ['getent', 'hosts', 'kubernetes.default.svc.cluster.local'] }],
      },
    },
  });
  const phase = await eventually(
    'DNS probe finished',
    async () => {
      const p = await kc.json<{ status?: { phase?: string } }>('GET', '/api/v1/namespaces/default/pods/dns-probe');
      return p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed' ? p.status.phase : undefined;
    },
    timeoutMs,
    1000,
  );
  return { phase, log: (await kc.request('GET', '/api/v1/namespaces/default/pods/dns-probe/log')).body };
}
