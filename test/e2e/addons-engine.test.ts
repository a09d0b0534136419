// The addons engine against a real kube-apiserver (+ etcd) built from source: server-side apply
// with labels and an inventory, no-op re-apply, drift, conflicts, prune, removal of exactly mk's
// objects, readiness. No controller-manager: the test sets workload status itself, so nothing
// overwrites it (and Namespaces deleted by mk stay Terminating, which the test accepts).
import { AppsV1Api, BatchV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject, type V1ConfigMap, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddonConflictError, AddonNotReadyError, addonSpecHash, applyAddon, diffAddons, readInstalled, removeAddon, waitForAddon } from '../../src/addons/index.js';
import type { K8sObject, ObjectRef } from '../../src/addons/index.js';
import { inventoryName } from '../../src/manifests/inventory.js';
import type { KubeClient } from '../../src/kube/index.js';
import { binariesGate } from '../k8s/binaries.js';
import { startControlPlane, type ControlPlane } from '../k8s/controlplane.js';
import { apiErrorCode, kubeClient } from './helpers.js';

const gate = binariesGate(['etcd', 'kube-apiserver']);
const CLUSTER = 'e2e';
const NS = 'mk-addon-e2e';
const ADDON = 'gadgets';
const SPEC = { name: ADDON, enabled: true, options: {}, manifests: 'gadgets/' };
const SPEC_HASH = addonSpecHash(SPEC);

function objects(opts: { color?: string; withExtra?: boolean } = {}): K8sObject[] {
  const list: K8sObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'gadgets.e2e.mk.dev' },
      spec: {
        group: 'e2e.mk.dev',
        scope: 'Namespaced',
        names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } } }],
      },
    },
    // The custom resource comes before its CRD in the list: the engine orders phases itself.
    { apiVersion: 'e2e.mk.dev/v1', kind: 'Gadget', metadata: { name: 'g1', namespace: NS }, spec: { size: 3 } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'gadget', namespace: NS } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gadget-config', namespace: NS }, data: { color: opts.color ?? 'blue' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'gadget', namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'gadget' } },
        template: { metadata: { labels: { app: 'gadget' } }, spec: { serviceAccountName: 'gadget', containers: [{ name: 'g', image: 'registry.k8s.io/pause:3.10' }] } },
      },
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'mk-e2e-gadget-reader' }, rules: [{ apiGroups: ['e2e.mk.dev'], resources: ['gadgets'], verbs: ['get'] }] },
  ];
  if (opts.withExtra !== false) list.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gadget-extra', namespace: NS }, data: { a: '1' } });
  return list;
}

describe.skipIf(gate.skip)('addons engine against a real apiserver', () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let api: KubernetesObjectApi;
  const header = (r: ObjectRef) => ({ apiVersion: r.apiVersion, kind: r.kind, metadata: r.namespace ? { name: r.name, namespace: r.namespace } : { name: r.name } });
  const read = <T extends KubernetesObject>(r: ObjectRef) => api.read<T>(header(r));
  const versions = async (refs: ObjectRef[]) => Object.fromEntries(await Promise.all(refs.map(async (r) => [`${r.kind}/${r.name}`, (await read(r)).metadata?.resourceVersion] as const)));
  const inventoryRef: ObjectRef = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'kube-system', name: inventoryName(ADDON) };
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: false });
    api = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    client = kubeClient(cp.kubeconfigPath);
  });
  afterAll(async () => {
    console.log(`[addons-engine] timings (ms): ${JSON.stringify(timings)}`);
    await cp?.stop();
  });

  it('applies Namespaces and CRDs first, then the rest, labelled, with an inventory', async () => {
    const res = await applyAddon(client, CLUSTER, SPEC, objects(), { version: 'user', specHash: SPEC_HASH });
    timings.apply = res.durationMs;
    expect(res.objects.slice(0, 2).map((r) => r.kind).sort()).toEqual(['CustomResourceDefinition', 'Namespace']);
    expect(res.objects).toHaveLength(8);
    for (const ref of res.objects) {
      const o = await read(ref);
      expect(o.metadata?.labels).toMatchObject({ 'mk.dev/cluster': CLUSTER, 'mk.dev/addon': ADDON, 'app.kubernetes.io/managed-by': 'mk' });
      expect(o.metadata?.managedFields?.some((f) => f.manager === 'mk' && f.operation === 'Apply')).toBe(true);
    }
    const inv = await read<V1ConfigMap>(inventoryRef);
    const listed = JSON.parse(inv.data?.objects ?? '[]') as ObjectRef[];
    expect(listed.map((r) => `${r.kind}/${r.namespace ?? ''}/${r.name}`).sort()).toEqual(res.objects.map((r) => `${r.kind}/${r.namespace ?? ''}/${r.name}`).sort());
    expect(inv.data?.contentHash).toBe(res.contentHash);
  });

  it('re-applying identical content is a no-op: no resourceVersion moves (inventory included)', async () => {
    const refs = [...(await readInstalled(client, CLUSTER))[0]!.objects, inventoryRef];
    const before = await versions(refs);
    const log: string[] = [];
    const res = await applyAddon(client, CLUSTER, SPEC, objects(), { version: 'user', specHash: SPEC_HASH, log: (m) => log.push(m) });
    expect(log).toEqual([]);
    timings.reapplyNoop = res.durationMs;
    expect(await versions(refs)).toEqual(before);
    // Sending every object again (server-side apply of identical content) moves nothing either.
    const sent: string[] = [];
    const res2 = await applyAddon(client, CLUSTER, SPEC, objects(), { version: 'user', specHash: SPEC_HASH, skipUnchanged: false, log: (m) => sent.push(m) });
    timings.reapplySendAll = res2.durationMs;
    expect(sent.filter((m) => m.startsWith('applied'))).toHaveLength(8);
    expect(await versions(refs)).toEqual(before);
  });

  it('readInstalled reports the inventory; diffAddons sees no change, then drift after a hand deletion', async () => {
    const installed = await readInstalled(client, CLUSTER);
    expect(installed.map((i) => [i.name, i.specHash, i.version, i.missing.length])).toEqual([[ADDON, SPEC_HASH, 'user', 0]]);
    expect(await readInstalled(client, 'another-cluster')).toEqual([]);
    expect(diffAddons([SPEC], installed, { contentHashes: { [ADDON]: installed[0]!.contentHash } })).toEqual({ apply: [], reasons: {}, remove: [] });
    expect(diffAddons([{ ...SPEC, enabled: false }], installed).remove).toEqual([ADDON]);

    await api.delete(header({ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'gadget-extra' }));
    const drifted = await readInstalled(client, CLUSTER);
    expect(drifted[0]!.missing).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'gadget-extra' }]);
    expect(diffAddons([SPEC], drifted).reasons).toEqual({ [ADDON]: 'drift' });
    const repaired = await applyAddon(client, CLUSTER, SPEC, objects(), { version: 'user', specHash: SPEC_HASH });
    timings.repairDrift = repaired.durationMs;
    expect((await readInstalled(client, CLUSTER))[0]!.missing).toEqual([]);
  });

  it('reports a conflict with another field manager instead of forcing; force: true takes over', async () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gadget-config', namespace: NS }, data: { color: 'green' } };
    await api.patch(cm, undefined, undefined, 'someone-else', true, PatchStrategy.ServerSideApply);
    const err = await applyAddon(client, CLUSTER, SPEC, objects({ color: 'red' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddonConflictError);
    expect((err as AddonConflictError).ref).toMatchObject({ kind: 'ConfigMap', name: 'gadget-config', namespace: NS });
    expect((err as Error).message).toMatch(/gadget-config/);
    expect((await read<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'gadget-config' })).data?.color).toBe('green');

    await applyAddon(client, CLUSTER, { ...SPEC, force: true }, objects({ color: 'red' }));
    expect((await read<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'gadget-config' })).data?.color).toBe('red');
  });

  it('refuses to take over an existing object mk did not create (unless force)', async () => {
    await api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'users-own', namespace: NS }, data: { mine: 'yes' } });
    const extra: K8sObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'users-own', namespace: NS }, data: { mine: 'no' } };
    const err = await applyAddon(client, CLUSTER, SPEC, [...objects({ color: 'red' }), extra]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddonConflictError);
    expect((err as Error).message).toMatch(/ConfigMap mk-addon-e2e\/users-own: exists and was not created by mk/);
    const cm = await read<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'users-own' });
    expect(cm.data).toEqual({ mine: 'yes' });
    expect(cm.metadata?.labels?.['mk.dev/addon']).toBeUndefined();

    // force: true adopts it (labelled, mk's content); removal would then delete it.
    await api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'adoptable', namespace: NS }, data: { mine: 'yes' } });
    const adopt: K8sObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'adoptable', namespace: NS }, data: { mine: 'mk' } };
    const res = await applyAddon(client, CLUSTER, { name: 'adopter', force: true }, [adopt]);
    expect(res.objects).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'adoptable' }]);
    const adopted = await read<V1ConfigMap>(res.objects[0]!);
    expect(adopted.data).toEqual({ mine: 'mk' });
    expect(adopted.metadata?.labels?.['mk.dev/addon']).toBe('adopter');
    // Another addon claiming the same object is refused: it belongs to "adopter".
    await expect(applyAddon(client, CLUSTER, { name: 'other' }, [adopt])).rejects.toThrow(/ConfigMap mk-addon-e2e\/adoptable: belongs to addon adopter/);
    expect((await removeAddon(client, CLUSTER, 'adopter')).deleted).toHaveLength(1);
  });

  it('fails fast on a kind the API server does not serve, recording nothing', async () => {
    const typo: K8sObject = { apiVersion: 'e2e.mk.dev/v1', kind: 'Gadgett', metadata: { name: 'g', namespace: NS } };
    const started = Date.now();
    await expect(applyAddon(client, CLUSTER, { name: 'typo' }, [typo], { unknownKindTimeoutMs: 1000 })).rejects.toThrow(/addon typo: the API server does not serve e2e\.mk\.dev\/v1 Gadgett/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await readInstalled(client, CLUSTER)).map((i) => i.name)).toEqual([ADDON]);
  });

  it('prunes what an earlier apply created and this one no longer renders', async () => {
    const res = await applyAddon(client, CLUSTER, SPEC, objects({ color: 'red', withExtra: false }));
    expect(res.pruned).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'gadget-extra' }]);
    expect(await apiErrorCode(read({ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'gadget-extra' }))).toBe(404);
  });

  it('waits for readiness: success once the test sets status, timeout naming the unready object', async () => {
    const refs = (await readInstalled(client, CLUSTER))[0]!.objects;
    const err = await waitForAddon(client, ADDON, refs, { timeoutMs: 1500, intervalMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddonNotReadyError);
    expect((err as Error).message).toMatch(/addon gadgets not ready after 2s: Deployment mk-addon-e2e\/gadget: waiting for the controller to observe generation 1/);
    expect((err as AddonNotReadyError).unready.map((u) => u.ref.name)).toEqual(['gadget']);

    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const dep = await apps.readNamespacedDeployment({ name: 'gadget', namespace: NS });
    const setStatus = (status: V1Deployment['status']) => apps.replaceNamespacedDeploymentStatus({ name: 'gadget', namespace: NS, body: { ...dep, status } });
    await setStatus({ observedGeneration: dep.metadata?.generation ?? 1, replicas: 1, updatedReplicas: 1, availableReplicas: 0, conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }] });
    const err2 = await waitForAddon(client, ADDON, refs, { timeoutMs: 600, intervalMs: 200 }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/Deployment mk-addon-e2e\/gadget: 0\/1 replicas available \(MinimumReplicasUnavailable: Deployment does not have minimum availability\.\)/);

    // Its first pod that is not ready is named with the reason its container waits (the test sets the
    // pod's status, as a kubelet would: no kubelet runs on tier 1).
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const pod = await core.createNamespacedPod({ namespace: NS, body: { metadata: { name: 'gadget-1', labels: { app: 'gadget' } }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } } });
    await core.replaceNamespacedPodStatus({
      name: 'gadget-1',
      namespace: NS,
      body: { ...pod, status: { phase: 'Pending', containerStatuses: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull', message: 'no registry answers' } } }] } },
    });
    const withPod = await waitForAddon(client, ADDON, refs, { timeoutMs: 300, intervalMs: 100 }).catch((e: unknown) => e);
    expect((withPod as AddonNotReadyError).unready.map((u) => u.pod)).toEqual(['pod gadget-1: Pending (ErrImagePull: no registry answers)']);
    expect((withPod as Error).message).toMatch(/\(MinimumReplicasUnavailable: Deployment does not have minimum availability\.\); pod gadget-1: Pending \(ErrImagePull: no registry answers\)/);
    await core.deleteNamespacedPod({ name: 'gadget-1', namespace: NS, gracePeriodSeconds: 0 });

    // The latest Warning event about the object is named too.
    await api.create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'gadget.e2e', namespace: NS },
      involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'gadget', namespace: NS },
      type: 'Warning',
      reason: 'FailedCreate',
      message: 'pods "gadget-1" is forbidden: exceeded quota',
      lastTimestamp: new Date(),
      source: { component: 'e2e' },
    } as KubernetesObject);
    const err3 = await waitForAddon(client, ADDON, refs, { timeoutMs: 300, intervalMs: 100 }).catch((e: unknown) => e);
    expect((err3 as Error).message).toMatch(/; last event: FailedCreate: pods "gadget-1" is forbidden: exceeded quota$/);

    const fresh = await apps.readNamespacedDeployment({ name: 'gadget', namespace: NS });
    await apps.replaceNamespacedDeploymentStatus({ name: 'gadget', namespace: NS, body: { ...fresh, status: { observedGeneration: fresh.metadata?.generation ?? 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 } } });
    const ok = await waitForAddon(client, ADDON, refs, { timeoutMs: 5000, intervalMs: 200 });
    timings.waitReady = ok.durationMs;
  });

  it('readiness of DaemonSets, StatefulSets and Jobs follows the status the test sets', async () => {
    const sel = (app: string) => ({ selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } } });
    const workloads: K8sObject[] = [
      { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds', namespace: 'default' }, spec: { ...sel('ds'), template: { ...sel('ds').template, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } } } },
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'sts', namespace: 'default' }, spec: { ...sel('sts'), serviceName: 'sts', replicas: 2, template: { ...sel('sts').template, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } } } },
      { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'job', namespace: 'default' }, spec: { template: sel('job').template } },
    ];
    const res = await applyAddon(client, CLUSTER, { name: 'workloads' }, workloads);
    const err = await waitForAddon(client, 'workloads', res.objects, { timeoutMs: 500, intervalMs: 100 }).catch((e: unknown) => e);
    expect((err as AddonNotReadyError).unready.map((u) => `${u.ref.kind}/${u.ref.name}: ${u.reason}`)).toEqual([
      'DaemonSet/ds: waiting for the controller to observe generation 1',
      'StatefulSet/sts: waiting for the controller to observe generation 1',
      'Job/job: not complete (0 succeeded, 0 active)',
    ]);
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const batch = cp.kubeConfig.makeApiClient(BatchV1Api);
    const ds = await apps.readNamespacedDaemonSet({ name: 'ds', namespace: 'default' });
    await apps.replaceNamespacedDaemonSetStatus({ name: 'ds', namespace: 'default', body: { ...ds, status: { observedGeneration: 1, desiredNumberScheduled: 2, currentNumberScheduled: 2, numberMisscheduled: 0, numberReady: 1, updatedNumberScheduled: 2 } } });
    const sts = await apps.readNamespacedStatefulSet({ name: 'sts', namespace: 'default' });
    await apps.replaceNamespacedStatefulSetStatus({ name: 'sts', namespace: 'default', body: { ...sts, status: { observedGeneration: 1, replicas: 2, readyReplicas: 2, availableReplicas: 2 } } });
    const err2 = await waitForAddon(client, 'workloads', res.objects, { timeoutMs: 300, intervalMs: 100 }).catch((e: unknown) => e);
    expect((err2 as AddonNotReadyError).unready.map((u) => `${u.ref.kind}/${u.ref.name}: ${u.reason}`)).toEqual(['DaemonSet/ds: 1/2 pods ready', 'Job/job: not complete (0 succeeded, 0 active)']);

    const ds2 = await apps.readNamespacedDaemonSet({ name: 'ds', namespace: 'default' });
    await apps.replaceNamespacedDaemonSetStatus({ name: 'ds', namespace: 'default', body: { ...ds2, status: { ...ds2.status!, numberReady: 2 } } });
    const job = await batch.readNamespacedJob({ name: 'job', namespace: 'default' });
    const now = new Date();
    await batch.replaceNamespacedJobStatus({
      name: 'job',
      namespace: 'default',
      body: { ...job, status: { startTime: job.status?.startTime ?? now, completionTime: now, succeeded: 1, conditions: [{ type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: now }, { type: 'Complete', status: 'True', lastTransitionTime: now }] } },
    });
    await waitForAddon(client, 'workloads', res.objects, { timeoutMs: 3000, intervalMs: 100 });
    expect((await removeAddon(client, CLUSTER, 'workloads')).deleted).toHaveLength(3);
  });

  it('removal deletes exactly its objects: a same-named user object without mk labels is kept', async () => {
    // The user replaces mk's ConfigMap with their own (same name, no mk labels).
    await api.delete(header({ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'gadget-config' }));
    await api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gadget-config', namespace: NS }, data: { user: 'true' } });
    // And a Gadget of their own: the CRD stays while it exists.
    await api.create({ apiVersion: 'e2e.mk.dev/v1', kind: 'Gadget', metadata: { name: 'users-gadget', namespace: NS }, spec: { size: 1 } });

    const observed = (await readInstalled(client, CLUSTER)).find((i) => i.name === ADDON)!;
    expect(observed.foreign).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'gadget-config' }]);
    expect(observed.missing).toEqual([]);

    const res = await removeAddon(client, CLUSTER, ADDON);
    timings.remove = res.durationMs;
    expect(res.kept.map((k) => `${k.ref.kind}/${k.ref.name}`).sort()).toEqual(['ConfigMap/gadget-config', 'CustomResourceDefinition/gadgets.e2e.mk.dev']);
    expect(res.kept.find((k) => k.ref.kind === 'CustomResourceDefinition')?.reason).toMatch(/1 Gadget object\(s\) not created by mk/);
    expect(res.deleted.map((r) => r.kind)).toEqual(['Gadget', 'Deployment', 'ServiceAccount', 'ClusterRole', 'Namespace']);
    expect((await read<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'gadget-config' })).data).toEqual({ user: 'true' });
    expect((await read<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'users-own' })).data).toEqual({ mine: 'yes' });
    for (const ref of res.deleted.filter((r) => r.kind !== 'Namespace')) expect(await apiErrorCode(read(ref))).toBe(404);
    // Without a namespace controller the Namespace stays Terminating.
    expect((await read({ apiVersion: 'v1', kind: 'Namespace', name: NS })).metadata?.deletionTimestamp).toBeTruthy();
    expect(await apiErrorCode(read(inventoryRef))).toBe(404);
    expect(await readInstalled(client, CLUSTER)).toEqual([]);
    // Removing again is a no-op.
    expect((await removeAddon(client, CLUSTER, ADDON)).deleted).toEqual([]);
    // An addon whose CRD was deleted by hand (taking its custom resources along) still removes cleanly.
    const crdOnly = objects().filter((o) => ['CustomResourceDefinition', 'Gadget', 'ClusterRole'].includes(o.kind)).map((o) => (o.kind === 'CustomResourceDefinition' ? { ...o, metadata: { name: 'doodads.e2e.mk.dev' }, spec: { ...(o.spec as object), names: { plural: 'doodads', singular: 'doodad', kind: 'Doodad', listKind: 'DoodadList' } } } : o.kind === 'Gadget' ? { ...o, kind: 'Doodad', metadata: { name: 'd1', namespace: 'default' } } : { ...o, metadata: { name: 'mk-e2e-doodad' } }));
    const installed = await applyAddon(client, CLUSTER, { name: 'doodads' }, crdOnly);
    expect(installed.objects.map((r) => r.kind).sort()).toEqual(['ClusterRole', 'CustomResourceDefinition', 'Doodad']);
    await api.delete({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'doodads.e2e.mk.dev' } });
    for (let i = 0; i < 100 && (await apiErrorCode(read({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: 'doodads.e2e.mk.dev' })).catch(() => 0)) !== 404; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await readInstalled(client, CLUSTER))[0]?.missing.map((r) => r.kind).sort()).toEqual(['CustomResourceDefinition', 'Doodad']);
    expect((await removeAddon(client, CLUSTER, 'doodads')).deleted.map((r) => r.kind)).toEqual(['ClusterRole']);
    expect((await removeAddon(client, CLUSTER, ADDON)).deleted).toEqual([]);
  });
});
