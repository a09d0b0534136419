// kubeadm's own components whose image a catalog addon runs too (ingress-dns runs kubeadm's CoreDNS).
// mk pins no tag for them: kubeadm picks it for the cluster's Kubernetes version, and the node images
// carry it with the control-plane images, so the reference is the one the cluster runs, read from
// the component's workload through the API server (src/addons/observe.ts). Pure data.
import type { CatalogAddon, KubeadmImage } from './types.js';

export interface KubeadmComponent {
  /** What it is, for messages. */
  what: string;
  /** The repository kubeadm pulls it from by default. */
  repository: string;
  /** The workload kubeadm runs it in, and the container. */
  workload: { kind: 'Deployment'; namespace: string; name: string; container: string };
}

export const KUBEADM_IMAGES: Readonly<Record<KubeadmImage, KubeadmComponent>> = {
  coredns: { what: "kubeadm's CoreDNS", repository: 'registry.k8s.io/coredns/coredns', workload: { kind: 'Deployment', namespace: 'kube-system', name: 'coredns', container: 'coredns' } },
};

/** "registry.k8s.io/coredns/coredns:<tag the cluster runs>": a kubeadm image as the catalog names it before a cluster says which. */
export const kubeadmImageText = (which: KubeadmImage): string => `${KUBEADM_IMAGES[which].repository}:<tag the cluster runs>`;

/** Every image key of an entry, with the reference it stands for (a kubeadm image's as kubeadmImageText says it). */
export function catalogImageTexts(entry: Pick<CatalogAddon, 'images' | 'kubeadmImages'>): Record<string, string> {
  return { ...entry.images, ...Object.fromEntries(Object.entries(entry.kubeadmImages ?? {}).map(([key, which]) => [key, kubeadmImageText(which)])) };
}
