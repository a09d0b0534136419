// Objects as mk renders and applies them.
import type { KubeObject, ObjectMeta } from '../kube/index.js';

/** Any Kubernetes object as mk renders and applies it (apiVersion, kind and metadata.name set). */
export interface K8sObject extends KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { name: string };
  [field: string]: unknown;
}

/** apiVersion/kind/namespace/name of one object: what an inventory records. */
export type { ObjectRef } from '../kube/index.js';
