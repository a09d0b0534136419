import { describe, expect, it } from 'vitest';
import { PlanError } from '../../src/errors.js';
import type { ObservedCluster } from '../../src/drivers/types.js';
import { nodeConfigHash } from '../../src/infrastructure/node-config.js';
import { planCluster, planDelete } from '../../src/reconcile/phases.js';
import { inSync } from '../../src/plan.js';
import type { ClusterPlan as Plan } from '../../src/reconcile/phases.js';
import { expandNodes } from '../../src/spec/nodes.js';
import type { Cluster } from '../../src/spec/types.js';
import { aCluster, observedOf } from './builders.js';

const empty = (name = 'dev'): ObservedCluster => ({ name, nodes: [], orphanVolumes: [] });
const ids = (plan: Plan): string[] => plan.steps.map((s) => s.id);
const step = (plan: Plan, id: string) => {
  const s = plan.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id} in ${ids(plan).join(', ')}`);
  return s;
};
/** Dependencies come before dependents in the plan's order. */
const assertTopological = (plan: Plan): void => {
  const seen = new Set<string>();
  for (const s of plan.steps) {
    for (const d of s.dependsOn) expect(seen.has(d), `${s.id} listed before its dependency ${d}`).toBe(true);
    seen.add(s.id);
  }
};

interface Case {
  name: string;
  desired: Cluster;
  actual: ObservedCluster;
  /** Exactly these step ids, in this order. */
  steps: string[];
}

const dev = (workers: number) => aCluster('dev').withWorkers(workers).build();
const stoppedWorker = (): ObservedCluster => {
  const o = observedOf(dev(2));
  o.nodes[2]!.state = 'stopped';
  return o;
};
const withOrphans = (): ObservedCluster => ({ ...observedOf(dev(1)), orphanVolumes: ['dev-worker-2-var'] });
const twoPools = aCluster('dev').withWorkers(1).withWorkers(2, 'gpu').build();

const cases: Case[] = [
  {
    name: 'fresh cluster: network, nodes, bootstrap',
    desired: dev(2),
    actual: empty(),
    steps: [
      'network.create:dev',
      'node.create:dev-control-plane-1',
      'node.create:dev-worker-1',
      'node.create:dev-worker-2',
      'kubeadm.init:dev-control-plane-1',
      'kubeadm.join:dev-worker-1',
      'kubeadm.join:dev-worker-2',
      'cni.apply:dev',
      'kubeconfig.export:dev',
      'cluster.wait:dev',
    ],
  },
  { name: 'in sync: empty plan', desired: dev(2), actual: observedOf(dev(2)), steps: [] },
  {
    name: 'scale 3 -> 5: two creates and joins, no bootstrap',
    desired: dev(5),
    actual: observedOf(dev(3)),
    steps: ['node.create:dev-worker-4', 'node.create:dev-worker-5', 'kubeadm.join:dev-worker-4', 'kubeadm.join:dev-worker-5', 'cni.apply:dev', 'cluster.wait:dev'],
  },
  {
    name: 'scale 5 -> 2: network first, then the highest ordinals go, reset before remove',
    desired: dev(2),
    actual: observedOf(dev(5)),
    steps: [
      'cni.apply:dev',
      'kubeadm.reset:dev-worker-3',
      'kubeadm.reset:dev-worker-4',
      'kubeadm.reset:dev-worker-5',
      'node.remove:dev-worker-3',
      'node.remove:dev-worker-4',
      'node.remove:dev-worker-5',
      'cluster.wait:dev',
    ],
  },
  // Its sentinel is read once it runs: the join skips when kubeadm finished there (it may have been stopped mid-join).
  { name: 'stopped node: start, join unless done, network, then wait for it', desired: dev(2), actual: stoppedWorker(), steps: ['node.start:dev-worker-2', 'kubeadm.join:dev-worker-2', 'cni.apply:dev', 'cluster.wait:dev'] },
  {
    name: 'removed pool',
    desired: dev(1),
    actual: observedOf(twoPools),
    steps: ['cni.apply:dev', 'kubeadm.reset:dev-gpu-1', 'kubeadm.reset:dev-gpu-2', 'node.remove:dev-gpu-1', 'node.remove:dev-gpu-2', 'cluster.wait:dev'],
  },
  {
    name: 'orphan volumes are removed before new nodes',
    desired: dev(2),
    actual: withOrphans(),
    steps: ['volume.remove:dev-worker-2-var', 'node.create:dev-worker-2', 'kubeadm.join:dev-worker-2', 'cni.apply:dev', 'cluster.wait:dev'],
  },
];

describe('diff', () => {
  for (const c of cases) {
    it(c.name, () => {
      const plan = planCluster(c.desired, c.actual);
      expect(ids(plan)).toEqual(c.steps);
      assertTopological(plan);
      expect(inSync(plan)).toBe(c.steps.length === 0);
    });
  }

  it('fresh cluster: dependencies, ids, reasons', () => {
    const plan = planCluster(dev(2), empty(), { file: '/x/cluster.yaml' });
    expect(plan.file).toBe('/x/cluster.yaml');
    expect(plan.cluster).toBe('dev');
    const create = step(plan, 'node.create:dev-worker-2');
    expect(create.dependsOn).toEqual(['network.create:dev']);
    expect(create.description).toBe('create node dev-worker-2 (worker)');
    expect(create.reason).toBe('missing');
    expect(step(plan, 'kubeadm.init:dev-control-plane-1').dependsOn).toEqual(['node.create:dev-control-plane-1']);
    expect(step(plan, 'kubeadm.join:dev-worker-2').dependsOn).toEqual(['node.create:dev-worker-2', 'kubeadm.init:dev-control-plane-1']);
    expect(step(plan, 'cni.apply:dev').dependsOn).toEqual(['kubeadm.init:dev-control-plane-1', 'kubeadm.join:dev-worker-1', 'kubeadm.join:dev-worker-2']);
    // The wait comes last and after everything else.
    expect(plan.steps.at(-1)!.id).toBe('cluster.wait:dev');
    expect(step(plan, 'cluster.wait:dev').dependsOn).toHaveLength(plan.steps.length - 1);
    const cp = step(plan, 'node.create:dev-control-plane-1').step;
    expect(cp.kind === 'node.create' && cp.apiServerPort).toBe(0);
  });

  it('network name and subnet come from the docker driver options', () => {
    const plan = planCluster(aCluster('dev').withNetwork('lab', '172.31.0.0/24').build(), empty());
    expect(step(plan, 'network.create:dev').step).toEqual({ kind: 'network.create', cluster: 'dev', name: 'lab', subnet: '172.31.0.0/24' });
  });

  it('ssh clusters get no network step', () => {
    expect(ids(planCluster(aCluster('dev').overSsh().build(), empty())).some((id) => id.startsWith('network.'))).toBe(false);
  });

  it('control planes join one after another', () => {
    const plan = planCluster(aCluster('dev').withControlPlanes(3).build(), empty());
    expect(step(plan, 'kubeadm.join:dev-control-plane-2').dependsOn).toContain('kubeadm.init:dev-control-plane-1');
    expect(step(plan, 'kubeadm.join:dev-control-plane-3').dependsOn).toContain('kubeadm.join:dev-control-plane-2');
  });

  it('replacing an image: rolling, with a reason that says what changed', () => {
    const before = aCluster('dev').withControlPlanes(2).withWorkers(1).build();
    const after = aCluster('dev').withControlPlanes(2).withWorkers(1).withImage('mk/node:v2').build();
    const plan = planCluster(after, observedOf(before));
    assertTopological(plan);
    const remove = step(plan, 'node.remove:dev-control-plane-1');
    expect(remove.action).toBe('replace');
    expect(remove.reason).toBe('image mk/node:v1.31.0 → mk/node:v2');
    expect(step(plan, 'node.create:dev-control-plane-1').dependsOn).toContain('node.remove:dev-control-plane-1');
    // The second control plane goes only once the first is back.
    expect(step(plan, 'kubeadm.reset:dev-control-plane-2').dependsOn).toContain('kubeadm.join:dev-control-plane-1');
    expect(step(plan, 'node.create:dev-worker-1').step).toMatchObject({ image: 'mk/node:v2' });
    // A replaced control plane keeps its published API server port.
    expect(step(plan, 'node.create:dev-control-plane-1').step).toMatchObject({ apiServerPort: 6443 });
  });

  it('labels and taints do not change the config hash; image, role, version do', () => {
    const base = aCluster('dev').withWorkers(1).build();
    const node = expandNodes(base)[1]!;
    const h = nodeConfigHash(base, node);
    expect(nodeConfigHash(base, { ...node, labels: { a: 'b' }, taints: [{ key: 'k', effect: 'NoSchedule' }] })).toBe(h);
    expect(nodeConfigHash(aCluster('dev').withWorkers(1).withImage('other').build(), node)).not.toBe(h);
    expect(nodeConfigHash(aCluster('dev').withWorkers(1).withKubernetesVersion('v1.32.0').build(), node)).not.toBe(h);
    expect(nodeConfigHash(aCluster('dev').withWorkers(1).withPrivileged(false).build(), node)).not.toBe(h);
    expect(nodeConfigHash(base, { ...node, role: 'control-plane' })).not.toBe(h);
    const labelled = aCluster('dev').withPool('worker', 'worker', 1, { tier: 'gold' }).build();
    expect(inSync(planCluster(labelled, observedOf(base)))).toBe(true);
  });

  it('a privileged change is explained by the hash', () => {
    const plan = planCluster(aCluster('dev').withControlPlanes(2).withPrivileged(false).build(), observedOf(aCluster('dev').withControlPlanes(2).build()));
    expect(step(plan, 'node.remove:dev-control-plane-1').reason).toMatch(/^creation settings changed .*config hash [0-9a-f]+ → [0-9a-f]+$/);
  });

  it('scale down of control planes waits until new control planes joined', () => {
    const before = aCluster('dev').withPool('old', 'control-plane', 2).build();
    const after = aCluster('dev').withPool('old', 'control-plane', 1).withPool('new', 'control-plane', 1).build();
    const plan = planCluster(after, observedOf(before));
    expect(step(plan, 'kubeadm.reset:dev-old-2').dependsOn).toContain('kubeadm.join:dev-new-1');
    assertTopological(plan);
  });

  describe('never removes the last control plane', () => {
    it('refuses replacing the only control plane, naming it and what to do', () => {
      const run = () => planCluster(aCluster('dev').withImage('mk/node:v2').build(), observedOf(dev(0)));
      expect(run).toThrow(PlanError);
      expect(run).toThrow(/dev-control-plane-1.*only control plane.*Add a second control plane first.*mk delete dev/);
    });

    it('refuses removing every existing control plane (renamed pool)', () => {
      const run = () => planCluster(aCluster('dev').withPool('cp', 'control-plane', 1).build(), observedOf(dev(0)));
      expect(run).toThrow(/last control plane.*dev-control-plane-1.*Add the new control plane first/);
    });

    it('refuses a spec without control planes', () => {
      const noCp: Cluster = { ...dev(1), spec: { ...dev(1).spec, nodes: dev(1).spec.nodes.filter((p) => p.role === 'worker') } };
      expect(() => planCluster(noCp, observedOf(dev(1)))).toThrow(PlanError);
    });

    it('allows replacing one of two control planes', () => {
      const plan = planCluster(aCluster('dev').withControlPlanes(2).withImage('v2').build(), observedOf(aCluster('dev').withControlPlanes(2).build()));
      expect(ids(plan)).toContain('node.remove:dev-control-plane-2');
    });
  });

  describe('addons', () => {
    it('are installed after the first bootstrap; unobserved addons of an existing cluster are left alone (see reconcile-addons-diff)', () => {
      const c = aCluster('dev').withAddon('metallb').withAddon('ingress').build();
      const fresh = planCluster(c, empty());
      expect(step(fresh, 'addon.apply:gateway-api').dependsOn).toEqual(['cluster.wait:dev']);
      expect(step(fresh, 'addon.apply:ingress').dependsOn).toEqual(['cluster.wait:dev', 'addon.apply:gateway-api']);
      expect(step(fresh, 'addon.apply:metallb').dependsOn).toEqual(['cluster.wait:dev']);
      expect(fresh.warnings).toEqual([]);
      const again = planCluster(c, observedOf(c));
      expect(inSync(again)).toBe(true);
      expect(again.warnings).toEqual([]);
    });

    it('cni: none still plans the network step (endpoint name), saying no CNI', () => {
      const plan = planCluster(aCluster('dev').withCni('none').build(), empty());
      expect(step(plan, 'cni.apply:dev').description).toBe('cluster network: API endpoint name, no CNI');
    });
  });

  it('is deterministic and numeric-aware in ordering', () => {
    const c = dev(12);
    const a = planCluster(c, empty());
    expect(planCluster(c, empty())).toEqual(a);
    const creates = ids(a).filter((i) => i.startsWith('node.create:dev-worker'));
    expect(creates.slice(0, 3)).toEqual(['node.create:dev-worker-1', 'node.create:dev-worker-2', 'node.create:dev-worker-3']);
    expect(creates.at(-1)).toBe('node.create:dev-worker-12');
  });

  it('plans are plain data (JSON round trip) with no secrets fields', () => {
    const plan = planCluster(dev(1), empty());
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    expect(JSON.stringify(plan)).not.toMatch(/token|password|secret/i);
  });
});

describe('deletePlan', () => {
  it('removes every node (even the last control plane), orphan volumes, then the network', () => {
    const actual = { ...observedOf(dev(2)), orphanVolumes: ['v1'] };
    const plan = planDelete(actual);
    expect(ids(plan)).toEqual([
      'volume.remove:v1',
      'node.remove:dev-control-plane-1',
      'node.remove:dev-worker-1',
      'node.remove:dev-worker-2',
      'network.remove:dev',
    ]);
    expect(step(plan, 'network.remove:dev').dependsOn).toHaveLength(4);
    assertTopological(plan);
  });

  it('is empty for a cluster that is gone', () => {
    expect(inSync(planDelete(empty()))).toBe(true);
  });
});

describe('diff: nodes left half-made by a killed run', () => {
  it('creates a never-started node again (the driver starts or recreates it) and still plans the bootstrap', () => {
    const o = observedOf(dev(1));
    for (const n of o.nodes) n.state = 'created';
    const plan = planCluster(dev(1), o);
    expect(step(plan, 'node.create:dev-control-plane-1').reason).toBe('never started (left by an interrupted run)');
    expect(step(plan, 'node.create:dev-worker-1').action).toBe('create');
    expect(ids(plan)).toContain('kubeadm.init:dev-control-plane-1');
    expect(ids(plan).some((id) => id.startsWith('node.start'))).toBe(false);
    assertTopological(plan);
  });

  it('keeps a stopped (once started) node as a start, and joins it unless kubeadm finished there', () => {
    const plan = planCluster(dev(2), stoppedWorker());
    expect(ids(plan)).toEqual(['node.start:dev-worker-2', 'kubeadm.join:dev-worker-2', 'cni.apply:dev', 'cluster.wait:dev']);
    expect(step(plan, 'kubeadm.join:dev-worker-2')).toMatchObject({ reason: 'started again: joins unless kubeadm finished there', dependsOn: ['node.start:dev-worker-2'] });
  });
});

describe('diff: kubeadm bootstrap state', () => {
  const withKubeadm = (o: ObservedCluster, state: Record<string, 'done' | 'none' | 'stale'>): ObservedCluster => ({
    ...o,
    nodes: o.nodes.map((n) => (state[n.name] ? { ...n, kubeadm: state[n.name] } : n)),
  });

  it('a running node kubeadm never finished on is joined, then the network and the wait follow', () => {
    const plan = planCluster(dev(2), withKubeadm(observedOf(dev(2)), { 'dev-control-plane-1': 'done', 'dev-worker-1': 'done', 'dev-worker-2': 'none' }));
    expect(ids(plan)).toEqual(['kubeadm.join:dev-worker-2', 'cni.apply:dev', 'cluster.wait:dev']);
    expect(step(plan, 'kubeadm.join:dev-worker-2').reason).toMatch(/interrupted run/);
  });

  it('a node that joined an earlier cluster of this name (another CA) is joined again', () => {
    const plan = planCluster(dev(2), withKubeadm(observedOf(dev(2)), { 'dev-control-plane-1': 'done', 'dev-worker-1': 'stale', 'dev-worker-2': 'done' }));
    expect(ids(plan)).toEqual(['kubeadm.join:dev-worker-1', 'cni.apply:dev', 'cluster.wait:dev']);
    expect(step(plan, 'kubeadm.join:dev-worker-1').reason).toBe('joined an earlier cluster of this name (another CA): reset, then join again');
  });

  it('the only control plane removed by hand: created and initialised again, and the joined workers join the new one', () => {
    const o = withKubeadm(observedOf(dev(2)), { 'dev-worker-1': 'done', 'dev-worker-2': 'none' });
    const plan = planCluster(dev(2), { ...o, nodes: o.nodes.filter((n) => n.role !== 'control-plane') });
    expect(ids(plan)).toEqual(['node.create:dev-control-plane-1', 'kubeadm.init:dev-control-plane-1', 'kubeadm.join:dev-worker-1', 'kubeadm.join:dev-worker-2', 'cni.apply:dev', 'kubeconfig.export:dev', 'cluster.wait:dev']);
    expect(step(plan, 'kubeadm.join:dev-worker-1').reason).toBe('the control plane is initialised again: reset, then join again');
    expect(step(plan, 'kubeadm.join:dev-worker-1').dependsOn).toContain('kubeadm.init:dev-control-plane-1');
    assertTopological(plan);
  });

  it('nodes that exist but were never bootstrapped: init on the existing control plane, no create', () => {
    const plan = planCluster(dev(1), withKubeadm(observedOf(dev(1)), { 'dev-control-plane-1': 'none', 'dev-worker-1': 'none' }));
    expect(ids(plan)).toEqual(['kubeadm.init:dev-control-plane-1', 'kubeadm.join:dev-worker-1', 'cni.apply:dev', 'kubeconfig.export:dev', 'cluster.wait:dev']);
    expect(step(plan, 'kubeadm.init:dev-control-plane-1').dependsOn).toEqual([]);
  });

  it('a healthy cluster with its kubeconfig context is in sync', () => {
    const all = Object.fromEntries(expandNodes(dev(2)).map((n) => [n.name, 'done' as const]));
    expect(inSync(planCluster(dev(2), { ...withKubeadm(observedOf(dev(2)), all), kubeconfig: 'ok' }))).toBe(true);
  });

  it('a missing kubeconfig context is exported again, nothing else', () => {
    const plan = planCluster(dev(1), { ...observedOf(dev(1)), kubeconfig: 'missing' });
    expect(ids(plan)).toEqual(['kubeconfig.export:dev']);
    expect(step(plan, 'kubeconfig.export:dev').reason).toMatch(/missing/);
  });

  it('removing a control plane: after the new one joined and the network moved, then the kubeconfig is exported again', () => {
    const after = aCluster('dev').withPool('old', 'control-plane', 1).withPool('new', 'control-plane', 1).build();
    const twoCps = observedOf(after);
    const plan = planCluster(aCluster('dev').withPool('new', 'control-plane', 1).build(), twoCps);
    expect(ids(plan)).toEqual(['lb.configure:dev', 'cni.apply:dev', 'kubeadm.reset:dev-old-1', 'node.remove:dev-old-1', 'kubeconfig.export:dev', 'lb.remove:dev', 'cluster.wait:dev']);
    const reset = step(plan, 'kubeadm.reset:dev-old-1');
    expect(reset.step).toEqual({ kind: 'kubeadm.reset', node: 'dev-old-1', role: 'control-plane', drain: true });
    // Out of the load balancer first, then the endpoint name moves, then it leaves.
    expect(reset.dependsOn).toEqual(['cni.apply:dev', 'lb.configure:dev']);
  });

  it('a node kubeadm never ran on is removed without a reset', () => {
    const plan = planCluster(dev(1), withKubeadm(observedOf(dev(2)), { 'dev-worker-2': 'none' }));
    expect(ids(plan)).toEqual(['node.remove:dev-worker-2']);
  });

  it('bootstrap: none plans nodes only', () => {
    const c = aCluster('dev').withWorkers(2).withoutKubernetes().build();
    expect(ids(planCluster(c, empty()))).toEqual(['network.create:dev', 'node.create:dev-control-plane-1', 'node.create:dev-worker-1', 'node.create:dev-worker-2']);
    const smaller = aCluster('dev').withWorkers(1).withoutKubernetes().build();
    expect(ids(planCluster(smaller, observedOf(c)))).toEqual(['node.remove:dev-worker-2']);
  });
});
