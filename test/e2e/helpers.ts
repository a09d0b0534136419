// Small Kubernetes helpers shared by the e2e tests (not a test file: vitest only collects *.test.ts).
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { kubeJson } from '../../src/kube/rest.js';
import { isNodeReady, type KubeNode } from '../../src/kubeadm/api.js';
import { eventually } from '../helpers/wait.js';

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

/** The kubeconfig mk wrote, on its context for `cluster`. */
export function mkKubeConfig(path: string, cluster: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  kc.setCurrentContext(`mk-${cluster}`);
  return kc;
}

/** Waits until the cluster has exactly the `expected` nodes, all Ready; returns them. */
export function readyNodes<T extends KubeNode = KubeNode>(kc: KubeConfig, expected: readonly string[], timeoutMs = 120_000): Promise<T[]> {
  const want = JSON.stringify([...expected].sort());
  return eventually(
    `nodes ${expected.join(', ')} Ready (and no others)`,
    async () => {
      const nodes = (await kubeJson<{ items: T[] }>(kc, 'GET', '/api/v1/nodes'))!.items;
      return JSON.stringify(nodes.map((n) => n.metadata.name).sort()) === want && nodes.every(isNodeReady) ? nodes : undefined;
    },
    timeoutMs,
    2000,
  );
}
