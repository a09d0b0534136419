// Golden plans: the text `mk plan` prints and the steps `mk apply` executes, for a set of specs and
// observed states, kept in test/unit/golden/plans/. A change to the planner that changes any plan
// fails here and shows the difference; MK_UPDATE_GOLDEN=1 rewrites the files (review the diff).
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlanError } from '../../src/errors.js';
import type { NodeHealth, NodeImage, ObservedAddons, ObservedCluster, ObservedNode } from '../../src/drivers/types.js';
import type { ResolvedImages } from '../../src/images/source.js';
import { formatPlan } from '../../src/output/plan-text.js';
import { planCluster, planDelete, planStop } from '../../src/reconcile/phases.js';
import type { ClusterPlan as Plan } from '../../src/reconcile/phases.js';
import { parseSpec } from '../../src/spec/load.js';
import type { Cluster } from '../../src/spec/types.js';
import { aCluster, observedOf } from './builders.js';

const ROOT = resolve(import.meta.dirname, '../..');
const GOLDEN = join(import.meta.dirname, 'golden/plans');
const update = process.env.MK_UPDATE_GOLDEN === '1';

const example = (file: string): Cluster => parseSpec(readFileSync(join(ROOT, 'clusters', file), 'utf8'), join('clusters', file)).cluster;
const empty = (name: string): ObservedCluster => ({ name, nodes: [], orphanVolumes: [] });
const kubeadmDone = (o: ObservedCluster, state: Record<string, ObservedNode['kubeadm']> = {}): ObservedCluster => ({
  ...o,
  kubeconfig: 'ok',
  nodes: o.nodes.map((n) => ({ ...n, kubeadm: state[n.name] ?? 'done' })),
});
const withNodes = (o: ObservedCluster, f: (n: ObservedNode) => ObservedNode | undefined): ObservedCluster => ({
  ...o,
  nodes: o.nodes.map(f).filter((n): n is ObservedNode => n !== undefined),
});
const addons = (a: Partial<ObservedAddons>): ObservedAddons => ({ installed: [], ...a });
const ID = (c: string) => `sha256:${c.repeat(64)}`;
/** The local engine has app:dev (ID a...) and nginx:1.27 (ID b...). */
const local: ResolvedImages = { source: 'the Docker engine at unix:///var/run/docker.sock', images: { 'app:dev': { id: ID('a'), size: 20e6 }, 'nginx:1.27': { id: ID('b'), size: 70e6 } } };
const held = (...images: [ref: string, id: string][]): { held: NodeImage[] } => ({ held: images.map(([ref, id]) => ({ ref, id })) });
const both = held(['docker.io/library/app:dev', ID('a')], ['docker.io/library/nginx:1.27', ID('b')]);
const withImages = (o: ObservedCluster, per: Record<string, { held: NodeImage[]; error?: string }> = {}): ObservedCluster => withNodes(o, (n) => ({ ...n, images: per[n.name] ?? both }));

/** Every step that must finish before each step (dependencies, transitively): what the order of execution rests on. */
function ancestors(plan: Plan): Map<string, string[]> {
  const deps = new Map(plan.steps.map((s) => [s.id, s.dependsOn]));
  const memo = new Map<string, Set<string>>();
  const of = (id: string): Set<string> => {
    let all = memo.get(id);
    if (!all) {
      all = new Set<string>();
      for (const d of deps.get(id) ?? []) for (const a of [d, ...of(d)]) all.add(a);
      memo.set(id, all);
    }
    return all;
  };
  return new Map(plan.steps.map((s) => [s.id, [...of(s.id)].sort()]));
}

/**
 * Everything a plan carries, as stable text: the printed plan, then each step's data. Dependencies
 * are compared as what must run before each step (the transitive closure), so a planner may state
 * an edge that another one implies without changing the plan.
 */
function render(plan: Plan): string {
  const before = ancestors(plan);
  const steps = plan.steps.map((s) => ({ id: s.id, action: s.action, step: s.step, description: s.description, reason: s.reason, after: before.get(s.id) }));
  return `${formatPlan(plan)}\n\n${JSON.stringify({ warnings: plan.warnings, unchecked: plan.unchecked ?? [], ...(plan.problems ? { problems: plan.problems } : {}), steps }, null, 2)}\n`;
}

const dev = (workers: number) => aCluster('dev').withWorkers(workers).build();
const three = aCluster('dev').withControlPlanes(3).withWorkers(2).build();
/** etcd as a control plane lists it: one member per control plane of the cluster (or per name given). */
const members = (...names: string[]): NonNullable<ObservedCluster['etcd']> => ({ members: names.map((name, i) => ({ id: String(1000 + i), name, peerUrls: [`https://172.30.0.${10 + i}:2380`] })) });
const haObserved = (): ObservedCluster => ({ ...kubeadmDone(observedOf(three)), etcd: members('dev-control-plane-1', 'dev-control-plane-2', 'dev-control-plane-3') });

const scenarios: Record<string, () => Plan> = {
  // Every example a user copies, planned against nothing.
  ...Object.fromEntries(
    readdirSync(join(ROOT, 'clusters'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => [`example-${f.replace(/\.yaml$/, '')}`, () => { const c = example(f); return planCluster(c, empty(c.metadata.name), { file: `clusters/${f}` }); }]),
  ),
  'in-sync': () => planCluster(dev(2), kubeadmDone(observedOf(dev(2)))),
  'scale-up': () => planCluster(dev(4), kubeadmDone(observedOf(dev(2)))),
  'scale-down': () => planCluster(dev(1), kubeadmDone(observedOf(dev(4)))),
  'control-planes-1-to-3': () => planCluster(three, kubeadmDone(observedOf(dev(2)))),
  // The first control plane's container removed by hand (docker rm -f; its /var volume left): its
  // etcd member is removed, then it is created and joins again, and the load balancer lists it.
  'control-plane-lost': () => {
    const o = haObserved();
    return planCluster(three, { ...withNodes(o, (n) => (n.name === 'dev-control-plane-1' ? undefined : n)), orphanVolumes: ['dev-control-plane-1-var'], orphanVolumeNodes: { 'dev-control-plane-1-var': 'dev-control-plane-1' } });
  },
  // The load balancer removed by hand: made again (a new address and port), its backends written,
  // the workers' endpoint name and the kubeconfig follow it.
  'load-balancer-removed-by-hand': () => {
    const { loadBalancer: _gone, ...o } = haObserved();
    return planCluster(three, o);
  },
  // Back to one control plane: the other two leave etcd one at a time, the endpoint moves back, the load balancer goes.
  'control-planes-3-to-1': () => planCluster(aCluster('dev').withWorkers(2).build(), haObserved()),
  // One control plane does not answer (its host is unreachable): removing another would lose quorum.
  'refused-quorum': () =>
    planCluster(aCluster('dev').withControlPlanes(2).withWorkers(2).build(), withNodes(haObserved(), (n) => (n.name === 'dev-control-plane-1' ? { ...n, state: 'unreachable', detail: 'connect ETIMEDOUT' } : n))),
  // Two of three control planes gone: etcd cannot answer; mk says so and changes no member.
  'etcd-quorum-lost': () => planCluster(three, withNodes(haObserved(), (n) => (n.name === 'dev-control-plane-2' || n.name === 'dev-control-plane-3' ? undefined : n))),
  'control-planes-rolling-image': () => planCluster(aCluster('dev').withControlPlanes(3).withWorkers(2).withImage('mk/node:v2').build(), kubeadmDone(observedOf(three))),
  'control-plane-moved-to-new-pool': () =>
    planCluster(aCluster('dev').withPool('new', 'control-plane', 1).withWorkers(1).build(), kubeadmDone(observedOf(aCluster('dev').withPool('old', 'control-plane', 1).withPool('new', 'control-plane', 1).withWorkers(1).build()))),
  'refused-last-control-plane': () =>
    planCluster(aCluster('dev').withPool('new', 'control-plane', 1).withWorkers(1).build(), kubeadmDone(observedOf(aCluster('dev').withPool('old', 'control-plane', 1).withWorkers(1).build()))),
  'refused-only-control-plane-replaced': () => planCluster(aCluster('dev').withWorkers(1).withKubernetesVersion('v1.32.0').build(), kubeadmDone(observedOf(dev(1)))),
  // Nodes of a version newer than mk knows, from an image tagged for another one: both warned.
  'version-warnings': () => planCluster(aCluster('dev').withWorkers(1).withKubernetesVersion('v1.40.0').withImage('mk/node:v1.39.1').build(), empty('dev')),
  'left-by-killed-run': () => {
    const o = kubeadmDone(observedOf(dev(3)), { 'dev-worker-2': 'none' });
    return planCluster(dev(3), {
      ...withNodes(o, (n) => (n.name === 'dev-worker-1' ? { ...n, state: 'stopped' } : n.name === 'dev-worker-3' ? { ...n, state: 'created', kubeadm: 'none' } : n)),
      orphanVolumes: ['dev-worker-4-var'],
      kubeconfig: 'missing',
    });
  },
  // A worker container removed by hand (its /var volume left), and the volume of a node no longer in the spec.
  'node-removed-by-hand': () => {
    const o = withNodes(kubeadmDone(observedOf(dev(2))), (n) => (n.name === 'dev-worker-1' ? undefined : n));
    return planCluster(dev(2), { ...o, orphanVolumes: ['dev-worker-1-var', 'dev-worker-3-var'], orphanVolumeNodes: { 'dev-worker-1-var': 'dev-worker-1', 'dev-worker-3-var': 'dev-worker-3' } });
  },
  'stale-and-lost-control-plane': () =>
    planCluster(dev(2), withNodes(kubeadmDone(observedOf(dev(2)), { 'dev-worker-2': 'stale' }), (n) => (n.role === 'control-plane' ? undefined : n))),
  'bootstrap-none': () => planCluster(aCluster('dev').withWorkers(2).withoutKubernetes().withNetwork('lab', '10.9.0.0/24').build(), empty('dev')),
  'ssh-unreachable-host': () => {
    const c = example('ssh.yaml');
    const o = kubeadmDone(observedOf(c));
    return planCluster(c, withNodes(o, (n) => (n.name === o.nodes[1]!.name ? { ...n, state: 'unreachable', detail: 'connect ETIMEDOUT 10.0.0.21:22' } : n)));
  },
  'addons-changes': () => {
    const c = aCluster('dev').withWorkers(1).withAddon('metrics-server').withAddon('storage').withAddon('csi-hostpath-driver').build();
    const o = kubeadmDone(observedOf(c));
    const inst = (name: string, extra: Record<string, unknown> = {}) => ({ name, version: 'v0', specHash: 'old', contentHash: 'old', objects: 4, missing: [], foreign: [], ...extra });
    const installed = [inst('metrics-server', { missing: ['Deployment kube-system/metrics-server', 'Service kube-system/metrics-server'] }), inst('registry'), inst('dashboard', { foreign: ['Namespace kubernetes-dashboard'] })];
    const rendered = { hashes: { 'metrics-server': 'old', storage: 'new', 'csi-hostpath-driver': 'new', volumesnapshots: 'new' }, errors: { storage: 'manifest missing.yaml: no such file' } };
    return planCluster(c, { ...o, addons: addons({ installed }) }, { resolved: { addons: rendered } });
  },
  'unhealthy-nodes': () => {
    const notReady = (message: string) => ({ status: 'False', reason: 'KubeletNotReady', message });
    const health: Record<string, NodeHealth> = {
      'dev-worker-1': { kubelet: 'failed', cniConfig: true, ready: { status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' } },
      'dev-worker-2': { kubelet: 'active', cniConfig: false, ready: notReady('container runtime network not ready: cni plugin not initialized') },
      'dev-worker-3': { kubelet: 'active', cniConfig: true, ready: notReady('PLEG is not healthy') },
    };
    const o = kubeadmDone(observedOf(dev(3)));
    return planCluster(dev(3), { ...o, nodes: o.nodes.map((n) => ({ ...n, health: health[n.name] ?? { kubelet: 'active', cniConfig: true, ready: { status: 'True' } } })) });
  },
  'addons-unchecked': () => planCluster(dev(1), { ...kubeadmDone(observedOf(dev(1))), addons: addons({ error: 'the API server of cluster dev could not be asked about addons: no answer within 20 s' }) }),
  'images-new-cluster': () => planCluster(aCluster('dev').withWorkers(2).withImages('app:dev', 'nginx:1.27').withAddon('metrics-server').build(), empty('dev'), { resolved: { images: local } }),
  'images-drift': () => {
    // cp holds both; worker-1 holds an older build of app:dev; worker-2 lacks nginx; worker-3 was removed by hand; worker-4 is new; worker-5 cannot be asked.
    const c = aCluster('dev').withWorkers(5).withImages('app:dev', 'nginx:1.27').build();
    const o = withImages(kubeadmDone(observedOf(aCluster('dev').withWorkers(5).build())), {
      'dev-worker-1': held(['docker.io/library/app:dev', ID('c')], ['docker.io/library/nginx:1.27', ID('b')]),
      'dev-worker-2': held(['docker.io/library/app:dev', ID('a')]),
      'dev-worker-5': { held: [], error: 'ctr (containerd\'s client) is not on the node: is containerd installed?' },
    });
    return planCluster(c, withNodes(o, (n) => (n.name === 'dev-worker-3' || n.name === 'dev-worker-4' ? undefined : n)), { resolved: { images: local } });
  },
  'images-in-sync': () => {
    const c = aCluster('dev').withWorkers(2).withImages('app:dev', 'nginx:1.27').build();
    return planCluster(c, withImages(kubeadmDone(observedOf(c))), { resolved: { images: local } });
  },
  'images-pulled-first': () =>
    planCluster(aCluster('dev').withImages('app:dev', 'redis:7').withoutKubernetes().build(), empty('dev'), { resolved: { images: { ...local, images: { ...local.images, 'redis:7': { pull: true } } } } }),
  'images-refused-missing': () =>
    planCluster(aCluster('dev').withWorkers(1).withImages('app:dev', 'mk.local/api:v2').build(), empty('dev'), {
      resolved: { images: { ...local, images: { ...local.images, 'mk.local/api:v2': { missing: 'Get "https://mk.local/v2/": dial tcp: lookup mk.local: no such host' } } } },
    }),
  // mk stop of a cluster with a worker stopped already; then mk start of the whole cluster stopped (what it plans: starts, joins that skip, network, kubeconfig, wait).
  'stop': () => planStop(withNodes(observedOf(three), (n) => (n.name === 'dev-worker-2' ? { ...n, state: 'stopped' } : n))),
  'stopped-cluster-started': () => planCluster(three, withNodes(observedOf(three), (n) => ({ ...n, state: 'stopped' }))),
  'delete': () => planDelete({ ...observedOf(dev(2)), orphanVolumes: ['dev-worker-9-var'] }),
  'delete-ssh-hosts': () => planDelete(withNodes(observedOf(example('ssh.yaml')), (n) => (n.ordinal === 2 ? { ...n, state: 'unreachable' } : n)), example('ssh.yaml')),
};

describe('golden plans', () => {
  for (const [name, make] of Object.entries(scenarios)) {
    it(name, () => {
      const file = join(GOLDEN, `${name}.txt`);
      let got: string;
      try {
        got = render(make());
      } catch (err) {
        if (!(err instanceof PlanError)) throw err;
        got = `refused: ${err.message}\n`;
      }
      if (update) {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, got);
      }
      expect(got).toBe(readFileSync(file, 'utf8'));
    });
  }
});
