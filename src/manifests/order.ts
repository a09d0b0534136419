// Pure ordering of objects: what is applied first, what is deleted last.
import type { ObjectRef } from './types.js';

export const isCrd = (r: { kind?: string; apiVersion?: string }): boolean =>
  r.kind === 'CustomResourceDefinition' && (r.apiVersion ?? '').startsWith('apiextensions.k8s.io/');
export const isNamespace = (r: { kind?: string; apiVersion?: string }): boolean => r.kind === 'Namespace' && r.apiVersion === 'v1';

// Within the second phase, things other objects refer to come first (RBAC before workloads,
// ConfigMaps before Deployments, Services before the APIServices and webhooks that point at them).
const KIND_RANK: Record<string, number> = {
  Namespace: 0,
  CustomResourceDefinition: 1,
  PriorityClass: 2,
  StorageClass: 3,
  CSIDriver: 3,
  ServiceAccount: 4,
  Secret: 5,
  ConfigMap: 5,
  ClusterRole: 6,
  ClusterRoleBinding: 7,
  Role: 6,
  RoleBinding: 7,
  PersistentVolumeClaim: 8,
  Service: 9,
  Deployment: 10,
  DaemonSet: 10,
  StatefulSet: 10,
  Job: 11,
  CronJob: 11,
  IngressClass: 12,
  Ingress: 13,
  APIService: 14,
  ValidatingWebhookConfiguration: 15,
  MutatingWebhookConfiguration: 15,
};
const rank = (kind: string): number => KIND_RANK[kind] ?? 12;

/** Split into the two apply phases (Namespaces + CRDs, then the rest), each ordered by kind then name. Stable. */
export function applyPhases<T extends { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }>(objects: readonly T[]): { first: T[]; rest: T[] } {
  const sorted = [...objects].sort((a, b) => rank(a.kind) - rank(b.kind));
  return { first: sorted.filter((o) => isNamespace(o) || isCrd(o)), rest: sorted.filter((o) => !isNamespace(o) && !isCrd(o)) };
}

/**
 * Deletion order: namespaced objects first (workloads before what they use), then cluster-scoped
 * objects, CRDs and Namespaces last. Pure.
 */
export function removalOrder(refs: readonly ObjectRef[]): ObjectRef[] {
  const tier = (r: ObjectRef): number => (isNamespace(r) ? 3 : isCrd(r) ? 2 : r.namespace ? 0 : 1);
  return [...refs].sort((a, b) => tier(a) - tier(b) || rank(b.kind) - rank(a.kind));
}
