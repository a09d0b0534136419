// Where the ingress-dns addon answers: the address a resolver for its domains points at (its
// LoadBalancer address, or the address of the node its server runs on), read through the API
// server, for mk apply's step line and mk status.
import { INGRESS_DNS, ingressDnsDomains } from '../catalog/ingress-dns/index.js';
import { TRAEFIK } from '../catalog/ingress/index.js';
import type { KubeClient } from '../kube/index.js';
import type { AddonSpec, Cluster } from '../spec/types.js';

export interface IngressDnsEndpoint {
  /** The domains it answers for. */
  domains: string[];
  /** Where a resolver for them points (port 53, UDP and TCP); absent while there is none yet. */
  address?: string;
  /** How it got that address: the Service's LoadBalancer address, or the node its pod runs on. */
  via: 'load balancer' | 'node';
  /** Why there is no address yet. */
  pending?: string;
  /** Why the address is no longer right (Traefik moved to another node), and what to do. */
  stale?: string;
}

type ServiceJson = { status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } } };
type PodJson = { spec?: { nodeName?: string }; status?: { hostIP?: string; conditions?: { type: string; status: string }[] } };

/** Where the addon (as the spec enables it) answers now. API errors are thrown. */
export async function ingressDnsEndpoint(client: KubeClient, cluster: Cluster, addon: Pick<AddonSpec, 'options'>, signal?: AbortSignal): Promise<IngressDnsEndpoint> {
  const domains = ingressDnsDomains(addon.options);
  const { namespace, name, podLabels } = INGRESS_DNS;
  const opts = signal ? { signal } : {};
  if (cluster.spec.loadBalancer.enabled) {
    const svc = await client.json<ServiceJson>('GET', `/api/v1/namespaces/${namespace}/services/${name}`, { ...opts, allow404: true });
    const ingress = svc?.status?.loadBalancer?.ingress?.[0];
    const address = ingress?.ip ?? ingress?.hostname;
    return address ? { domains, address, via: 'load balancer' } : { domains, via: 'load balancer', pending: svc ? `Service ${namespace}/${name} has no LoadBalancer address yet` : `no Service ${namespace}/${name}` };
  }
  const selector = Object.entries(podLabels).map(([k, v]) => `${k}=${v}`).join(',');
  const pods = await client.json<{ items?: PodJson[] }>('GET', `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`, opts);
  const ready = (pods.items ?? []).find((p) => p.status?.hostIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  if (ready) {
    // Placed on Traefik's node when it started; Traefik may have moved since (its node drained or gone).
    const traefikSelector = Object.entries(TRAEFIK.podLabels).map(([k, v]) => `${k}=${v}`).join(',');
    const traefik = await client.json<{ items?: PodJson[] }>('GET', `/api/v1/namespaces/${TRAEFIK.namespace}/pods?labelSelector=${encodeURIComponent(traefikSelector)}`, opts);
    const nodes = [...new Set((traefik.items ?? []).map((p) => p.spec?.nodeName).filter((n): n is string => n !== undefined))];
    const here = ready.spec?.nodeName;
    const stale = here && nodes.length > 0 && !nodes.includes(here) ? `Traefik runs on node ${nodes.join(', ')}, not ${here}: kubectl -n ${namespace} rollout restart deployment/${name} moves it there` : undefined;
    return { domains, address: ready.status!.hostIP!, via: 'node', ...(stale ? { stale } : {}) };
  }
  return { domains, via: 'node', pending: (pods.items ?? []).length === 0 ? `no pod ${namespace}/${name} yet` : `its pod in ${namespace} is not ready` };
}

/** "answers *.test, *.example at 172.18.0.201 (the node Traefik runs on)", or why not yet. Pure. */
export function describeIngressDns(e: IngressDnsEndpoint): string {
  const names = e.domains.map((d) => `*.${d}`).join(', ');
  if (!e.address) return `${names}: no address yet (${e.pending ?? 'not answering'})`;
  if (e.stale) return `${e.address} answers ${names} with its own address, where Traefik no longer is (${e.stale})`;
  return `${e.address} answers ${names} (port 53; ${e.via === 'node' ? 'the node Traefik runs on' : 'its LoadBalancer address'}): point a resolver for ${e.domains.join(', ')} there`;
}
