// Small builders for the catalog's objects: each addon reads as a list of what it creates.
import type { K8sObject } from '../manifests/types.js';

type Labels = Record<string, string>;
type Obj = Record<string, unknown>;

export function obj(apiVersion: string, kind: string, name: string, namespace: string | undefined, body: Obj = {}, labels: Labels = {}, annotations?: Record<string, string>): K8sObject {
  return {
    apiVersion,
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}), labels: { ...labels }, ...(annotations ? { annotations } : {}) },
    ...body,
  };
}

export const namespace = (name: string, labels: Labels = {}): K8sObject => obj('v1', 'Namespace', name, undefined, {}, labels);

export const serviceAccount = (name: string, ns: string, labels: Labels = {}): K8sObject => obj('v1', 'ServiceAccount', name, ns, {}, labels);

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
export const rule = (apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[]): Rule => ({ apiGroups, resources, verbs, ...(resourceNames ? { resourceNames } : {}) });
export const READ = ['get', 'list', 'watch'];
export const ALL = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

export const clusterRole = (name: string, rules: Rule[], labels: Labels = {}): K8sObject => obj('rbac.authorization.k8s.io/v1', 'ClusterRole', name, undefined, { rules }, labels);
export const role = (name: string, ns: string, rules: Rule[], labels: Labels = {}): K8sObject => obj('rbac.authorization.k8s.io/v1', 'Role', name, ns, { rules }, labels);

export function clusterRoleBinding(name: string, roleName: string, sa: { name: string; namespace: string }, labels: Labels = {}): K8sObject {
  return obj('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', name, undefined, {
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
    subjects: [{ kind: 'ServiceAccount', name: sa.name, namespace: sa.namespace }],
  }, labels);
}

export function roleBinding(name: string, ns: string, roleRef: { kind: 'Role' | 'ClusterRole'; name: string }, sa: { name: string; namespace: string }, labels: Labels = {}): K8sObject {
  return obj('rbac.authorization.k8s.io/v1', 'RoleBinding', name, ns, {
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef },
    subjects: [{ kind: 'ServiceAccount', name: sa.name, namespace: sa.namespace }],
  }, labels);
}

export interface ServicePort {
  name: string;
  port: number;
  targetPort: number | string;
  protocol?: 'TCP' | 'UDP';
  nodePort?: number;
}
export function service(name: string, ns: string, selector: Labels, ports: ServicePort[], extra: Obj = {}, labels: Labels = {}): K8sObject {
  return obj('v1', 'Service', name, ns, { spec: { selector, ports: ports.map((p) => ({ protocol: 'TCP', ...p })), ...extra } }, labels);
}

/** A pod template with the given selector labels; spec fields pass through. */
export function podTemplate(selector: Labels, spec: Obj, annotations?: Record<string, string>): Obj {
  return { metadata: { labels: { ...selector }, ...(annotations ? { annotations } : {}) }, spec };
}

export function deployment(name: string, ns: string, selector: Labels, podSpec: Obj, opts: { replicas?: number; strategy?: Obj } = {}, labels: Labels = {}): K8sObject {
  return obj('apps/v1', 'Deployment', name, ns, {
    spec: { replicas: opts.replicas ?? 1, selector: { matchLabels: selector }, ...(opts.strategy ? { strategy: opts.strategy } : {}), template: podTemplate(selector, podSpec) },
  }, { ...selector, ...labels });
}

export function daemonSet(name: string, ns: string, selector: Labels, podSpec: Obj, labels: Labels = {}): K8sObject {
  return obj('apps/v1', 'DaemonSet', name, ns, { spec: { selector: { matchLabels: selector }, template: podTemplate(selector, podSpec) } }, { ...selector, ...labels });
}

export function statefulSet(name: string, ns: string, selector: Labels, podSpec: Obj, opts: { replicas?: number; serviceName: string }, labels: Labels = {}): K8sObject {
  return obj('apps/v1', 'StatefulSet', name, ns, {
    spec: { replicas: opts.replicas ?? 1, serviceName: opts.serviceName, selector: { matchLabels: selector }, template: podTemplate(selector, podSpec) },
  }, { ...selector, ...labels });
}

export const configMap = (name: string, ns: string, data: Record<string, string>, labels: Labels = {}): K8sObject => obj('v1', 'ConfigMap', name, ns, { data }, labels);

export interface CrdVersion {
  name: string;
  served?: boolean;
  storage?: boolean;
  /** printer columns: [name, type, jsonPath] */
  columns?: [string, string, string][];
  status?: boolean;
}

/**
 * A compact CRD: spec and status are kept as given (x-kubernetes-preserve-unknown-fields); the
 * controller validates contents. Valid for the real apiserver (structural schema).
 */
export function crd(group: string, kind: string, plural: string, scope: 'Namespaced' | 'Cluster', versions: CrdVersion[], opts: { shortNames?: string[]; categories?: string[]; singular?: string; required?: string[]; properties?: Obj } = {}, labels: Labels = {}): K8sObject {
  // Groups under k8s.io / kubernetes.io are protected: the API server requires this annotation.
  const isProtected = /(^|\.)(k8s|kubernetes)\.io$/.test(group);
  const annotations = isProtected ? { 'api-approved.kubernetes.io': `unapproved, compact schema rendered by mk for ${group}` } : undefined;
  return obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', `${plural}.${group}`, undefined, {
    spec: {
      group,
      scope,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: opts.singular ?? kind.toLowerCase(),
        ...(opts.shortNames ? { shortNames: opts.shortNames } : {}),
        ...(opts.categories ? { categories: opts.categories } : {}),
      },
      versions: versions.map((v, i) => ({
        name: v.name,
        served: v.served ?? true,
        storage: v.storage ?? i === 0,
        ...(v.status !== false ? { subresources: { status: {} } } : {}),
        ...(v.columns ? { additionalPrinterColumns: v.columns.map(([name, type, jsonPath]) => ({ name, type, jsonPath })) } : {}),
        schema: {
          openAPIV3Schema: {
            type: 'object',
            ...(opts.required ? { required: opts.required } : {}),
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              ...opts.properties,
            },
          },
        },
      })),
    },
  }, labels, annotations);
}

/** Options merged over defaults from the schema. */
export function withDefaults<T extends Obj>(schema: Record<string, { default?: unknown }>, options: Obj): T {
  const out: Obj = {};
  for (const [k, v] of Object.entries(schema)) if (v.default !== undefined) out[k] = v.default;
  return { ...out, ...options } as T;
}

export const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};
