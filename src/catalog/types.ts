// The catalog's model: an entry renders Kubernetes objects from its options and what it needs of
// the cluster's spec. Pure data and pure renders: the spec checks addons against it.
import type { K8sObject } from '../manifests/types.js';

/** What of the cluster's spec an addon renders from (a Cluster is one). */
export interface RenderCluster {
  spec: { loadBalancer: { enabled: boolean; addressPool: 'auto' | string[] } };
}

/** Facts about where the cluster runs that some addons need (metallb's auto pool). */
export interface RenderEnv {
  /** The cluster's node network: subnet (CIDR), Docker's allocation range (CIDR) if set, addresses in use. */
  network?: { subnet: string; ipRange?: string; gateway?: string; used?: string[] };
  /**
   * Images of kubeadm's own components as the cluster runs them (coredns: the image of Deployment
   * kube-system/coredns), read through the API server, for addons that run one (CatalogAddon.kubeadmImages).
   */
  kubeadmImages?: Partial<Record<KubeadmImage, string>>;
}

/** A component of kubeadm whose image an addon may run too: its CoreDNS. */
export type KubeadmImage = 'coredns';

/** A JSON-Schema-like description of an addon's options, checked by checkOptions(). */
export type OptionType = 'string' | 'integer' | 'boolean' | 'string[]';
export interface OptionsSchema {
  [option: string]: {
    type: OptionType;
    description: string;
    default?: unknown;
    enum?: readonly string[];
    /** For 'string' and 'string[]': a regular expression each string matches (in the JSON Schema too), and what a string that does not is told it must be. */
    pattern?: { regex: string; means: string };
  };
}

export interface CatalogAddon {
  name: string;
  /** Version of the upstream project the manifests follow. */
  version: string;
  /**
   * How the objects come to be: written for mk from upstream facts, or (in part) from upstream
   * release files fetched at apply time (see `fetched`).
   */
  source: 'written-for-mk' | 'fetched';
  /**
   * Upstream release files the addon renders from, fetched when it is rendered: each URL is
   * `<baseUrl>/<path>` (or the `releaseMirror` option's base instead), its SHA-256 pinned here,
   * cached by digest. render() receives their texts by key. A file with `members` is a zip archive
   * (a Go module zip from the module proxy): its text is those members, in that order, as one
   * YAML stream.
   */
  fetched?: { baseUrl: string; files: Record<string, { path: string; sha256: string; members?: readonly string[] }> };
  description: string;
  /** Pinned image references the addon runs. */
  images: Record<string, string>;
  /**
   * Images the addon shares with kubeadm's own components, by image key (a key of addons[].images,
   * like those of `images`): not pinned here, since kubeadm picks the tag for the cluster's Kubernetes
   * version, but the reference the cluster runs, which render() finds in env.kubeadmImages. They are
   * on the nodes as the control-plane images are, so the images phase leaves them alone, unless
   * addons[].images names another image in place of one.
   */
  kubeadmImages?: Record<string, KubeadmImage>;
  /** Catalog addons that must be installed first. */
  dependsOn: string[];
  /** What mk's tests have shown of it (mk addons list says it); tests that prove more update it. */
  verified: Verified;
  optionsSchema: OptionsSchema;
  render(options: Record<string, unknown>, cluster: RenderCluster, env?: RenderEnv, files?: Record<string, string>): K8sObject[];
}

/**
 * How far mk's tests take an addon. 'api': a real kube-apiserver accepts its objects (installed,
 * applied again without a change, removed exactly); 'running': on a real kubeadm cluster made by
 * `mk apply` its workloads became ready and did their job, checked by a test.
 */
export interface Verified {
  level: 'api' | 'running';
  /** What was checked and what was not, in a sentence. */
  detail: string;
}
