// Kubernetes versions: how a spec may write them and which ones mk bootstraps. Pure.
//
// The range: mk renders kubeadm's v1beta3 configuration before 1.31 and v1beta4 from 1.31 (v1beta3
// came with kubeadm 1.22), taints control planes with node-role.kubernetes.io/control-plane (kubeadm
// 1.24 and later; 1.24 also removed dockershim, so cri: docker is cri-dockerd) and asks kubeadm on
// each node for exactly the spec's version (src/kubeadm/node.ts): the node image's kubeadm, kubelet and
// preloaded control-plane images must be that version, as kubeadm's skew policy allows a kubelet no
// newer than the API server. Older versions are refused; newer minors than mk knows are planned with
// a warning (their kubeadm may no longer read v1beta4).

/** "v1.31.2", or "1.31.2" which the spec loader writes as "v1.31.2". */
export const KUBERNETES_VERSION_PATTERN = /^v?1\.(\d+)\.(\d+)$/;

export const KUBERNETES_MINORS = {
  /** The oldest minor mk bootstraps (see above). */
  oldest: 24,
  /** The newest minor mk knows: its default version's. */
  newest: 36,
} as const;

/** "1.31.2" -> "v1.31.2"; anything else unchanged. */
export function normalizeKubernetesVersion(version: string): string {
  return KUBERNETES_VERSION_PATTERN.test(version) && !version.startsWith('v') ? `v${version}` : version;
}

/** The minor of "v1.31.2" (31), or undefined for a text that is no version. */
export function kubernetesMinor(version: string): number | undefined {
  const m = KUBERNETES_VERSION_PATTERN.exec(version);
  return m ? Number(m[1]) : undefined;
}

const range = `v1.${KUBERNETES_MINORS.oldest} to v1.${KUBERNETES_MINORS.newest}`;

/** Why mk refuses to bootstrap this version, or undefined. */
export function unsupportedVersion(version: string): string | undefined {
  const minor = kubernetesMinor(version);
  if (minor === undefined || minor >= KUBERNETES_MINORS.oldest) return undefined;
  return `Kubernetes ${normalizeKubernetesVersion(version)} is older than mk bootstraps (${range}): kubeadm before 1.${KUBERNETES_MINORS.oldest} lacks the configuration and control-plane taint mk uses`;
}

/** A warning for a version newer than mk knows, or undefined. */
export function untestedVersion(version: string): string | undefined {
  const minor = kubernetesMinor(version);
  if (minor === undefined || minor <= KUBERNETES_MINORS.newest) return undefined;
  return `Kubernetes ${version} is newer than mk knows (${range}): its kubeadm may not accept mk's kubeadm.k8s.io/v1beta4 configuration`;
}

/** The Kubernetes version an image's tag names ("kindest/node:v1.31.2", "mk.local/node:1.31.2-x"), if it names one. */
export function versionOfImageTag(image: string): string | undefined {
  const tag = /:([^/@:]+)(@.*)?$/.exec(image)?.[1];
  const m = tag ? /^v?(1\.\d+\.\d+)(?![\d.])/.exec(tag) : undefined;
  return m ? `v${m[1]}` : undefined;
}
