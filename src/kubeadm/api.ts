// The Kubernetes API calls of bootstrap and removal: bootstrap tokens, Node objects, drain, readiness.
// Through the admin access's KubeClient; errors are KubeApiError: branch on status.
import { createHash, randomInt, X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, KubeClient, KubeconfigError, kubeconfigCredentials, type ClientOptions } from '../kube/index.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A client of the API server at `server` with a kubeadm admin.conf's credentials (its own server is a node-local address). */
export function adminClient(adminConf: string, server: string, opts: ClientOptions = {}): KubeClient {
  try {
    return new KubeClient(kubeconfigCredentials(adminConf, { server, where: 'the admin kubeconfig (/etc/kubernetes/admin.conf)' }), opts);
  } catch (err) {
    if (!(err instanceof KubeconfigError)) throw err;
    throw new KubeconfigError(`${err.message}; \`kubeadm init phase kubeconfig admin\` on that control plane writes it again`, { cause: err });
  }
}

/** sha256:<hex> of the CA certificate's SubjectPublicKeyInfo: what kubeadm join pins. */
export function caCertHash(caPem: string): string {
  const spki = new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

function randomString(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

export interface BootstrapToken {
  id: string;
  secret: string;
}

/** A fresh token in kubeadm's format ([a-z0-9]{6}.[a-z0-9]{16}); never cached, never logged. */
export function newBootstrapToken(): BootstrapToken {
  return { id: randomString(6), secret: randomString(16) };
}

export function tokenString(t: BootstrapToken): string {
  return `${t.id}.${t.secret}`;
}

/** The Secret that makes a bootstrap token valid for joining (what `kubeadm token create` writes). Pure. */
export function bootstrapTokenSecret(cluster: string, t: BootstrapToken, opts: { ttlMs: number; now: Date; description: string; node?: string }) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'bootstrap.kubernetes.io/token',
    metadata: {
      name: `bootstrap-token-${t.id}`,
      namespace: 'kube-system',
      labels: { 'mk.dev/cluster': cluster, 'app.kubernetes.io/managed-by': 'mk', ...(opts.node ? { 'mk.dev/node': opts.node } : {}) },
    },
    stringData: {
      'token-id': t.id,
      'token-secret': t.secret,
      expiration: new Date(opts.now.getTime() + opts.ttlMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'usage-bootstrap-authentication': 'true',
      'usage-bootstrap-signing': 'true',
      'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
      description: opts.description,
    },
  };
}

/**
 * Mints a short-lived token for one join of `node`, first deleting tokens an interrupted run minted
 * for the same node (they would stay valid until they expire).
 */
export async function createBootstrapToken(client: KubeClient, cluster: string, node: string, ttlMs = 15 * 60_000): Promise<BootstrapToken> {
  const selector = encodeURIComponent(`mk.dev/cluster=${cluster},mk.dev/node=${node}`);
  const stale = await client.json<SecretList>('GET', `/api/v1/namespaces/kube-system/secrets?labelSelector=${selector}`);
  for (const s of stale.items) await client.json('DELETE', `/api/v1/namespaces/kube-system/secrets/${s.metadata.name}`, { allow404: true });
  const t = newBootstrapToken();
  await client.json('POST', '/api/v1/namespaces/kube-system/secrets', { body: bootstrapTokenSecret(cluster, t, { ttlMs, now: new Date(), description: `mk: join of ${node}`, node }) });
  return t;
}

export async function deleteBootstrapToken(client: KubeClient, id: string): Promise<void> {
  await client.json('DELETE', `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${id}`, { allow404: true });
}

interface SecretList {
  items: Array<{ metadata: { name: string; labels?: Record<string, string> } }>;
}

/** After init: deletes the token kubeadm init minted (mk mints one per join instead). Returns how many. */
export async function deleteKubeadmInitTokens(client: KubeClient): Promise<number> {
  const list = await client.json<SecretList>('GET', `/api/v1/namespaces/kube-system/secrets?fieldSelector=${encodeURIComponent('type=bootstrap.kubernetes.io/token')}`);
  const theirs = list.items.filter((s) => s.metadata.labels?.['app.kubernetes.io/managed-by'] !== 'mk');
  for (const s of theirs) await client.json('DELETE', `/api/v1/namespaces/kube-system/secrets/${s.metadata.name}`, { allow404: true });
  return theirs.length;
}

export interface NodeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface KubeNode {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { podCIDR?: string; unschedulable?: boolean };
  status?: { conditions?: NodeCondition[]; nodeInfo?: { kubeletVersion?: string } };
}

export async function listNodes(client: KubeClient): Promise<KubeNode[]> {
  return (await client.json<{ items: KubeNode[] }>('GET', '/api/v1/nodes')).items;
}

export function readyCondition(node: KubeNode): NodeCondition | undefined {
  return node.status?.conditions?.find((c) => c.type === 'Ready');
}

export function isNodeReady(node: KubeNode): boolean {
  return readyCondition(node)?.status === 'True';
}

export async function deleteNodeObject(client: KubeClient, name: string): Promise<boolean> {
  return (await client.json('DELETE', `/api/v1/nodes/${encodeURIComponent(name)}`, { allow404: true })) !== undefined;
}

interface Pod {
  metadata: { name: string; namespace: string; annotations?: Record<string, string>; ownerReferences?: Array<{ kind: string }> };
  status?: { phase?: string };
}

/** Pods drain leaves alone: DaemonSet pods (they would come back) and static (mirror) pods. */
export function evictable(pod: Pod): boolean {
  if (pod.metadata.annotations?.['kubernetes.io/config.mirror']) return false;
  if (pod.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet')) return false;
  return pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

async function podsOn(client: KubeClient, node: string): Promise<Pod[]> {
  const sel = encodeURIComponent(`spec.nodeName=${node}`);
  return (await client.json<{ items: Pod[] }>('GET', `/api/v1/pods?fieldSelector=${sel}`)).items;
}

const podKey = (p: Pod): string => `${p.metadata.namespace}/${p.metadata.name}`;

/**
 * Cordons the node and evicts its pods (Eviction API, so PodDisruptionBudgets are honoured). Pods still
 * there after timeoutMs are deleted: the node is going away either way. Returns what happened.
 * A node that is already gone is fine.
 */
export async function drainNode(admin: KubeClient, node: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ evicted: number; deleted: number; absent: boolean }> {
  const client = admin.with({ signal: opts.signal });
  const patched = await client.json('PATCH', `/api/v1/nodes/${encodeURIComponent(node)}`, {
    body: { spec: { unschedulable: true } },
    contentType: 'application/merge-patch+json',
    allow404: true,
  });
  if (patched === undefined) return { evicted: 0, deleted: 0, absent: true };
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const evicted = new Set<string>();
  for (;;) {
    // Wait until evicted pods are gone from the API (the kubelet confirmed), not only stopped: kubeadm
    // reset stops the kubelet next, and a pod it never confirmed would stay Terminating.
    const all = await podsOn(client, node);
    const toEvict = all.filter((p) => evictable(p) && !evicted.has(podKey(p)));
    const leaving = all.filter((p) => evictable(p) || evicted.has(podKey(p)));
    if (leaving.length === 0) return { evicted: evicted.size, deleted: 0, absent: false };
    if (Date.now() > deadline) {
      for (const p of leaving) await client.json('DELETE', `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}?gracePeriodSeconds=0`, { allow404: true });
      return { evicted: evicted.size, deleted: leaving.length, absent: false };
    }
    for (const p of toEvict) {
      try {
        await client.json('POST', `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/eviction`, {
          body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: p.metadata.name, namespace: p.metadata.namespace } },
          allow404: true,
        });
        evicted.add(podKey(p));
      } catch (err) {
        // 429: a disruption budget says not now; try again on the next round.
        if (!(err instanceof KubeApiError && err.status === 429)) throw err;
      }
    }
    await sleep(1000, undefined, { signal: opts.signal });
  }
}
