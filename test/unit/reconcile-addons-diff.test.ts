// The addon part of the pure planner: planWith(spec, observed) -> addon.apply / addon.remove steps.
import { describe, expect, it } from 'vitest';
import { addonContentHash, addonSpecHash, catalogAddon, desiredAddons, renderAddon } from '../../src/addons/index.js';
import { CNI_ADDON_NAME } from '../../src/kubeadm/plan.js';
import { addonEnv } from '../../src/addons/observe.js';
import { addonWaitMs } from '../../src/addons/steps.js';
import type { ObservedAddon, ObservedAddons, ObservedCluster } from '../../src/drivers/types.js';
import { PlanError } from '../../src/errors.js';
import type { RenderedAddons } from '../../src/addons/render.js';
import { planCluster, type Resolved } from '../../src/reconcile/phases.js';
import { inSync } from '../../src/plan.js';
import type { ClusterPlan as Plan } from '../../src/reconcile/phases.js';
import { schedule } from '../../src/reconcile/schedule.js';
import type { AddonSpec, Cluster } from '../../src/spec/types.js';
import { aCluster, observedOf } from './builders.js';

const ids = (plan: Plan): string[] => plan.steps.map((s) => s.id);
const step = (plan: Plan, id: string) => {
  const s = plan.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id} in ${ids(plan).join(', ')}`);
  return s;
};
const empty = (name = 'dev'): ObservedCluster => ({ name, nodes: [], orphanVolumes: [] });

function withAddons(c: Cluster, addons: AddonSpec[], lb?: Cluster['spec']['loadBalancer']): Cluster {
  return { ...c, spec: { ...c.spec, addons, ...(lb ? { loadBalancer: lb } : {}) } };
}
const on = (name: string, options: Record<string, unknown> = {}): AddonSpec => ({ name, enabled: true, options });
const off = (name: string): AddonSpec => ({ name, enabled: false, options: {} });

/** The content hash an addon renders to for this cluster (as observe computes it). */
async function renderedHash(c: Cluster, a: AddonSpec, observed: ObservedCluster): Promise<string> {
  const r = await renderAddon(a, c, { specDir: '/nonexistent', env: addonEnv(observed) });
  return addonContentHash(c.metadata.name, a.name, r.objects);
}

/** An inventory exactly as an apply of `a` for cluster `c` leaves it. */
async function installedAs(c: Cluster, a: AddonSpec, observed: ObservedCluster, over: Partial<ObservedAddon> = {}): Promise<ObservedAddon> {
  return {
    name: a.name,
    version: catalogAddon(a.name)?.version ?? 'user',
    specHash: addonSpecHash(a),
    contentHash: await renderedHash(c, a, observed),
    objects: 7,
    missing: [],
    foreign: [],
    ...over,
  };
}

/** What the runner observes of `c` when the cluster has exactly `installed`, with what the spec renders to (resolved). */
type Observed = ObservedCluster & { resolved?: Resolved };
async function observedWith(c: Cluster, installed: ObservedAddon[], base: ObservedCluster = observedOf(c)): Promise<Observed & { resolved: { addons: RenderedAddons } }> {
  const addons: ObservedAddons = { installed };
  const rendered: RenderedAddons = { hashes: {}, errors: {} };
  for (const a of desiredAddons(c).filter((x) => x.enabled)) rendered.hashes[a.name] = await renderedHash(c, a, base);
  return { ...base, addons, resolved: { addons: rendered } };
}

/** The plan for `c` against what was observed (and resolved). */
const planWith = (c: Cluster, o: Observed) => planCluster(c, o, o.resolved ? { resolved: o.resolved } : {});

/** Every enabled addon of c installed as rendered: the cluster is in sync. */
async function inSyncWith(c: Cluster): ReturnType<typeof observedWith> {
  const base = observedOf(c);
  return observedWith(c, await Promise.all(desiredAddons(c).filter((a) => a.enabled).map((a) => installedAs(c, a, base))), base);
}

const dev = aCluster('dev').withWorkers(1).build();

describe('diff: addons on a new cluster', () => {
  it('installs every enabled addon after the bootstrap, dependencies first, implied ones named', () => {
    const c = withAddons(dev, [on('csi-hostpath-driver'), on('metrics-server'), off('dashboard')], { enabled: true, addressPool: 'auto' });
    const plan = planWith(c, empty());
    const addons = ids(plan).filter((i) => i.startsWith('addon.'));
    expect(addons.sort()).toEqual(['addon.apply:csi-hostpath-driver', 'addon.apply:metallb', 'addon.apply:metrics-server', 'addon.apply:volumesnapshots']);
    expect(ids(plan).indexOf('addon.apply:volumesnapshots')).toBeLessThan(ids(plan).indexOf('addon.apply:csi-hostpath-driver'));
    expect(step(plan, 'addon.apply:csi-hostpath-driver').dependsOn).toEqual(['cluster.wait:dev', 'addon.apply:volumesnapshots']);
    expect(step(plan, 'addon.apply:metrics-server').dependsOn).toEqual(['cluster.wait:dev']);
    expect(step(plan, 'addon.apply:metallb')).toMatchObject({ action: 'create', description: 'install addon metallb (for spec.loadBalancer)', reason: 'new cluster' });
    expect(step(plan, 'addon.apply:volumesnapshots').description).toBe('install addon volumesnapshots (needed by csi-hostpath-driver)');
    expect(plan.warnings).toEqual([]);
    // After the wait, independent addons run side by side (their readiness waits overlap); a
    // dependent one comes in the next stage.
    const stages = schedule(plan).map((st) => ({ ids: st.steps.map((x) => x.id).sort(), concurrency: st.concurrency }));
    expect(stages.slice(-2)).toEqual([
      { ids: ['addon.apply:metallb', 'addon.apply:metrics-server', 'addon.apply:volumesnapshots'], concurrency: 3 },
      { ids: ['addon.apply:csi-hostpath-driver'], concurrency: 1 },
    ]);
  });

  it('bootstrap: none installs no addon and says so', () => {
    const c = withAddons(aCluster('dev').withoutKubernetes().build(), [on('metrics-server')]);
    const plan = planWith(c, empty());
    expect(ids(plan).filter((i) => i.startsWith('addon.'))).toEqual([]);
    expect(plan.warnings).toEqual(['bootstrap: none runs no Kubernetes, so addons (metrics-server) are not installed']);
  });
});

describe('diff: addons of an existing cluster', () => {
  const c = withAddons(dev, [on('metrics-server'), on('storage')]);

  it('in sync: nothing planned, no warning', async () => {
    const plan = planWith(c, await inSyncWith(c));
    expect(inSync(plan)).toBe(true);
    expect(plan.warnings).toEqual([]);
  });

  it('a caller that did not observe addons (undefined) gets no addon steps', () => {
    expect(inSync(planWith(c, observedOf(c)))).toBe(true);
  });

  it('applies what is missing, changed or drifted; the reason says which', async () => {
    const base = observedOf(c);
    const changed = withAddons(dev, [on('metrics-server', { kubeletInsecureTLS: false }), on('storage'), on('registry'), on('dashboard')]);
    const installed = [
      await installedAs(c, on('metrics-server'), base),
      await installedAs(c, on('storage'), base, { missing: ['Deployment local-path-storage/local-path-provisioner', 'ServiceAccount a/b', 'ConfigMap a/c', 'Role a/d'] }),
      await installedAs(c, on('registry'), base, { contentHash: 'stale' }),
      await installedAs(c, on('dashboard'), base, { version: 'v2.6.0', specHash: 'old' }),
    ];
    const plan = planWith(changed, await observedWith(changed, installed, base));
    expect(ids(plan)).toEqual(['addon.apply:dashboard', 'addon.apply:metrics-server', 'addon.apply:registry', 'addon.apply:storage']);
    expect(step(plan, 'addon.apply:metrics-server')).toMatchObject({ action: 'change', description: 'update addon metrics-server', reason: 'spec changed (options, manifests or force)', dependsOn: [] });
    expect(step(plan, 'addon.apply:dashboard').reason).toBe(`version v2.6.0 → ${catalogAddon('dashboard')!.version}`);
    expect(step(plan, 'addon.apply:registry').reason).toBe('what it renders to changed since the last apply');
    expect(step(plan, 'addon.apply:storage')).toMatchObject({
      action: 'change',
      description: 'repair addon storage',
      reason: 'drift: Deployment local-path-storage/local-path-provisioner, ServiceAccount a/b, ConfigMap a/c and 1 more missing',
    });
    // The step carries the addon spec as the spec says it.
    expect(step(plan, 'addon.apply:metrics-server').step).toEqual({ kind: 'addon.apply', addon: on('metrics-server', { kubeletInsecureTLS: false }) });
  });

  it('an enabled addon that is not installed yet is installed', async () => {
    const base = observedOf(c);
    const plan = planWith(c, await observedWith(c, [await installedAs(c, on('metrics-server'), base)], base));
    expect(ids(plan)).toEqual(['addon.apply:storage']);
    expect(step(plan, 'addon.apply:storage')).toMatchObject({ action: 'create', description: 'install addon storage', reason: 'not installed' });
  });

  it('removes installed addons the spec disables or no longer lists, dependents first, before any apply', async () => {
    const before = withAddons(dev, [on('csi-hostpath-driver'), on('metrics-server'), on('storage')], { enabled: true, addressPool: ['172.30.0.200-172.30.0.210'] });
    const base = observedOf(before);
    const installed = await Promise.all(desiredAddons(before).map((a) => installedAs(before, a, base)));
    const after = withAddons(dev, [off('metrics-server'), on('storage'), on('registry')]);
    const plan = planWith(after, await observedWith(after, installed, base));
    expect(ids(plan)).toEqual(['addon.remove:csi-hostpath-driver', 'addon.remove:metallb', 'addon.remove:metrics-server', 'addon.remove:volumesnapshots', 'addon.apply:registry']);
    expect(step(plan, 'addon.remove:metrics-server')).toMatchObject({ action: 'remove', description: 'remove addon metrics-server (7 objects)', reason: 'disabled in the spec' });
    expect(step(plan, 'addon.remove:metallb').reason).toBe('spec.loadBalancer.enabled is false and metallb is not in spec.addons');
    expect(step(plan, 'addon.remove:csi-hostpath-driver').reason).toBe('not in the spec (nor needed by an addon it lists)');
    expect(step(plan, 'addon.remove:volumesnapshots').dependsOn).toEqual(['addon.remove:csi-hostpath-driver']);
    expect([...step(plan, 'addon.apply:registry').dependsOn].sort()).toEqual(['addon.remove:csi-hostpath-driver', 'addon.remove:metallb', 'addon.remove:metrics-server', 'addon.remove:volumesnapshots']);
  });

  it('a user addon installed under a catalog name has no catalog dependencies on removal', async () => {
    const base = observedOf(dev);
    const user = { name: 'csi-hostpath-driver', version: 'user', specHash: 'x', contentHash: 'y', objects: 2, missing: [], foreign: [] };
    const vs = await installedAs(dev, on('volumesnapshots'), base);
    const plan = planWith(dev, await observedWith(dev, [user, vs], base));
    expect(step(plan, 'addon.remove:volumesnapshots').dependsOn).toEqual([]);
  });

  it('addon steps come after the node steps of the same plan', async () => {
    const grown = withAddons(aCluster('dev').withWorkers(2).build(), [on('metrics-server'), on('storage')]);
    const base = observedOf(c);
    const plan = planWith(grown, await observedWith(grown, [await installedAs(grown, on('metrics-server'), base)], base));
    expect(ids(plan)).toContain('kubeadm.join:dev-worker-2');
    expect(ids(plan).at(-1)).toBe('addon.apply:storage');
    expect(step(plan, 'addon.apply:storage').dependsOn).toEqual(['cluster.wait:dev']);
  });

  it('an API server that does not answer: nodes are still planned, addons left alone with a warning', async () => {
    const grown = withAddons(aCluster('dev').withWorkers(2).build(), [on('metrics-server')]);
    const error = 'the API server of cluster dev could not be asked about addons: connect ECONNREFUSED 127.0.0.1:6443';
    const plan = planWith(grown, { ...observedOf(c), addons: { installed: [], error } });
    expect(ids(plan)).toContain('node.create:dev-worker-2');
    expect(ids(plan).filter((i) => i.startsWith('addon.'))).toEqual([]);
    expect(plan.warnings).toEqual([`${error}; addons are left as they are this run`]);
    expect(plan.unchecked).toEqual(['addons']);
    // With nothing else to do, the plan is still not "in sync": the addons were not seen.
    const same = planWith(c, { ...observedOf(c), addons: { installed: [], error } });
    expect(same.steps).toEqual([]);
    expect(inSync(same)).toBe(false);
  });

  it('an addon that cannot be rendered is planned with the reason, so its step fails with it', async () => {
    const base = observedOf(c);
    const o = await inSyncWith(c);
    o.resolved.addons.errors.storage = 'addon storage: manifests ../x leave the spec folder';
    delete o.resolved.addons.hashes.storage;
    const plan = planWith(c, o);
    expect(ids(plan)).toEqual(['addon.apply:storage']);
    expect(step(plan, 'addon.apply:storage').reason).toBe('cannot be rendered: addon storage: manifests ../x leave the spec folder');
    expect(base.addons).toBeUndefined();
  });

  it('objects someone else replaced are reported, not taken over', async () => {
    const o = await inSyncWith(c);
    o.addons!.installed[0]!.foreign = ['Service kube-system/metrics-server'];
    const plan = planWith(c, o);
    expect(inSync(plan)).toBe(true);
    expect(plan.warnings).toEqual([
      "addon metrics-server: Service kube-system/metrics-server now exists without mk's labels (replaced by someone else); mk leaves it alone unless the addon says force: true",
    ]);
  });

  it('is deterministic and plain data', async () => {
    const o = await observedWith(c, []);
    expect(planWith(c, o)).toEqual(planWith(c, o));
    expect(JSON.parse(JSON.stringify(planWith(c, o)))).toEqual(planWith(c, o));
  });
});

describe('diff: LoadBalancer', () => {
  it('metallb renders the auto pool from the Docker network, outside the node addresses', async () => {
    const c = withAddons(dev, [], { enabled: true, addressPool: 'auto' });
    const base: ObservedCluster = {
      ...observedOf(c),
      network: { id: 'n', name: 'mk-dev', subnet: '172.30.0.0/24', gateway: '172.30.0.1' },
    };
    base.nodes[0]!.address = '172.30.0.2';
    base.nodes[1]!.address = '172.30.0.250';
    const env = addonEnv(base);
    expect(env).toEqual({ network: { subnet: '172.30.0.0/24', gateway: '172.30.0.1', used: ['172.30.0.2', '172.30.0.250'] } });
    const objects = (await renderAddon(on('metallb'), c, { specDir: '/x', env })).objects;
    const pool = objects.find((o) => o.kind === 'IPAddressPool')!;
    expect((pool.spec as { addresses: string[] }).addresses).toEqual(['172.30.0.192-172.30.0.249', '172.30.0.251-172.30.0.254']);
    // Installed as rendered: in sync; a new node address inside the pool changes the content.
    const installed = await observedWith(c, [await installedAs(c, on('metallb'), base)], base);
    expect(inSync(planWith(c, installed))).toBe(true);
    const moved = { ...base, nodes: base.nodes.map((n, i) => (i === 1 ? { ...n, address: '172.30.0.200' } : n)) };
    const again = await observedWith(c, installed.addons!.installed, moved);
    expect(step(planWith(c, again), 'addon.apply:metallb').reason).toBe('what it renders to changed since the last apply');
  });

  it('explicit ranges are used as given', async () => {
    const c = withAddons(dev, [], { enabled: true, addressPool: ['10.1.2.10-10.1.2.20', '10.1.3.0/28'] });
    const objects = (await renderAddon(on('metallb'), c, { specDir: '/x', env: {} })).objects;
    expect((objects.find((o) => o.kind === 'IPAddressPool')!.spec as { addresses: string[] }).addresses).toEqual(['10.1.2.10-10.1.2.20', '10.1.3.0/28']);
  });

  it('ssh clusters with addressPool auto get a planning error asking for ranges', () => {
    const ssh = aCluster('lan').overSsh().build();
    const auto = withAddons(ssh, [], { enabled: true, addressPool: 'auto' });
    expect(() => planWith(auto, empty('lan'))).toThrow(PlanError);
    expect(() => planWith(auto, empty('lan'))).toThrow(/addressPool "auto" is carved from the cluster's Docker network, and ssh hosts have none\. List the addresses MetalLB may hand out/);
    // metallb listed by hand needs the pool too; explicit ranges are fine.
    expect(() => planWith(withAddons(ssh, [on('metallb')]), empty('lan'))).toThrow(/addressPool: \["192\.168\.1\.240-192\.168\.1\.250"\]/);
    const plan = planWith(withAddons(ssh, [], { enabled: true, addressPool: ['192.168.1.240-192.168.1.250'] }), empty('lan'));
    expect(ids(plan)).toContain('addon.apply:metallb');
  });
});

describe('addons and the CNI inventory', () => {
  it('the name cni is reserved for networking.cni', () => {
    expect(CNI_ADDON_NAME).toBe('cni');
    expect(() => planWith(withAddons(dev, [{ ...on('cni'), manifests: 'cni/' }]), empty())).toThrow(/addon name "cni" is reserved/);
  });
});

describe('addon readiness wait (MK_ADDON_WAIT)', () => {
  it('defaults to 60 s, 0 turns it off, nonsense is refused', () => {
    expect(addonWaitMs({})).toBe(60_000);
    expect(addonWaitMs({ MK_ADDON_WAIT: '0' })).toBe(0);
    expect(addonWaitMs({ MK_ADDON_WAIT: '2.5' })).toBe(2500);
    expect(() => addonWaitMs({ MK_ADDON_WAIT: 'soon' })).toThrow(/MK_ADDON_WAIT must be a number of seconds/);
  });
});
