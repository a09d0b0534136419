// Catalog addons without a registry: addons[].images in place of the catalog's references (in every
// image field the addon renders, and in the helper pod a ConfigMap keeps as YAML), and the images
// phase's word on each addon image at plan time: on the nodes, from the local engine (loaded before
// the addon is applied), pulled by the nodes from a registry, or refused naming how to get it.
import { describe, expect, it } from 'vitest';
import { renderAddon } from '../../src/addons/index.js';
import { overrideImages } from '../../src/addons/render.js';
import type { NodeImage, ObservedCluster } from '../../src/drivers/types.js';
import { PlanError } from '../../src/errors.js';
import type { ResolvedImages } from '../../src/images/source.js';
import type { K8sObject } from '../../src/manifests/types.js';
import { planCluster } from '../../src/reconcile/phases.js';
import type { AddonSpec, Cluster } from '../../src/spec/types.js';
import { addonImages } from '../../src/spec/addons.js';
import { aCluster, observedOf } from './builders.js';

const METRICS = 'registry.k8s.io/metrics-server/metrics-server:v0.7.2@sha256:ffcb2bf004d6aa0a17d90e0247cf94f2865c8901dcab4427034c341951c239f9';
const LOCAL_METRICS = 'mk.local/addons/metrics-server:v0.7.2';
const ID = (c: string) => `sha256:${c.repeat(64)}`;
const SOURCE = 'the Docker engine at unix:///var/run/docker.sock';

const withAddon = (c: Cluster, a: AddonSpec): Cluster => ({ ...c, spec: { ...c.spec, addons: [a] } });
const metricsServer = (images?: Record<string, string>): AddonSpec => ({ name: 'metrics-server', enabled: true, options: {}, ...(images ? { images } : {}) });
/** Every image any container of these objects runs. */
const imagesOf = (objects: readonly K8sObject[]): string[] => JSON.stringify(objects).match(/"image":"[^"]+"/g)?.map((m) => m.slice(9, -1)) ?? [];

/** A joined cluster of one control plane and a worker whose nodes hold these images. */
function joined(c: Cluster, held: Record<string, NodeImage[]> = {}): ObservedCluster {
  const o = observedOf(c);
  return { ...o, kubeconfig: 'ok', addons: { installed: [] }, nodes: o.nodes.map((n) => ({ ...n, kubeadm: 'done', images: { held: held[n.name] ?? [] } })) };
}

describe('addons[].images in what a catalog addon renders', () => {
  it('replaces the catalog reference of each overridden key, in containers and in a helper pod kept as YAML', async () => {
    const c = aCluster('dev').build();
    const storage: AddonSpec = { name: 'storage', enabled: true, options: {}, images: { provisioner: 'mk.local/addons/local-path-provisioner:v0.0.30', helper: 'mk.local/addons/busybox:1.35.0' } };
    const { objects } = await renderAddon(storage, c, { specDir: '/nonexistent' });
    expect(imagesOf(objects)).toEqual(['mk.local/addons/local-path-provisioner:v0.0.30']);
    const helperPod = objects.find((o) => o.kind === 'ConfigMap')!.data as Record<string, string>;
    expect(helperPod['helperPod.yaml']).toContain('image: mk.local/addons/busybox:1.35.0');
    expect(JSON.stringify(objects)).not.toContain('busybox:1.37.0');
    // Without overrides the catalog's references stay.
    const plain = await renderAddon({ ...storage, images: {} }, c, { specDir: '/nonexistent' });
    expect(JSON.stringify(plain.objects)).toContain('docker.io/library/busybox:1.37.0');
  });

  it('touches only image fields naming an overridden reference, and reports a key no field names', () => {
    const pod = (image: string, init?: string): K8sObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'c', image }], ...(init ? { initContainers: [{ name: 'i', image: init }] } : {}) },
    });
    const r = overrideImages([pod('a:1', 'a:1'), pod('b:1')], { x: 'a:1', y: 'b:1', z: 'c:1' }, { x: 'a:2', z: 'c:2' });
    expect(imagesOf(r.objects)).toEqual(['a:2', 'a:2', 'b:1']);
    expect(r.unused).toEqual(['z']);
    expect(overrideImages([pod('a:1')], { x: 'a:1' }, { nope: 'q:1' }).unused).toEqual(['nope']);
  });
});

describe('where each addon image comes from, at plan time', () => {
  const base = aCluster('dev').withWorkers(1).build();

  it('an override the local engine has is loaded on every node lacking it, before the addon is applied, and the plan says so', () => {
    const c = withAddon(base, metricsServer({ 'metrics-server': LOCAL_METRICS }));
    const resolved: ResolvedImages = { source: SOURCE, images: {}, addons: { [LOCAL_METRICS]: { id: ID('a'), size: 58e6 } } };
    const plan = planCluster(c, joined(c, { 'dev-control-plane-1': [{ ref: LOCAL_METRICS, id: ID('a') }] }), { resolved: { images: resolved } });
    const loads = plan.steps.filter((s) => s.step.kind === 'image.load');
    expect(loads.map((s) => [s.id, s.reason])).toEqual([['image.load:dev-worker-1', 'missing; for addon metrics-server']]);
    const apply = plan.steps.find((s) => s.id === 'addon.apply:metrics-server')!;
    expect(apply.dependsOn).toContain('image.load:dev-worker-1');
    expect(apply.reason).toContain(`image metrics-server ${LOCAL_METRICS} from ${SOURCE}`);
  });

  it('on a new cluster the addon images load alongside kubeadm, not before it; spec.images still go first', () => {
    const c = withAddon(base, metricsServer({ 'metrics-server': LOCAL_METRICS }));
    const resolved: ResolvedImages = { source: SOURCE, images: { 'app:dev': { id: ID('b'), size: 1e6 } }, addons: { [LOCAL_METRICS]: { id: ID('a'), size: 58e6 } } };
    const empty = { name: 'dev', nodes: [], orphanVolumes: [] };
    const step = (plan: ReturnType<typeof planCluster>, id: string) => plan.steps.find((s) => s.id === id)!;
    const plan = planCluster(c, empty, { resolved: { images: resolved } });
    expect(step(plan, 'image.load:dev-control-plane-1').dependsOn).toEqual(['node.create:dev-control-plane-1']);
    expect(step(plan, 'kubeadm.init:dev-control-plane-1').dependsOn).not.toContain('image.load:dev-control-plane-1');
    expect(step(plan, 'addon.apply:metrics-server').dependsOn).toEqual(expect.arrayContaining(['image.load:dev-control-plane-1', 'image.load:dev-worker-1']));
    const withSpecImage = { ...c, spec: { ...c.spec, images: ['app:dev'] } };
    const planned = planCluster(withSpecImage, empty, { resolved: { images: resolved } });
    expect(step(planned, 'kubeadm.init:dev-control-plane-1').dependsOn).toContain('image.load:dev-control-plane-1');
  });

  it('a catalog image pinned by digest that a registry serves is left to the nodes to pull', () => {
    const c = withAddon(base, metricsServer());
    const plan = planCluster(c, joined(c), { resolved: { images: { source: SOURCE, images: {}, addons: { [METRICS]: { pull: true } } } } });
    expect(plan.steps.filter((s) => s.step.kind === 'image.load')).toEqual([]);
    expect(plan.steps.find((s) => s.id === 'addon.apply:metrics-server')!.reason).toContain(`image metrics-server ${METRICS} pulled by the nodes from registry.k8s.io`);
  });

  it('an image no node, engine or registry has is refused at plan time: the addon, the key, and how to get a stand-in', () => {
    const c = withAddon(base, metricsServer());
    const why = 'Get "https://registry.k8s.io/v2/": dial tcp: lookup registry.k8s.io: no such host';
    const plan = () => planCluster(c, joined(c), { resolved: { images: { source: SOURCE, images: {}, addons: { [METRICS]: { missing: why } } } } });
    expect(plan).toThrow(PlanError);
    expect(plan).toThrow(
      `addon metrics-server: image metrics-server ${METRICS}: nodes dev-control-plane-1, dev-worker-1 lack it, ${SOURCE} does not have it, and no registry serves it (${why}).`,
    );
    expect(plan).toThrow(`build a stand-in with npm run addon-images metrics-server and add images: { metrics-server: ${LOCAL_METRICS} } to addon metrics-server in spec.addons`);
  });

  it('an image every node already holds needs nothing, even when neither the engine nor a registry has it', () => {
    const c = withAddon(base, metricsServer({ 'metrics-server': LOCAL_METRICS }));
    const held = { 'dev-control-plane-1': [{ ref: LOCAL_METRICS, id: ID('a') }], 'dev-worker-1': [{ ref: LOCAL_METRICS, id: ID('a') }] };
    const plan = planCluster(c, joined(c, held), { resolved: { images: { source: SOURCE, images: {}, addons: {} } } });
    expect(plan.steps.filter((s) => s.step.kind === 'image.load')).toEqual([]);
  });

  it('the images an addon runs: the catalog\'s, with overrides in place, and none for an addon that is off or a cluster without Kubernetes', () => {
    expect(addonImages(withAddon(base, metricsServer({ 'metrics-server': LOCAL_METRICS })))).toEqual([{ addon: 'metrics-server', key: 'metrics-server', ref: LOCAL_METRICS, upstream: METRICS }]);
    expect(addonImages(withAddon(base, { ...metricsServer(), enabled: false }))).toEqual([]);
    expect(addonImages(withAddon(aCluster('dev').withoutKubernetes().build(), metricsServer()))).toEqual([]);
  });
});
