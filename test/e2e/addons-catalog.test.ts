// Every addon of mk's catalog, and user manifests (a folder, and a URL with sha256), against a real
// kube-apiserver built from source: install (objects present, labelled, inventory recorded, valid
// for the real API server: CRDs established, custom resources accepted), re-apply without any
// resourceVersion change, removal of exactly the addon's objects. The controller-manager runs (the
// namespace controller finishes removals) but no scheduler or kubelet: no pod runs, so readiness is
// only checked where the API server itself reports it (APIService).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubernetesObjectApi, type KubernetesObject, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddonNotReadyError, CATALOG, addonSpecHash, applyAddon, desiredAddons, installAddon, readInstalled, planAddons, removeAddon, renderAddon, waitForAddon } from '../../src/addons/index.js';
import type { K8sObject, ObjectRef } from '../../src/addons/index.js';
import { inventoryName } from '../../src/manifests/inventory.js';
import { sha256Hex } from '../../src/manifests/load.js';
import type { KubeClient } from '../../src/kube/index.js';
import type { AddonSpec, Cluster } from '../../src/spec/types.js';
import { binariesGate } from '../k8s/binaries.js';
import { startControlPlane, type ControlPlane } from '../k8s/controlplane.js';
import { ISTIO_SNAPSHOT, istioSnapshotFiles } from '../k8s/istio-snapshot.js';
import { aCluster } from '../unit/builders.js';
import { eventually } from '../helpers/wait.js';
import { apiErrorCode, kubeClient } from './helpers.js';

const gate = binariesGate(['etcd', 'kube-apiserver']);
const NAME = 'cat';

function cluster(): Cluster {
  const c = aCluster(NAME).build();
  // metallb renders its pool from addressPool; enabled stays false so desiredAddons adds only real dependencies.
  c.spec.loadBalancer = { enabled: false, addressPool: 'auto' };
  return c;
}
// No kubelet runs here, so no kubeadm CoreDNS either: the image ingress-dns would read from it is given.
const ENV = { network: { subnet: '172.28.5.0/24', gateway: '172.28.5.1', used: ['172.28.5.2', '172.28.5.3'] }, kubeadmImages: { coredns: 'registry.k8s.io/coredns/coredns:v1.14.2' } };

describe.skipIf(gate.skip)('addon catalog and user manifests against a real apiserver', () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let api: KubernetesObjectApi;
  let dir: string;
  const timings: Record<string, Record<string, number>> = {};
  const header = (r: ObjectRef) => ({ apiVersion: r.apiVersion, kind: r.kind, metadata: r.namespace ? { name: r.name, namespace: r.namespace } : { name: r.name } });
  const read = <T extends KubernetesObject>(r: ObjectRef) => api.read<T>(header(r));

  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: true });
    api = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    client = kubeClient(cp.kubeconfigPath);
    dir = await mkdtemp(path.join(tmpdir(), 'mk-addons-e2e-'));
  });
  afterAll(async () => {
    console.log(`[addons-catalog] timings (ms): ${JSON.stringify(timings)}`);
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // A Gateway API object sent again unchanged is written anyway when a new second has begun: its CRD
  // defaults status conditions with a timestamp (kubernetes/kubernetes#121404, still so in v1.36).
  // mk's own re-apply sends nothing unchanged; for these, an unchanged generation is the check.
  const rewrittenWhenResent = (r: ObjectRef) => r.apiVersion.startsWith('gateway.networking.k8s.io/');

  /** Each object's resourceVersion (or generation, see above), by kind, namespace and name. */
  async function versions(refs: readonly ObjectRef[]): Promise<Record<string, string | undefined>> {
    const out: Record<string, string | undefined> = {};
    for (const ref of refs) {
      const m = (await read(ref)).metadata;
      out[`${ref.kind}/${ref.namespace ?? ''}/${ref.name}`] = rewrittenWhenResent(ref) ? `generation ${m?.generation}` : m?.resourceVersion;
    }
    return out;
  }

  async function settledVersions(refs: readonly ObjectRef[]): Promise<Record<string, string | undefined>> {
    // The controllers' first status write can come seconds late (discovery resyncs after many new
    // CRDs): wait until every workload's status has seen its spec before looking for quiet.
    const workloads = refs.filter((r) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(r.kind));
    for (let i = 0; ; i++) {
      const seen = await Promise.all(workloads.map(async (r) => {
        const o = await read<KubernetesObject & { status?: { observedGeneration?: number } }>(r);
        return (o.status?.observedGeneration ?? 0) >= (o.metadata?.generation ?? 1);
      }));
      if (seen.every(Boolean)) break;
      if (i === 60) throw new Error('workload status not written by the controllers within 30 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    let previous = await versions(refs);
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const current = await versions(refs);
      if (JSON.stringify(current) === JSON.stringify(previous)) return current;
      previous = current;
    }
    throw new Error('resourceVersions kept changing for 20 s without mk applying anything');
  }

  /** Install, check, re-apply (no change), remove. `objects`: apply these instead of rendering. */
  async function roundTrip(spec: AddonSpec, ctx: Parameters<typeof installAddon>[3], objects?: K8sObject[]): Promise<void> {
    const c = cluster();
    const t: Record<string, number> = {};
    const install = (extra: { skipUnchanged?: boolean } = {}) =>
      objects
        ? applyAddon(client, c, spec, objects, { ...ctx, ...extra, version: 'test', specHash: addonSpecHash(spec) })
        : installAddon(client, c, spec, { ...ctx, ...extra });
    const res = await install();
    t.apply = res.durationMs;
    expect(res.objects.length).toBeGreaterThan(0);
    for (const ref of res.objects) {
      const o = await read(ref);
      expect(o.metadata?.labels, `${ref.kind} ${ref.name}`).toMatchObject({ 'mk.dev/cluster': NAME, 'mk.dev/addon': spec.name, 'app.kubernetes.io/managed-by': 'mk' });
    }
    // The controller-manager runs here: it writes Deployment/ReplicaSet status right after the
    // apply. Take the resourceVersions once they stop moving, so only mk's re-apply is measured.
    const before = await settledVersions(res.objects);
    const inv = await read<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'kube-system', name: inventoryName(spec.name) });
    expect(JSON.parse(inv.data?.objects ?? '[]')).toHaveLength(res.objects.length);

    const again = await install({ skipUnchanged: false });
    t.reapply = again.durationMs;
    expect(await versions(again.objects)).toEqual(before);
    const noop = await install();
    t.noop = noop.durationMs;

    const removed = await removeGone(c, spec.name);
    t.remove = removed.durationMs;
    expect(removed.kept).toEqual([]);
    expect(removed.deleted.length).toBe(res.objects.length - res.adoptedNamespaces.length);
    timings[spec.name] = t;
  }

  /** Removes an addon and waits until its objects are gone, so the next test can install them again. */
  async function removeGone(c: Cluster, name: string): Promise<Awaited<ReturnType<typeof removeAddon>>> {
    const removed = await removeAddon(client, c, name);
    for (const ref of removed.deleted) {
      if (ref.kind === 'Namespace') continue; // Terminating without a namespace controller
      // A CRD goes once the API server's finalizer has removed its custom resources: not at once.
      await eventually(`${ref.kind} ${ref.name} gone`, async () => ((await apiErrorCode(read(ref)).catch(() => 0)) === 404 ? true : undefined), 10_000, 200);
    }
    return removed;
  }

  // Dependencies first (csi-hostpath-driver's VolumeSnapshotClass needs the volumesnapshots CRDs).
  // Release files from the Go module proxy (gateway-api's CRDs) are fetched here as mk fetches them;
  // istio's come from GitHub, which this machine and CI cannot reach: it has its own test below.
  const names = [...CATALOG.values()].filter((e) => !e.fetched || e.fetched.baseUrl.startsWith('https://proxy.golang.org/')).map((e) => e.name);
  for (const name of names) {
    it(`catalog addon ${name}: installs, re-applies without changes, removes exactly its objects`, async () => {
      const c = cluster();
      c.spec.addons = [{ name, enabled: true, options: {} }];
      const wanted = desiredAddons(c);
      const deps = wanted.filter((a) => a.name !== name);
      for (const d of deps) await installAddon(client, c, d, { specDir: dir, env: ENV });
      await roundTrip({ name, enabled: true, options: {} }, { specDir: dir, env: ENV });
      for (const d of deps.reverse()) await removeGone(c, d.name);
    });
  }

  it(`catalog addon istio, rendered from real istio files (${ISTIO_SNAPSHOT}): installs, re-applies without changes, removes exactly its objects`, async () => {
    const entry = CATALOG.get('istio')!;
    const files = await istioSnapshotFiles(entry);
    const objects = entry.render({}, cluster(), undefined, files);
    expect(objects.filter((o) => o.kind === 'CustomResourceDefinition').length).toBeGreaterThan(10);
    await roundTrip({ name: 'istio', enabled: true, options: {} }, { specDir: dir }, objects);
  });

  it('ingress on a cluster where an older mk installed ingress-nginx: Traefik\'s objects applied, ingress-nginx\'s pruned', async () => {
    const c = cluster();
    const spec: AddonSpec = { name: 'ingress', enabled: true, options: {} };
    // What the catalog rendered before Traefik, in part: the class "nginx" (its controller is immutable).
    const nginx: K8sObject[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ingress-nginx' } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'ingress-nginx', namespace: 'ingress-nginx' } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'nginx', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'k8s.io/ingress-nginx' } },
    ];
    await applyAddon(client, c, spec, nginx, { version: 'v1.11.3', specHash: addonSpecHash(spec) });
    await installAddon(client, c, { name: 'gateway-api', enabled: true, options: {} }, { specDir: dir });
    const res = await installAddon(client, c, spec, { specDir: dir });
    expect(res.objects.map((r) => `${r.kind} ${r.name}`)).toContain('IngressClass traefik');
    expect(await apiErrorCode(read({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', name: 'nginx' }))).toBe(404);
    expect(await apiErrorCode(read({ apiVersion: 'v1', kind: 'ServiceAccount', namespace: 'ingress-nginx', name: 'ingress-nginx' }))).toBe(404);
    for (const a of ['ingress', 'gateway-api']) await removeAddon(client, c, a);
  });

  it('metallb renders the auto pool from the network and its custom resources are accepted', async () => {
    const { objects } = await renderAddon({ name: 'metallb', enabled: true, options: {} }, cluster(), { specDir: dir, env: ENV });
    expect(objects.find((o) => o.kind === 'IPAddressPool')?.spec).toEqual({ addresses: ['172.28.5.192-172.28.5.254'], autoAssign: true });
  });

  it('metrics-server: readiness times out naming the APIService, with the API server\'s reason', async () => {
    const c = cluster();
    const res = await installAddon(client, c, { name: 'metrics-server', enabled: true, options: {} }, { specDir: dir });
    const err = await waitForAddon(client, 'metrics-server', res.objects.filter((r) => r.kind === 'APIService'), { timeoutMs: 3000, intervalMs: 250 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddonNotReadyError);
    expect((err as Error).message).toMatch(/APIService v1beta1\.metrics\.k8s\.io: not Available \(\w+/);
    await removeAddon(client, c, 'metrics-server');
  });

  it('user manifests from a folder next to the spec (multi-document YAML)', async () => {
    await mkdir(path.join(dir, 'app'), { recursive: true });
    await writeFile(path.join(dir, 'app', '10-ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: user-app\n');
    await writeFile(
      path.join(dir, 'app', '20-app.yaml'),
      '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: user-app\ndata:\n  a: "1"\n---\n# empty\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: user-app\nspec:\n  ports:\n    - port: 80\n',
    );
    await roundTrip({ name: 'my-app', enabled: true, options: {}, manifests: 'app' }, { specDir: dir });
  });

  it('planAddons: nothing to do when in sync; spec, content and drift changes; removals', async () => {
    await mkdir(path.join(dir, 'plan'), { recursive: true });
    const file = path.join(dir, 'plan', 'cm.yaml');
    // An exported manifest: status and server-owned metadata are ignored.
    await writeFile(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plan\n  namespace: default\n  resourceVersion: "1"\n  uid: 0000\ndata:\n  v: "1"\n');
    const c = cluster();
    c.spec.addons = [{ name: 'registry', enabled: true, options: {} }, { name: 'planned', enabled: true, options: {}, manifests: 'plan' }];
    const ctx = { specDir: dir, env: ENV };
    const first = await planAddons(client, c, ctx);
    expect(first.reasons).toEqual({ registry: 'not installed', planned: 'not installed' });
    for (const a of first.apply) await installAddon(client, c, a, ctx);
    expect(await planAddons(client, c, ctx)).toMatchObject({ apply: [], remove: [] });

    c.spec.addons[0]!.options = { servicePort: 5000 };
    await writeFile(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plan\n  namespace: default\ndata:\n  v: "2"\n');
    expect((await planAddons(client, c, ctx)).reasons).toEqual({ registry: 'spec changed', planned: 'content changed' });
    for (const a of (await planAddons(client, c, ctx)).apply) await installAddon(client, c, a, ctx);
    expect((await read<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name: 'plan' })).data).toEqual({ v: '2' });

    await api.delete({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'registry', namespace: 'kube-system' } });
    expect((await planAddons(client, c, ctx)).reasons).toEqual({ registry: 'drift' });

    c.spec.addons = [{ name: 'registry', enabled: false, options: {} }];
    const last = await planAddons(client, c, ctx);
    expect(last.apply).toEqual([]);
    expect([...last.remove].sort()).toEqual(['planned', 'registry']);
    for (const name of last.remove) await removeAddon(client, c, name);
    expect(await readInstalled(client, NAME)).toEqual([]);
  });

  it('user manifests from a URL, verified against sha256 (local http server: the spec itself only admits https)', async () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote\n  namespace: default\ndata:\n  from: url\n';
    const server: Server = createServer((_req, res) => res.end(text));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/app.yaml`;
      const fetchOpts = { allowHttp: true, cacheDir: path.join(dir, 'cache') };
      const bad = { name: 'remote', enabled: true, options: {}, manifests: url, sha256: 'a'.repeat(64) };
      await expect(installAddon(client, cluster(), bad, { specDir: dir, fetch: fetchOpts })).rejects.toThrow(/sha256 mismatch/);
      expect(await readInstalled(client, NAME)).toEqual([]);
      await roundTrip({ ...bad, sha256: sha256Hex(text) }, { specDir: dir, fetch: fetchOpts });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
