import { describe, expect, it } from 'vitest';
import { PlanError } from '../../src/errors.js';
import { planCluster } from '../../src/reconcile/phases.js';
import type { ClusterPlan as Plan, ClusterStep as PlannedStep } from '../../src/reconcile/phases.js';
import { schedule } from '../../src/reconcile/schedule.js';
import { aCluster, observedOf } from './builders.js';

const plan = (steps: PlannedStep[]): Plan => ({ cluster: 'dev', steps, warnings: [] });
const vol = (id: string, dependsOn: string[] = []): PlannedStep => ({
  id,
  step: { kind: 'volume.remove', volume: id },
  action: 'remove',
  description: id,
  reason: 'test',
  dependsOn,
});
const stageIds = (p: Plan, concurrency?: number) =>
  schedule(p, concurrency !== undefined ? { concurrency } : {}).map((s) => ({ ids: s.steps.map((x) => x.id), concurrency: s.concurrency }));

describe('schedule', () => {
  it('an empty plan has no stages', () => {
    expect(schedule(plan([]))).toEqual([]);
  });

  it('every step appears once, after all of its dependencies', () => {
    const p = planCluster(aCluster('dev').withControlPlanes(3).withWorkers(6).withAddon('metallb').build(), { name: 'dev', nodes: [], orphanVolumes: [] });
    const stages = schedule(p);
    const stageOf = new Map<string, number>();
    stages.forEach((st, i) => st.steps.forEach((s) => stageOf.set(s.id, i)));
    expect(stageOf.size).toBe(p.steps.length);
    expect(stages.flatMap((s) => s.steps)).toHaveLength(p.steps.length);
    for (const s of p.steps) for (const d of s.dependsOn) expect(stageOf.get(d)!).toBeLessThan(stageOf.get(s.id)!);
  });

  it('workers in parallel up to the limit (default 4), control-plane steps one at a time', () => {
    const p = planCluster(aCluster('dev').withControlPlanes(2).withWorkers(6).build(), observedOf(aCluster('dev').build()));
    const stages = stageIds(p);
    expect(stages).toEqual([
      { ids: ['node.create:dev-control-plane-2'], concurrency: 1 },
      {
        ids: ['node.create:dev-worker-1', 'node.create:dev-worker-2', 'node.create:dev-worker-3', 'node.create:dev-worker-4', 'node.create:dev-worker-5', 'node.create:dev-worker-6', 'lb.create:dev'],
        concurrency: 4,
      },
      { ids: ['kubeadm.join:dev-control-plane-2'], concurrency: 1 },
      {
        ids: ['lb.configure:dev', 'kubeadm.join:dev-worker-1', 'kubeadm.join:dev-worker-2', 'kubeadm.join:dev-worker-3', 'kubeadm.join:dev-worker-4', 'kubeadm.join:dev-worker-5', 'kubeadm.join:dev-worker-6'],
        concurrency: 4,
      },
      { ids: ['cni.apply:dev'], concurrency: 1 },
      { ids: ['cluster.wait:dev'], concurrency: 1 },
    ]);
  });

  it('honours the concurrency option and never exceeds the stage size', () => {
    const p = plan([vol('a'), vol('b'), vol('c')]);
    expect(stageIds(p, 2)).toEqual([{ ids: ['a', 'b', 'c'], concurrency: 2 }]);
    expect(stageIds(p, 10)).toEqual([{ ids: ['a', 'b', 'c'], concurrency: 3 }]);
    expect(stageIds(p, 0)).toEqual([{ ids: ['a', 'b', 'c'], concurrency: 1 }]);
  });

  it('layers by the longest dependency chain', () => {
    const p = plan([vol('a'), vol('b', ['a']), vol('c'), vol('d', ['b', 'c'])]);
    expect(stageIds(p).map((s) => s.ids)).toEqual([['a', 'c'], ['b'], ['d']]);
  });

  it('rejects cycles and unknown dependencies', () => {
    expect(() => schedule(plan([vol('a', ['b']), vol('b', ['a'])]))).toThrow(PlanError);
    expect(() => schedule(plan([vol('a', ['nope'])]))).toThrow(/unknown step nope/);
  });
});
