// The shapes of Kubernetes JSON that mk reads and writes, as far as it reads them.

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  ownerReferences?: Array<{ apiVersion?: string; kind: string; name?: string; uid?: string }>;
}

/** Any object as the API server sends it. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** apiVersion/kind/namespace/name of one object. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

export interface CustomResourceDefinition extends KubeObject {
  spec: { group: string; names: { kind: string }; versions: Array<{ name: string; storage?: boolean }> };
}

export interface KubeEvent extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  involvedObject?: { kind?: string; name?: string };
  lastTimestamp?: string;
  eventTime?: string;
}

/** One entry of a discovery document (/api/v1, /apis/GROUP/VERSION). */
export interface ApiResource {
  /** The plural used in URLs (configmaps); subresources have a slash (pods/status). */
  name: string;
  kind: string;
  namespaced: boolean;
}
