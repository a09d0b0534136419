// Pure parts of the addons engine: ordering, inventory, hashes, diff, subset check, transient errors.
import { describe, expect, it } from 'vitest';
import { firstDifference, isSubset } from '../../src/manifests/compare.js';
import { KubeApiError, KubeConnectionError, isTransient } from '../../src/kube/index.js';
import { addonSpecHash, diffAddons } from '../../src/addons/diff.js';
import { desiredAddons, orderByDependencies } from '../../src/spec/addons.js';
import { canonicalJson, contentHash, inventoryConfigMap, parseInventory, subtractRefs, unionRefs } from '../../src/manifests/inventory.js';
import { ownedBy, withAddonLabels } from '../../src/manifests/labels.js';
import { applyPhases, removalOrder } from '../../src/manifests/order.js';
import type { K8sObject, ObjectRef } from '../../src/manifests/types.js';
import type { AddonSpec } from '../../src/spec/types.js';
import { aCluster } from './builders.js';

const o = (apiVersion: string, kind: string, name: string, namespace?: string): K8sObject => ({ apiVersion, kind, metadata: namespace ? { name, namespace } : { name } });
const addon = (name: string, extra: Partial<AddonSpec> = {}): AddonSpec => ({ name, enabled: true, options: {}, ...extra });

describe('apply order', () => {
  it('puts Namespaces and CRDs in the first phase, the rest after, RBAC before workloads', () => {
    const objs = [
      o('apps/v1', 'Deployment', 'd', 'ns'),
      o('example.com/v1', 'Widget', 'w', 'ns'),
      o('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'widgets.example.com'),
      o('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'b'),
      o('v1', 'ServiceAccount', 'sa', 'ns'),
      o('v1', 'Namespace', 'ns'),
      o('rbac.authorization.k8s.io/v1', 'ClusterRole', 'r'),
      o('apiregistration.k8s.io/v1', 'APIService', 'v1.example.com'),
    ];
    const { first, rest } = applyPhases(objs);
    expect(first.map((x) => x.kind)).toEqual(['Namespace', 'CustomResourceDefinition']);
    expect(rest.map((x) => x.kind)).toEqual(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Widget', 'APIService']);
  });

  it('removes namespaced objects first, then cluster-scoped ones, CRDs and Namespaces last', () => {
    const refs: ObjectRef[] = [
      { apiVersion: 'v1', kind: 'Namespace', name: 'ns' },
      { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: 'widgets.example.com' },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'r' },
      { apiVersion: 'v1', kind: 'ServiceAccount', name: 'sa', namespace: 'ns' },
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd', namespace: 'ns' },
    ];
    expect(removalOrder(refs).map((r) => r.kind)).toEqual(['Deployment', 'ServiceAccount', 'ClusterRole', 'CustomResourceDefinition', 'Namespace']);
  });
});

describe('labels', () => {
  it('labels a copy with cluster, addon and managed-by, keeping the object\'s own labels', () => {
    const src = { ...o('v1', 'ConfigMap', 'c', 'ns'), metadata: { name: 'c', namespace: 'ns', labels: { app: 'x' } } };
    const l = withAddonLabels(src, 'dev', 'ingress');
    expect(l.metadata.labels).toEqual({ app: 'x', 'mk.dev/cluster': 'dev', 'mk.dev/addon': 'ingress', 'app.kubernetes.io/managed-by': 'mk' });
    expect(src.metadata.labels).toEqual({ app: 'x' });
    expect(ownedBy(l.metadata.labels, 'dev', 'ingress')).toBe(true);
    expect(ownedBy(l.metadata.labels, 'dev', 'other')).toBe(false);
    expect(ownedBy(l.metadata.labels, 'prod', 'ingress')).toBe(false);
    expect(ownedBy(undefined, 'dev', 'ingress')).toBe(false);
  });
});

describe('inventory', () => {
  const inv = {
    addon: 'ingress',
    cluster: 'dev',
    version: 'v1.11.3',
    contentHash: 'c'.repeat(64),
    specHash: 's'.repeat(64),
    objects: [
      { apiVersion: 'v1', kind: 'Namespace', name: 'ingress-nginx' },
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ingress-nginx', name: 'ingress-nginx-controller' },
    ],
  };

  it('round-trips through its ConfigMap (kube-system/mk-addon-<name>, labelled)', () => {
    const cm = inventoryConfigMap(inv);
    expect(cm.metadata).toMatchObject({ name: 'mk-addon-ingress', namespace: 'kube-system' });
    expect(cm.metadata.labels).toMatchObject({ 'mk.dev/cluster': 'dev', 'mk.dev/addon': 'ingress', 'mk.dev/inventory': 'true' });
    expect(parseInventory(cm)).toEqual(inv);
  });

  it('rejects ConfigMaps that are not mk inventories or are malformed', () => {
    const cm = inventoryConfigMap(inv);
    expect(parseInventory({ ...cm, metadata: { ...cm.metadata, labels: {} } })).toBeUndefined();
    expect(parseInventory({ ...cm, data: { ...cm.data, objects: '{not json' } })).toBeUndefined();
    expect(parseInventory({ ...cm, data: { ...cm.data, objects: '[{"kind":"X"}]' } })).toBeUndefined();
    expect(parseInventory({ ...cm, data: { ...cm.data, addon: 'other' } })).toBeUndefined();
  });

  it('hashes content independently of key order; unions and subtracts refs', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
    const a = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'n' }, data: { k: 'v' } } as K8sObject;
    const b = { data: { k: 'v' }, metadata: { namespace: 'n', name: 'x' }, kind: 'ConfigMap', apiVersion: 'v1' } as K8sObject;
    expect(contentHash([a])).toBe(contentHash([b]));
    expect(contentHash([a])).not.toBe(contentHash([{ ...a, data: { k: 'w' } }]));
    const r1: ObjectRef = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'n', name: 'x' };
    const r2: ObjectRef = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'n', name: 'y' };
    expect(unionRefs([r1], [r1, r2])).toEqual([r1, r2]);
    expect(subtractRefs([r1, r2], [r2])).toEqual([r1]);
  });
});

describe('desiredAddons and diffAddons', () => {
  it('adds metallb for loadBalancer.enabled and catalog dependencies, in install order', () => {
    const c = aCluster('dev').build();
    c.spec.loadBalancer.enabled = true;
    c.spec.addons = [addon('default-storageclass'), addon('ingress')];
    expect(desiredAddons(c).map((a) => a.name)).toEqual(['storage', 'default-storageclass', 'gateway-api', 'ingress', 'metallb']);
  });

  it('keeps the user\'s own metallb entry and options', () => {
    const c = aCluster('dev').build();
    c.spec.loadBalancer.enabled = true;
    c.spec.addons = [addon('metallb', { options: {} }), addon('registry')];
    expect(desiredAddons(c).map((a) => a.name)).toEqual(['metallb', 'registry']);
  });

  it('orders by dependencies and detects nothing to do when hashes match', () => {
    expect(orderByDependencies([addon('default-storageclass'), addon('storage')]).map((a) => a.name)).toEqual(['storage', 'default-storageclass']);
    const desired = [addon('metrics-server'), addon('registry')];
    const installed = desired.map((a) => ({ name: a.name, specHash: addonSpecHash(a), contentHash: 'h', missing: [] }));
    expect(diffAddons(desired, installed)).toEqual({ apply: [], reasons: {}, remove: [] });
  });

  it('applies what is missing, changed, content-changed or drifted; removes disabled and unlisted', () => {
    const desired = [addon('metrics-server'), addon('registry', { options: { servicePort: 5000 } }), addon('my-app', { manifests: 'app/' }), addon('ingress'), addon('dashboard', { enabled: false })];
    const installed = [
      { name: 'metrics-server', specHash: addonSpecHash(addon('metrics-server')), contentHash: 'h', missing: [{ apiVersion: 'v1', kind: 'Service', namespace: 'kube-system', name: 'metrics-server' }] },
      { name: 'registry', specHash: addonSpecHash(addon('registry')), contentHash: 'h' },
      { name: 'my-app', specHash: addonSpecHash(addon('my-app', { manifests: 'app/' })), contentHash: 'old' },
      { name: 'dashboard', specHash: 'x' },
      { name: 'storage', specHash: 'x' },
      { name: 'default-storageclass', specHash: 'x' },
    ];
    const d = diffAddons(desired, installed, { contentHashes: { 'my-app': 'new' } });
    expect(d.apply.map((a) => a.name)).toEqual(['metrics-server', 'registry', 'my-app', 'ingress']);
    expect(d.reasons).toEqual({ 'metrics-server': 'drift', registry: 'spec changed', 'my-app': 'content changed', ingress: 'not installed' });
    // Dependents first: default-storageclass before the storage it depends on.
    expect(d.remove).toEqual(['default-storageclass', 'storage', 'dashboard']);
  });

  it('a changed force flag or catalog options changes the spec hash; key order does not', () => {
    expect(addonSpecHash(addon('registry', { force: true }))).not.toBe(addonSpecHash(addon('registry')));
    expect(addonSpecHash(addon('registry', { options: { a: 1, b: 2 } }))).toBe(addonSpecHash(addon('registry', { options: { b: 2, a: 1 } })));
  });
});

describe('isSubset / firstDifference / isTransient', () => {
  it('compares only the fields mk renders; arrays item by item with equal length', () => {
    const live = { metadata: { name: 'a', uid: 'u', labels: { x: '1', y: '2' } }, spec: { ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] }, status: {} };
    expect(isSubset({ metadata: { name: 'a', labels: { x: '1' } }, spec: { ports: [{ port: 80 }] } }, live)).toBe(true);
    expect(isSubset({ spec: { ports: [{ port: 81 }] } }, live)).toBe(false);
    expect(isSubset({ spec: { ports: [{ port: 80 }, { port: 443 }] } }, live)).toBe(false);
    expect(isSubset({ spec: { missing: 1 } }, live)).toBe(false);
    expect(firstDifference({ spec: { ports: [{ port: 81 }] } }, live)).toBe('.spec.ports[0].port');
    expect(firstDifference({ metadata: { name: 'a' } }, live)).toBeUndefined();
  });

  it('retries 429, 5xx and connection errors; not 4xx', () => {
    const status = (code: number) => KubeApiError.fromResponse('GET', '/api/v1/x', code, '');
    expect(isTransient(status(429))).toBe(true);
    expect(isTransient(status(503))).toBe(true);
    expect(isTransient(status(409))).toBe(false);
    expect(isTransient(status(404))).toBe(false);
    expect(isTransient(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransient(new KubeConnectionError('connect ECONNREFUSED', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }))).toBe(true);
    expect(isTransient(new KubeConnectionError('self-signed certificate', { cause: Object.assign(new Error('x'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }) }))).toBe(false);
    expect(isTransient(new Error('x', { cause: Object.assign(new Error('y'), { code: 'ECONNRESET' }) }))).toBe(true);
    expect(isTransient(new Error('boom'))).toBe(false);
  });
});
