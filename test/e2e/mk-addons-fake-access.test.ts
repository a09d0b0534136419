// Addons kept in sync through the real planner, runner and steps against a real kube-apiserver (tier 1),
// with a FAKE "admin access": an in-memory driver whose one control-plane node answers
// `cat /etc/kubernetes/admin.conf` with the test control plane's admin kubeconfig and publishes its
// port, and whose kubeadm sentinel says "done". No node, kubelet or controller runs, so workloads
// never become ready by themselves: the test sets a Deployment's status where readiness matters.
// What it checks: apply installs (inventories, labels, metallb's auto pool), a no-op re-apply moves no
// resourceVersion, drift (objects deleted by hand) is repaired by apply and by the watch loop's
// interval run, disabling removes, an API server that does not answer (refused, or silent) leaves
// node planning intact.
import { KubernetesObjectApi, type KubernetesObject, type V1ConfigMap } from '@kubernetes/client-node';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectRef } from '../../src/addons/index.js';
import { inventoryName } from '../../src/manifests/inventory.js';
import { observeClusterAddons } from '../../src/addons/observe.js';
import { MemoryDriver } from '../../src/drivers/memory.js';
import type { ImageSource } from '../../src/drivers/types.js';
import { observeBootstrap } from '../../src/kubeadm/observe.js';
import { ADMIN_CONF } from '../../src/kubeadm/context.js';
import { isNodeFacts, nodeFacts } from '../helpers/node-facts.js';
import { RecordingReporter, type MkEvent } from '../../src/log.js';
import { nodeConfigHash, nodeImage } from '../../src/infrastructure/node-config.js';
import { observeCluster, reconcile } from '../../src/reconcile/runner.js';
import { ReconcileLoop } from '../../src/reconcile/watch.js';
import { expandNodes } from '../../src/spec/nodes.js';
import type { AddonSpec, Cluster } from '../../src/spec/types.js';
import { binariesGate } from '../k8s/binaries.js';
import { startControlPlane, type ControlPlane } from '../k8s/controlplane.js';
import { aCluster } from '../unit/builders.js';
import { eventually } from '../helpers/wait.js';
import { apiErrorCode, kubeClient } from './helpers.js';

const gate = binariesGate(['etcd', 'kube-apiserver']);
const NAME = 'fk';

function spec(addons: AddonSpec[], loadBalancer = true): Cluster {
  const c = aCluster(NAME).build();
  c.spec.addons = addons;
  c.spec.loadBalancer = { enabled: loadBalancer, addressPool: 'auto' };
  return c;
}
const on = (name: string): AddonSpec => ({ name, enabled: true, options: {} });
const STORAGE_DEPLOYMENT: ObjectRef = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'local-path-storage', name: 'local-path-provisioner' };
const STORAGE_CONFIG: ObjectRef = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'local-path-storage', name: 'local-path-config' };
const METRICS_DEPLOYMENT: ObjectRef = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'kube-system', name: 'metrics-server' };

/** FAKE: nothing is pulled here, but as far as the plan can tell a registry serves every addon image (the nodes would pull them). */
const REGISTRY: ImageSource = {
  description: 'a fake engine whose registry serves every image',
  inspect: () => Promise.resolve(undefined),
  pullable: () => Promise.resolve(undefined),
  pull: () => Promise.reject(new Error('fake: nothing is pulled')),
  save: () => Promise.reject(new Error('fake: nothing is saved')),
};

describe.skipIf(gate.skip)('addons through plan/apply/watch with a fake admin access (tier 1 API server)', () => {
  let cp: ControlPlane;
  let api: KubernetesObjectApi;
  let driver: MemoryDriver;
  let dir: string;
  let adminConf: string;
  const sentinel = JSON.stringify({ cluster: NAME, role: 'control-plane', at: new Date().toISOString(), kubernetesVersion: 'v1.31.0' });
  const saved = { KUBECONFIG: process.env.KUBECONFIG, MK_ADDON_WAIT: process.env.MK_ADDON_WAIT };
  const timings: Record<string, number | string> = {};
  const header = (r: ObjectRef) => ({ apiVersion: r.apiVersion, kind: r.kind, metadata: r.namespace ? { name: r.name, namespace: r.namespace } : { name: r.name } });
  const read = <T extends KubernetesObject>(r: ObjectRef) => api.read<T>(header(r));
  const inventory = (addon: string): ObjectRef => ({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'kube-system', name: inventoryName(addon) });

  async function apply(c: Cluster, mode: 'plan' | 'apply' = 'apply') {
    const reporter = new RecordingReporter();
    const t0 = Date.now();
    const out = await reconcile(c, { driver, reporter, mode, file: join(dir, 'cluster.yaml') });
    const finished = reporter.events.filter((e): e is Extract<MkEvent, { type: 'step.finished' }> => e.type === 'step.finished');
    const warnings = reporter.events.filter((e): e is Extract<MkEvent, { type: 'warning' }> => e.type === 'warning').map((e) => e.message);
    return { ...out, ms: Date.now() - t0, finished, warnings, detail: (id: string) => finished.find((e) => e.step.id === id)?.detail ?? '' };
  }
  const planIds = (p: { plan: { steps: { id: string }[] } }) => p.plan.steps.map((s) => s.id);

  async function inventoryObjects(addon: string): Promise<ObjectRef[]> {
    return JSON.parse((await read<V1ConfigMap>(inventory(addon))).data?.objects ?? '[]') as ObjectRef[];
  }
  async function versions(refs: ObjectRef[]): Promise<Record<string, string | undefined>> {
    return Object.fromEntries(await Promise.all(refs.map(async (r) => [`${r.kind} ${r.namespace ?? ''}/${r.name}`, (await read(r)).metadata?.resourceVersion] as const)));
  }
  /** A Deployment reported ready, as its controller would (no controller runs here). */
  async function markReady(ref: ObjectRef): Promise<void> {
    const d = await read<KubernetesObject & { metadata: { generation?: number } }>(ref);
    const body = { status: { observedGeneration: d.metadata.generation, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 } };
    await kubeClient(cp.kubeconfigPath).json('PATCH', `/apis/apps/v1/namespaces/${ref.namespace}/deployments/${ref.name}/status`, { body, contentType: 'application/merge-patch+json' });
  }

  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: false });
    api = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    dir = await mkdtemp(join(tmpdir(), 'mk-addons-fake-'));
    process.env.KUBECONFIG = join(dir, 'kubeconfig');
    adminConf = await readFile(cp.kubeconfigPath, 'utf8');
    driver = new MemoryDriver({
      imageSource: REGISTRY,
      onExec: (_node, argv) => {
        if (argv[0] === 'cat' && argv[1] === ADMIN_CONF) return { stdout: adminConf, stderr: '', exitCode: 0 };
        if (isNodeFacts(argv)) return nodeFacts(sentinel);
        return { stdout: '', stderr: 'not faked', exitCode: 1 };
      },
    });
    // The "cluster": its network and its control plane, publishing the test API server's port.
    const c = spec([]);
    await driver.ensureNetwork({ cluster: NAME, subnet: '172.31.250.0/24' });
    const node = expandNodes(c)[0]!;
    await driver.createNode({ node, image: nodeImage(c), configHash: nodeConfigHash(c, node), apiServerPort: cp.ports.apiserver });
  });

  afterAll(async () => {
    console.log(`[mk-addons-fake] timings (ms): ${JSON.stringify(timings)}`);
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('apply installs metrics-server, storage and (loadBalancer) metallb with its auto pool; bounded wait reports not ready', async () => {
    process.env.MK_ADDON_WAIT = '1';
    const r = await apply(spec([on('metrics-server'), on('storage')]));
    expect(planIds(r)).toEqual([`kubeconfig.export:${NAME}`, 'addon.apply:metallb', 'addon.apply:metrics-server', 'addon.apply:storage']);
    expect(r.plan.steps.find((s) => s.id === 'addon.apply:metallb')?.description).toBe('install addon metallb (for spec.loadBalancer)');
    expect(r.result?.ok).toBe(true);
    expect(r.finished.map((e) => e.outcome)).toEqual(['done', 'done', 'done', 'done']);
    expect(r.detail('addon.apply:metallb')).toMatch(/^\d+ objects \(\d+ sent\), 0 pruned in [\d.]+ s; pool 172\.31\.250\.192-172\.31\.250\.254; not ready after 1\.0 s: /);
    expect(r.detail('addon.apply:metrics-server')).toMatch(/not ready after 1\.0 s: (Deployment kube-system\/metrics-server|APIService v1beta1\.metrics\.k8s\.io)/);
    expect(r.warnings.some((w) => /^addon storage not ready after 1s: Deployment local-path-storage\/local-path-provisioner: /.test(w))).toBe(true);
    timings.firstApply = r.ms;
    for (const a of ['metallb', 'metrics-server', 'storage']) {
      const refs = await inventoryObjects(a);
      expect(refs.length, a).toBeGreaterThan(3);
      for (const ref of refs) expect((await read(ref)).metadata?.labels, `${a}: ${ref.kind} ${ref.name}`).toMatchObject({ 'mk.dev/cluster': NAME, 'mk.dev/addon': a });
    }
    const pool = await read<KubernetesObject & { spec: { addresses: string[] } }>({ apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', namespace: 'metallb-system', name: 'mk-pool' });
    expect(pool.spec.addresses).toEqual(['172.31.250.192-172.31.250.254']);
  });

  it('a re-apply plans nothing and moves no resourceVersion; observing the addons costs little', async () => {
    const c = spec([on('metrics-server'), on('storage')]);
    const refs = [...(await Promise.all(['metallb', 'metrics-server', 'storage'].map(inventoryObjects))).flat(), ...['metallb', 'metrics-server', 'storage'].map(inventory)]
      // The API server's own availability controller writes APIService status; mk does not.
      .filter((ref) => ref.kind !== 'APIService');
    const before = await versions(refs);
    const r = await apply(c);
    expect(planIds(r)).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(await versions(refs)).toEqual(before);
    // Observe cost: the whole observe against the node-only part, medians of 7 alternating runs.
    const withAddons: number[] = [];
    const nodesOnly: number[] = [];
    for (let i = 0; i < 7; i++) {
      let t = performance.now();
      const o = await observeCluster(driver, c);
      withAddons.push(performance.now() - t);
      expect(o.addons?.installed.map((a) => a.name)).toEqual(['metallb', 'metrics-server', 'storage']);
      t = performance.now();
      await observeBootstrap(driver, c, await driver.observe(NAME));
      nodesOnly.push(performance.now() - t);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    timings.observeWithAddons = Math.round(median(withAddons));
    timings.observeNodesOnly = Math.round(median(nodesOnly));
    timings.noopApply = r.ms;
    timings.objectsChecked = refs.length;
  });

  it('drift: an object deleted by hand is planned as a repair and restored; a ready Deployment is reported ready', async () => {
    const c = spec([on('metrics-server'), on('storage')]);
    await markReady(STORAGE_DEPLOYMENT);
    await api.delete(header(STORAGE_CONFIG));
    const plan = await apply(c, 'plan');
    expect(planIds(plan)).toEqual(['addon.apply:storage']);
    expect(plan.plan.steps[0]).toMatchObject({ action: 'change', description: 'repair addon storage', reason: 'drift: ConfigMap local-path-storage/local-path-config missing' });
    const r = await apply(c);
    expect(r.detail('addon.apply:storage')).toMatch(/^\d+ objects \(1 sent\), 0 pruned in [\d.]+ s; ready after [\d.]+ s$/);
    timings.repair = r.finished[0]!.durationMs;
    expect((await read(STORAGE_CONFIG)).metadata?.labels?.['mk.dev/addon']).toBe('storage');
    expect(planIds(await apply(c, 'plan'))).toEqual([]);
  });

  it('watch: the interval run repairs an object deleted by hand', async () => {
    const c = spec([on('metrics-server'), on('storage')]);
    process.env.MK_ADDON_WAIT = '0';
    const runs: string[] = [];
    const loop = new ReconcileLoop({
      debounceMs: 10,
      intervalMs: 300,
      run: async (trigger) => {
        const r = await apply(c);
        runs.push(`${trigger.kind}:${planIds(r).join(',')}`);
      },
    });
    loop.start();
    try {
      await eventually('the first run', async () => (runs.length > 0 ? true : undefined), 30_000, 50);
      await api.delete(header(METRICS_DEPLOYMENT));
      const t0 = Date.now();
      await eventually('metrics-server Deployment restored', async () => ((await read(METRICS_DEPLOYMENT).catch(() => undefined)) ? true : undefined), 30_000, 100);
      timings.watchRepair = Date.now() - t0;
    } finally {
      await loop.stop();
    }
    expect(runs[0]).toBe('start:');
    expect(runs).toContain('interval:addon.apply:metrics-server');
  });

  it('disabling removes exactly the addon; loadBalancer off removes metallb', async () => {
    const storage = await inventoryObjects('storage');
    const r = await apply(spec([on('metrics-server'), { name: 'storage', enabled: false, options: {} }], false));
    expect(planIds(r)).toEqual(['addon.remove:metallb', 'addon.remove:storage']);
    expect(r.plan.steps.map((s) => s.reason)).toEqual(['spec.loadBalancer.enabled is false and metallb is not in spec.addons', 'disabled in the spec']);
    expect(r.detail('addon.remove:storage')).toMatch(new RegExp(`^${storage.length} objects deleted in [\\d.]+ s$`));
    timings.removeStorage = r.finished.find((e) => e.step.id === 'addon.remove:storage')!.durationMs;
    timings.removeMetallb = r.finished.find((e) => e.step.id === 'addon.remove:metallb')!.durationMs;
    expect(await apiErrorCode(read(inventory('storage')))).toBe(404);
    expect(await apiErrorCode(read(inventory('metallb')))).toBe(404);
    expect(await apiErrorCode(read(STORAGE_DEPLOYMENT))).toBe(404);
    expect((await read(METRICS_DEPLOYMENT)).metadata?.name).toBe('metrics-server');
    expect(planIds(await apply(spec([on('metrics-server')], false), 'plan'))).toEqual([]);
  });

  it('an API server that accepts connections but never answers: observing gives up after its timeout', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const hung = new MemoryDriver({ imageSource: REGISTRY, onExec: (_n, argv) => ({ stdout: argv[1] === ADMIN_CONF ? adminConf : sentinel, stderr: '', exitCode: 0 }) });
      const c = spec([on('metrics-server')], false);
      await hung.ensureNetwork({ cluster: NAME, subnet: '172.31.251.0/24' });
      const node = expandNodes(c)[0]!;
      await hung.createNode({ node, image: nodeImage(c), configHash: nodeConfigHash(c, node), apiServerPort: (silent.address() as AddressInfo).port });
      const observed = await observeBootstrap(hung, c, await hung.observe(NAME));
      const t0 = Date.now();
      const addons = await observeClusterAddons(hung, c, observed, { timeoutMs: 2000 });
      timings.silentServer = Date.now() - t0;
      expect(addons.error).toBe('the API server of cluster fk could not be asked about addons: no answer within 2 s');
      expect(Date.now() - t0).toBeLessThan(6000);
    } finally {
      silent.close();
    }
  });

  it('an API server that does not answer: nodes are still planned, addons left alone with a warning', async () => {
    await cp.stop();
    const grown = spec([on('metrics-server')], false);
    grown.spec.nodes.push({ name: 'worker', role: 'worker', count: 1, labels: {}, taints: [] });
    const t0 = Date.now();
    const r = await apply(grown, 'plan');
    timings.planApiDown = Date.now() - t0;
    expect(planIds(r)).toEqual([`node.create:${NAME}-worker-1`, `kubeadm.join:${NAME}-worker-1`, `cni.apply:${NAME}`, `cluster.wait:${NAME}`]);
    expect(r.plan.warnings).toHaveLength(1);
    expect(r.plan.warnings[0]).toMatch(/^the API server of cluster fk could not be asked about addons: .*ECONNREFUSED.*; addons are left as they are this run$/);
    expect(r.plan.unchecked).toEqual(['addons']);
  });
});
