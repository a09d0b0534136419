// The addons half of observing a cluster, for the planner: what the inventories say is installed,
// with a drift check of every listed object. Read-only; what the spec renders to is the desired
// side (renderAddons in render.ts). Loaded lazily, only for bootstrapped kubeadm clusters; src/kube's
// client does not load @kubernetes/client-node, so a no-op apply stays cheap.
import type { Driver, ObservedAddons, ObservedCluster } from '../drivers/types.js';
import { MkError } from '../errors.js';
import type { KubeClient } from '../kube/index.js';
import { firstAdminAccess, type AdminAccess } from '../kubeadm/context.js';
import type { Cluster } from '../spec/types.js';
import { CNI_ADDON_NAME } from '../kubeadm/plan.js';
import { readInstalled } from '../manifests/installed.js';
import { describeRef } from '../manifests/labels.js';
import type { RenderEnv } from '../catalog/types.js';

/** Time allowed for reading the addons of a cluster before planning goes on without them. */
export const OBSERVE_TIMEOUT_MS = 20_000;

/** Facts of where the cluster runs that addons render from (metallb's auto pool): the node network and the node addresses. Pure. */
export function addonEnv(observed: Pick<ObservedCluster, 'network' | 'nodes'>): RenderEnv {
  const net = observed.network;
  if (!net?.subnet) return {};
  const used = observed.nodes.map((n) => n.address).filter((a): a is string => a !== undefined).sort();
  return { network: { subnet: net.subnet, ...(net.gateway ? { gateway: net.gateway } : {}), used } };
}

/** Bounds a read (or a download) by OBSERVE_TIMEOUT_MS besides the caller's signal. */
export function boundedSignal(signal: AbortSignal | undefined, timeoutMs = OBSERVE_TIMEOUT_MS): AbortSignal {
  return signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
}

/**
 * Installed addons of a cluster on which a control plane finished kubeadm. Never throws for an API
 * server that does not answer (or answers with errors): the result then carries `error`, and the
 * planner changes no addon. Aborting `signal` still throws.
 */
export async function observeClusterAddons(
  driver: Driver,
  cluster: Cluster,
  observed: ObservedCluster,
  opts: { signal?: AbortSignal; timeoutMs?: number; admin?: Map<string, Promise<AdminAccess>> } = {},
): Promise<ObservedAddons> {
  const timeoutMs = opts.timeoutMs ?? OBSERVE_TIMEOUT_MS;
  const signal = boundedSignal(opts.signal, timeoutMs);
  let client: KubeClient | undefined;
  try {
    const admin = await firstAdminAccess(driver, cluster, observed.nodes, { signal, ...(opts.admin ? { cache: opts.admin } : {}) });
    if (!admin) throw new MkError(`no running control plane of cluster ${cluster.metadata.name} gives admin access`);
    client = admin.client.with({ signal, timeoutMs: Math.min(5000, timeoutMs), retries: 1 });
    const installed = await readInstalled(client, cluster.metadata.name);
    return {
      // The inventory of a user CNI manifest (networking.cni: path) belongs to the cni.apply step.
      installed: installed
        .filter((i) => i.name !== CNI_ADDON_NAME)
        .map((i) => ({
          name: i.name,
          version: i.version,
          specHash: i.specHash,
          contentHash: i.contentHash,
          objects: i.objects.length,
          missing: i.missing.map(describeRef),
          foreign: i.foreign.map(describeRef),
        })),
    };
  } catch (err) {
    opts.signal?.throwIfAborted();
    const why = signal.aborted ? `no answer within ${Math.round(timeoutMs / 1000)} s` : err instanceof Error ? err.message : String(err);
    return { installed: [], error: `the API server of cluster ${cluster.metadata.name} could not be asked about addons: ${why}` };
  } finally {
    // Connections of an admin access shared with other observers stay open for them (idle sockets close themselves).
    if (!opts.admin) client?.close();
  }
}
