// Small helpers shared by the e2e tests (not a test file: vitest only collects *.test.ts).
import { readFileSync } from 'node:fs';
import { ApiException } from '@kubernetes/client-node';
import { KubeClient, kubeconfigCredentials } from '../../src/kube/index.js';
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

/** Retries fn until it returns a value other than undefined, or throws after timeoutMs. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 250): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs) {
      const why = last instanceof ApiException ? ` (last: HTTP ${last.code})` : last instanceof Error ? ` (last: ${last.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms: ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Whether a PID still names a live process (signal 0 probes without killing). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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
