// Small Kubernetes helpers shared by the e2e tests (not a test file: vitest only collects *.test.ts).
import { readFileSync } from 'node:fs';
import { ApiException } from '@kubernetes/client-node';
import { KubeClient, kubeconfigCredentials } from '../../src/kube/index.js';
import { eventually } from '../helpers/wait.js';
import { isNodeReady, type KubeNode } from '../../src/kubeadm/api.js';

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
