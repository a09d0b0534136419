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
import type { KubeadmImage, RenderEnv } from '../catalog/types.js';
import { KUBEADM_IMAGES } from '../catalog/kubeadm-images.js';
import { kubeadmImagesWanted } from '../spec/addons.js';

/** Time allowed for reading the addons of a cluster before planning goes on without them. */
export const OBSERVE_TIMEOUT_MS = 20_000;

/**
 * Facts of where the cluster runs that addons render from: the node network and the node addresses
 * (metallb's auto pool), and the images of kubeadm's components when they were read with the addons. Pure.
 */
export function addonEnv(observed: Pick<ObservedCluster, 'network' | 'nodes'> & Partial<Pick<ObservedCluster, 'addons'>>): RenderEnv {
  const net = observed.network;
  const kubeadmImages = observed.addons?.kubeadmImages;
  const used = observed.nodes.map((n) => n.address).filter((a): a is string => a !== undefined).sort();
  return {
    ...(net?.subnet ? { network: { subnet: net.subnet, ...(net.gateway ? { gateway: net.gateway } : {}), used } } : {}),
    ...(kubeadmImages ? { kubeadmImages } : {}),
  };
}

/**
 * The image each of kubeadm's components `which` runs, from its workload (kube-system/coredns for
 * CoreDNS); a component the cluster does not have is left out. API errors are thrown.
 */
export async function readKubeadmImages(client: KubeClient, which: readonly KubeadmImage[]): Promise<Partial<Record<KubeadmImage, string>>> {
  const out: Partial<Record<KubeadmImage, string>> = {};
  for (const w of which) {
    const { namespace, name, container } = KUBEADM_IMAGES[w].workload;
    type Workload = { spec?: { template?: { spec?: { containers?: { name: string; image?: string }[] } } } };
    const d = await client.json<Workload | undefined>('GET', `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`, { allow404: true });
    const containers = d?.spec?.template?.spec?.containers ?? [];
    const image = (containers.find((c) => c.name === container) ?? containers[0])?.image;
    if (image) out[w] = image;
  }
  return out;
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
    const wanted = kubeadmImagesWanted(cluster);
    const kubeadmImages = wanted.length > 0 ? await readKubeadmImages(client, wanted) : undefined;
    return {
      ...(kubeadmImages ? { kubeadmImages } : {}),
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
