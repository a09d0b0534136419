// Tier 1: a real etcd + kube-apiserver + kube-controller-manager built from source
// (test/k8s/build.sh), driven through @kubernetes/client-node 1.x with server-side apply.
import {
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
  type V1CustomResourceDefinition,
  type V1Deployment,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../../src/reconcile/lock.js';
import { binariesGate, k8sVersion } from '../k8s/binaries.js';
import { startControlPlane, type ControlPlane } from '../k8s/controlplane.js';
import { eventually } from '../helpers/wait.js';
import { apiErrorCode } from './helpers.js';

const gate = binariesGate(['etcd', 'kube-apiserver', 'kube-controller-manager']);
const MANAGER = 'mk';
const NS = 'mk-e2e';

function deployment(replicas: number, extraLabels: Record<string, string> = {}): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'mk', ...extraLabels } },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'registry.k8s.io/pause:3.10' }] },
      },
    },
  };
}

const crd: V1CustomResourceDefinition = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.e2e.mk.dev' },
  spec: {
    group: 'e2e.mk.dev',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['size'],
                properties: { size: { type: 'integer', minimum: 1 }, color: { type: 'string' } },
              },
            },
          },
        },
      },
    ],
  },
};

interface Widget extends KubernetesObject {
  spec: { size: number; color?: string };
}

/** The read/delete header of an object. */
function ref(o: KubernetesObject) {
  return { apiVersion: o.apiVersion!, kind: o.kind!, metadata: { name: o.metadata!.name!, namespace: o.metadata?.namespace } };
}

function widget(name: string, size: number, color?: string): Widget {
  return { apiVersion: 'e2e.mk.dev/v1', kind: 'Widget', metadata: { name, namespace: NS }, spec: color ? { size, color } : { size } };
}

describe.skipIf(gate.skip)(`tier 1: control plane built from source (${k8sVersion()})`, () => {
  let cp: ControlPlane;
  let api: KubernetesObjectApi;
  const apply = <T extends KubernetesObject>(obj: T, manager = MANAGER, force = true) =>
    api.patch(obj, undefined, undefined, manager, force, PatchStrategy.ServerSideApply);

  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true, log: (m) => console.log(`[controlplane] ${m}`) });
    console.log(`[controlplane] timings (ms): ${JSON.stringify(cp.timings)}`);
    api = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
  });

  afterAll(async () => {
    await cp?.stop();
  });

  it('serves the pinned version and is ready', async () => {
    const version = await cp.get('/version');
    expect(version.status).toBe(200);
    expect((JSON.parse(version.body) as { gitVersion: string }).gitVersion).toBe(k8sVersion());
    expect((await cp.get('/readyz')).status).toBe(200);
    expect(cp.kubeConfig.getCurrentCluster()?.server).toBe(cp.server);
    expect(existsSync(cp.kubeconfigPath)).toBe(true);
  });

  it('serves anonymous clients only the public endpoints (RBAC)', async () => {
    const ca = await readFile(cp.caCertPath);
    const anon = (p: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${cp.server}${p}`, { ca }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await anon('/version')).toBe(200);
    expect(await anon('/api/v1/namespaces')).toBe(403);
  });

  it('server-side applies a Namespace and a Deployment as field manager "mk"', async () => {
    await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const dep = await apply(deployment(2));
    expect(dep.metadata?.uid).toBeTruthy();
    expect(dep.spec?.replicas).toBe(2);
    const mine = dep.metadata?.managedFields?.find((f) => f.manager === MANAGER);
    expect(mine?.operation).toBe('Apply');

    // Re-applying the same intent is a no-op: same resourceVersion, same generation.
    const again = await apply(deployment(2));
    expect(again.metadata?.resourceVersion).toBe(dep.metadata?.resourceVersion);
    expect(again.metadata?.generation).toBe(dep.metadata?.generation);
  });

  it('lists the Deployment by label, and the controller-manager creates its ReplicaSet', async () => {
    const list = await api.list<V1Deployment>('apps/v1', 'Deployment', NS, undefined, undefined, undefined, undefined, 'app.kubernetes.io/managed-by=mk');
    expect(list.items.map((d) => d.metadata?.name)).toEqual(['web']);

    const rs = await eventually('a ReplicaSet owned by Deployment web', async () => {
      const rsl = await api.list<V1ReplicaSet>('apps/v1', 'ReplicaSet', NS);
      return rsl.items.find((r) => r.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === 'web'));
    });
    expect(rs.spec?.replicas).toBe(2);
  });

  it('patches: SSA update, merge patch, and a 409 conflict between field managers', async () => {
    const before = await api.read<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS } });
    const updated = await apply(deployment(3));
    expect(updated.spec?.replicas).toBe(3);
    expect(updated.metadata?.generation).toBe((before.metadata?.generation ?? 0) + 1);

    const merged = await api.patch<V1Deployment>(
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS, annotations: { 'mk.dev/note': 'merge' } } },
      undefined,
      undefined,
      'mk-merge',
      undefined,
      PatchStrategy.MergePatch,
    );
    expect(merged.metadata?.annotations?.['mk.dev/note']).toBe('merge');
    expect(merged.spec?.replicas).toBe(3);

    // Another manager claiming spec.replicas without force conflicts with "mk" ...
    expect(await apiErrorCode(apply(deployment(5), 'someone-else', false))).toBe(409);
    // ... and takes it over with force.
    const taken = await apply(deployment(5), 'someone-else', true);
    expect(taken.spec?.replicas).toBe(5);
    const owners = (taken.metadata?.managedFields ?? []).filter((f) => JSON.stringify(f.fieldsV1 ?? {}).includes('f:replicas')).map((f) => f.manager);
    expect(owners).toContain('someone-else');
    expect(owners).not.toContain(MANAGER);
  });

  it('deletes the Deployment (then 404) and garbage-collects its ReplicaSet', async () => {
    await api.delete({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS } });
    const code = await eventually('Deployment web gone', async () => {
      const c = await apiErrorCode(api.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: NS } })).catch(() => undefined);
      return c === 404 ? c : undefined;
    });
    expect(code).toBe(404);
    await eventually('ReplicaSets garbage-collected', async () => {
      const rsl = await api.list<V1ReplicaSet>('apps/v1', 'ReplicaSet', NS);
      return rsl.items.length === 0 ? true : undefined;
    });
  });

  it('applies a CRD, waits for Established, and drives a custom resource through apply/list/patch/delete', async () => {
    const applied = await apply(crd);
    expect(applied.metadata?.name).toBe('widgets.e2e.mk.dev');
    await eventually('CRD Established', async () => {
      const cur = await api.read<V1CustomResourceDefinition>({ apiVersion: crd.apiVersion!, kind: crd.kind!, metadata: { name: 'widgets.e2e.mk.dev' } });
      return cur.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    });

    // Discovery of the new group can lag behind Established: retry while it answers 404.
    const w = await eventually('first Widget applied', async () => {
      try {
        return await apply(widget('blue', 1, 'blue'));
      } catch (err) {
        if ((await apiErrorCode(Promise.reject(err))) === 404) return undefined;
        throw err;
      }
    });
    expect(w.spec).toEqual({ size: 1, color: 'blue' });
    await apply(widget('red', 2, 'red'));

    const list = await api.list<Widget>('e2e.mk.dev/v1', 'Widget', NS);
    expect(list.items.map((i) => i.metadata?.name).sort()).toEqual(['blue', 'red']);

    // The schema is enforced by the real apiserver: size must be >= 1 and is required.
    expect(await apiErrorCode(apply(widget('bad', 0)))).toBe(422);

    const patched = await apply(widget('blue', 7, 'blue'));
    expect(patched.spec.size).toBe(7);

    await api.delete(widget('blue', 7));
    expect(await apiErrorCode(api.read(ref(widget('blue', 7))))).toBe(404);
    const after = await api.list<Widget>('e2e.mk.dev/v1', 'Widget', NS);
    expect(after.items.map((i) => i.metadata?.name)).toEqual(['red']);

    await api.delete(crd);
    await eventually('CRD removed', async () => ((await apiErrorCode(api.read(ref(crd))).catch(() => 0)) === 404 ? true : undefined), 60_000);
  });

  it('deletes the Namespace through the namespace controller', async () => {
    await api.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await eventually('Namespace gone', async () => ((await apiErrorCode(api.read({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })).catch(() => 0)) === 404 ? true : undefined), 60_000);
  });

  it('stop() kills every component by PID and removes its directory', async () => {
    const pids = Object.values(cp.processes).map((p) => p.pid);
    expect(Object.keys(cp.processes).sort()).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager']);
    expect(pids.every(pidAlive)).toBe(true);
    await cp.stop();
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(existsSync(cp.dir)).toBe(false);
    await cp.stop(); // idempotent
  });
});

describe.skipIf(gate.skip)('tier 1: independent control planes side by side', () => {
  const planes: ControlPlane[] = [];
  afterAll(async () => {
    await Promise.all(planes.map((p) => p.stop()));
  });

  it('starts two at once (one with the scheduler, one bare) on distinct ports with separate state', async () => {
    const [a, b] = await Promise.all([
      startControlPlane({ controllerManager: false, scheduler: true }),
      startControlPlane({ controllerManager: false }),
    ]);
    planes.push(a, b);
    expect(Object.keys(a.processes).sort()).toEqual(['etcd', 'kube-apiserver', 'kube-scheduler']);
    expect(Object.keys(b.processes).sort()).toEqual(['etcd', 'kube-apiserver']);
    expect(new Set([a.server, b.server]).size).toBe(2);
    expect(a.dir).not.toBe(b.dir);

    const apiA = KubernetesObjectApi.makeApiClient(a.kubeConfig);
    const apiB = KubernetesObjectApi.makeApiClient(b.kubeConfig);
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'only-in-a', namespace: 'default' }, data: { k: 'v' } };
    await apiA.patch(cm, undefined, undefined, MANAGER, true, PatchStrategy.ServerSideApply);
    expect((await apiA.read(ref(cm))).metadata?.name).toBe('only-in-a');
    expect(await apiErrorCode(apiB.read(ref(cm)))).toBe(404);

    // B's certificates are not A's: A's admin client is rejected by B (401) or fails TLS against B's CA.
    const crossed = new KubeConfig();
    crossed.loadFromString(a.kubeConfig.exportConfig());
    crossed.clusters[0] = { ...crossed.clusters[0]!, server: b.server, skipTLSVerify: true, caData: undefined };
    const cross = await apiErrorCode(KubernetesObjectApi.makeApiClient(crossed).read(ref(cm)));
    expect(cross).toBe(401);
  });

  it('fails fast with the component log when a component cannot start, leaving nothing behind', async () => {
    const before = new Set((await readdir(tmpdir())).filter((d) => d.startsWith('mk-cp-')));
    const err = await startControlPlane({ controllerManager: false, extraApiserverArgs: ['--no-such-flag=1'] }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/kube-apiserver \(pid \d+\) exited with code 1/);
    expect(err!.message).toContain('unknown flag: --no-such-flag');
    const after = (await readdir(tmpdir())).filter((d) => d.startsWith('mk-cp-') && !before.has(d));
    expect(after).toEqual([]);
  });
});
