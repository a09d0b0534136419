// cluster.wait: the API server answers, every node of the spec is Ready, and CoreDNS answers (its
// Deployment available and a ready endpoint behind the kube-dns Service, i.e. its readiness probe
// passes). A timeout names what is not ready: nodes with their condition, pods, recent warnings.
import { expandNodes } from '../spec/nodes.js';
import type { Cluster } from '../spec/types.js';
import { capabilitiesOf } from '../drivers/capabilities.js';
import { podReady, podReason, type KubeClient, type KubeEvent, type Pod } from '../kube/index.js';
import { isNodeReady, listNodes, readyCondition } from './api.js';
import { adminAccess, observeNodes, type AdminAccess, type BootstrapContext } from './context.js';
import { BootstrapError } from './errors.js';
import { done, type StepResult } from '../plan.js';
import { formatSeconds } from '../duration.js';
import { poll } from './node.js';

export const WAIT_TIMEOUT_MS = 300_000;

interface EndpointSlice {
  endpoints?: Array<{ conditions?: { ready?: boolean } }>;
}

async function coreDnsReady(client: KubeClient): Promise<boolean> {
  const slices = await client.json<{ items: EndpointSlice[] }>('GET', `/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices?labelSelector=${encodeURIComponent('kubernetes.io/service-name=kube-dns')}`);
  return slices.items.some((s) => (s.endpoints ?? []).some((e) => e.conditions?.ready === true));
}


/** What is not ready now: nodes with their condition, pods with their current reason, warnings since `since` (never older ones). */
async function whatIsNotReady(client: KubeClient, expected: readonly string[], checkDns: boolean, since: number): Promise<string[]> {
  const lines: string[] = [];
  const nodes = await listNodes(client).catch(() => []);
  for (const name of expected) {
    const n = nodes.find((k) => k.metadata.name === name);
    if (!n) lines.push(`node ${name}: not registered`);
    else if (!isNodeReady(n)) {
      const c = readyCondition(n);
      lines.push(`node ${name}: ${c ? `${c.reason ?? c.status}${c.message ? `: ${c.message}` : ''}` : 'no Ready condition yet'}`);
    }
  }
  if (checkDns) {
    const pods = (await client.json<{ items: Pod[] }>('GET', '/api/v1/namespaces/kube-system/pods').catch(() => undefined))?.items ?? [];
    for (const p of pods) {
      if (podReady(p)) continue;
      lines.push(`pod kube-system/${p.metadata.name} on ${p.spec?.nodeName ?? '(unscheduled)'}: ${p.status?.phase ?? 'Unknown'}${podReason(p)}`);
    }
    const events = (await client.json<{ items: KubeEvent[] }>('GET', `/api/v1/namespaces/kube-system/events?fieldSelector=${encodeURIComponent('type=Warning')}`).catch(() => undefined))?.items ?? [];
    const recent = events.filter((e) => Date.parse(e.lastTimestamp ?? e.eventTime ?? '') >= since - 1000);
    for (const e of recent.slice(-5)) lines.push(`event ${e.involvedObject?.kind ?? ''}/${e.involvedObject?.name ?? ''}: ${e.reason ?? ''} ${e.message ?? ''}`.trim());
  }
  return lines;
}

/** Until the API server answers /readyz (a control plane started a moment ago takes a while). */
export async function apiServerReady(admin: AdminAccess, signal: AbortSignal, timeoutMs = WAIT_TIMEOUT_MS): Promise<void> {
  await poll(async () => ((await admin.client.request('GET', '/readyz', { timeoutMs: 5000 }).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), {
    timeoutMs,
    intervalMs: 500,
    signal,
    onTimeout: () => new BootstrapError(`the API server at ${admin.server} did not answer /readyz within ${formatSeconds(timeoutMs)}`),
  });
}

/** WAIT_TIMEOUT_MS stretched by the driver's patience (emulated VMs are several times slower). */
export const waitTimeoutMs = (cluster: Cluster): number => WAIT_TIMEOUT_MS * capabilitiesOf(cluster).patience;

export async function waitForCluster(ctx: BootstrapContext, timeoutMs = waitTimeoutMs(ctx.cluster)): Promise<StepResult> {
  const admin = await adminAccess(ctx);
  const client = admin.client;
  const t0 = Date.now();
  await apiServerReady(admin, ctx.signal, timeoutMs);
  const apiAt = Date.now() - ctx.startedAt;
  const desired = new Set(expandNodes(ctx.cluster).map((n) => n.name));
  const expected = (await observeNodes(ctx)).filter((n) => desired.has(n.name) && n.state === 'running').map((n) => n.name);
  // Without a CNI nodes stay NotReady and CoreDNS pending: then registration is all there is to wait for.
  const withNetwork = ctx.cluster.spec.networking.cni !== 'none';
  await poll(
    async () => {
      const nodes = await listNodes(client);
      const ok = expected.every((name) => {
        const n = nodes.find((k) => k.metadata.name === name);
        return n && (!withNetwork || isNodeReady(n));
      });
      if (!ok) return undefined;
      return !withNetwork || (await coreDnsReady(client)) ? true : undefined;
    },
    {
      timeoutMs: Math.max(1000, timeoutMs - (Date.now() - t0)),
      intervalMs: 1000,
      signal: ctx.signal,
      onTimeout: async () =>
        new BootstrapError(`cluster not usable after ${formatSeconds(timeoutMs)}:\n  ${(await whatIsNotReady(client, expected, withNetwork, t0)).join('\n  ') || '(nothing reported)'}`),
    },
  );
  const usableAt = Date.now() - ctx.startedAt;
  const what = withNetwork ? `${expected.length} node${expected.length === 1 ? '' : 's'} Ready, CoreDNS answering` : `${expected.length} node${expected.length === 1 ? '' : 's'} registered (cni: none)`;
  return done(`API answered ${formatSeconds(apiAt)} after the start; usable (${what}) after ${formatSeconds(usableAt)}`);
}
