// The inventory of an addon: one ConfigMap per addon in kube-system, mk-addon-<name>, listing every
// object mk applied for it (apiVersion/kind/namespace/name) plus hashes of what was applied.
// It holds references only, never object contents, so a ConfigMap (not a Secret) is right.
import { createHash } from 'node:crypto';
import type { ConfigMap } from '../kube/index.js';
import { LABEL_ADDON, LABEL_CLUSTER, addonLabels, refKey } from './labels.js';
import type { K8sObject, ObjectRef } from './types.js';

export const INVENTORY_NAMESPACE = 'kube-system';
export const INVENTORY_PREFIX = 'mk-addon-';
/** Marks inventory ConfigMaps, so listInventories lists exactly them. */
export const LABEL_INVENTORY = 'mk.dev/inventory';

export interface Inventory {
  addon: string;
  cluster: string;
  /** Catalog version, or "user" for manifests. */
  version: string;
  /** Hash of the rendered, labelled objects: any change of content changes it. */
  contentHash: string;
  /** Hash of the addon's spec entry (addonSpecHash), for diffAddons; empty if unknown. */
  specHash?: string;
  /** Every object applied, in apply order. */
  objects: ObjectRef[];
}

/** JSON with object keys sorted at every level: the same content always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function contentHash(objects: readonly K8sObject[]): string {
  return createHash('sha256').update(canonicalJson(objects)).digest('hex');
}

export function inventoryName(addon: string): string {
  return `${INVENTORY_PREFIX}${addon}`;
}

/** Pure: the ConfigMap that stores an inventory. */
export function inventoryConfigMap(inv: Inventory): ConfigMap & { apiVersion: string; kind: string; metadata: { name: string } } {
  const sorted = [...inv.objects];
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: inventoryName(inv.addon),
      namespace: INVENTORY_NAMESPACE,
      labels: { ...addonLabels(inv.cluster, inv.addon), [LABEL_INVENTORY]: 'true' },
    },
    data: {
      addon: inv.addon,
      version: inv.version,
      contentHash: inv.contentHash,
      objects: JSON.stringify(sorted.map((r) => (r.namespace ? { apiVersion: r.apiVersion, kind: r.kind, namespace: r.namespace, name: r.name } : { apiVersion: r.apiVersion, kind: r.kind, name: r.name }))),
      ...(inv.specHash ? { specHash: inv.specHash } : {}),
    },
  };
}

function isRef(v: unknown): v is ObjectRef {
  const o = v as Record<string, unknown> | null;
  return (
    o !== null &&
    typeof o === 'object' &&
    typeof o.apiVersion === 'string' &&
    typeof o.kind === 'string' &&
    typeof o.name === 'string' &&
    (o.namespace === undefined || typeof o.namespace === 'string')
  );
}

/** Pure: parse an inventory ConfigMap; undefined if it is not one of mk's (wrong labels, malformed data). */
export function parseInventory(cm: ConfigMap): Inventory | undefined {
  const labels = cm.metadata?.labels ?? {};
  const data = cm.data ?? {};
  const addon = labels[LABEL_ADDON];
  const cluster = labels[LABEL_CLUSTER];
  if (!addon || !cluster || labels[LABEL_INVENTORY] !== 'true' || data.addon !== addon) return undefined;
  let objects: unknown;
  try {
    objects = JSON.parse(data.objects ?? '[]');
  } catch {
    return undefined;
  }
  if (!Array.isArray(objects) || !objects.every(isRef)) return undefined;
  return {
    addon,
    cluster,
    version: data.version ?? '',
    contentHash: data.contentHash ?? '',
    objects,
    ...(data.specHash ? { specHash: data.specHash } : {}),
  };
}

/** Refs of both lists, without duplicates, a's order first. */
export function unionRefs(a: readonly ObjectRef[], b: readonly ObjectRef[]): ObjectRef[] {
  const seen = new Set<string>();
  const out: ObjectRef[] = [];
  for (const r of [...a, ...b]) {
    const k = refKey(r);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(r);
    }
  }
  return out;
}

/** Refs in a that are not in b. */
export function subtractRefs(a: readonly ObjectRef[], b: readonly ObjectRef[]): ObjectRef[] {
  const keys = new Set(b.map(refKey));
  return a.filter((r) => !keys.has(refKey(r)));
}
