// Labels mk puts on every addon object, and the checks that decide what mk may delete.
import type { K8sObject, ObjectRef } from './types.js';

export const LABEL_CLUSTER = 'mk.dev/cluster';
export const LABEL_ADDON = 'mk.dev/addon';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'mk';

/** A cluster as the engine names it: its name, or a spec. */
export type ClusterRefLike = string | { metadata: { name: string } };
export const clusterName = (c: ClusterRefLike): string => (typeof c === 'string' ? c : c.metadata.name);

export function addonLabels(cluster: string, addon: string): Record<string, string> {
  return { [LABEL_CLUSTER]: cluster, [LABEL_ADDON]: addon, [LABEL_MANAGED_BY]: MANAGED_BY };
}

// Fields the server owns: an exported manifest may carry them, but they are never applied.
const SERVER_METADATA = ['resourceVersion', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'managedFields', 'selfLink'] as const;

/** A deep copy of obj carrying mk's labels for this cluster and addon, without status and server-owned metadata. */
export function withAddonLabels<T extends K8sObject>(obj: T, cluster: string, addon: string): T {
  const copy = structuredClone(obj);
  delete copy.status;
  for (const f of SERVER_METADATA) delete (copy.metadata as unknown as Record<string, unknown>)[f];
  copy.metadata.labels = { ...copy.metadata.labels, ...addonLabels(cluster, addon) };
  return copy;
}

/** Whether an object (as read from the cluster) carries mk's labels for exactly this cluster and addon. */
export function ownedBy(labels: Record<string, string> | undefined, cluster: string, addon: string): boolean {
  return labels?.[LABEL_CLUSTER] === cluster && labels[LABEL_ADDON] === addon;
}

export function refOf(obj: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } }): ObjectRef {
  const ref: ObjectRef = { apiVersion: obj.apiVersion ?? 'v1', kind: obj.kind ?? '', name: obj.metadata?.name ?? '' };
  if (obj.metadata?.namespace) ref.namespace = obj.metadata.namespace;
  return ref;
}

export function refKey(r: ObjectRef): string {
  return `${r.apiVersion}/${r.kind}/${r.namespace ?? ''}/${r.name}`;
}

export function describeRef(r: ObjectRef): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}
