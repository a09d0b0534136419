// The run machine on real kubeadm plans (from diff and schedule), with fake step actors: the real
// steps need Kubernetes on real nodes (test/e2e/mk-kubeadm.test.ts). Join failures, a killed run
// resumed from its persisted snapshot, and the re-plan after a join was cut short.
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise, waitFor } from 'xstate';
import type { ObservedCluster } from '../../src/drivers/types.js';
import { planCluster } from '../../src/reconcile/phases.js';
import { resumeFrom, runMachine, stepRecords } from '../../src/reconcile/machine.js';
import type { StepResult } from '../../src/plan.js';
import type { RunEmitted, StepInput } from '../../src/reconcile/machine.js';
import type { ClusterPlan as Plan } from '../../src/reconcile/phases.js';
import { schedule } from '../../src/reconcile/schedule.js';
import type { Schedule } from '../../src/reconcile/schedule.js';
import { aCluster, observedOf } from './builders.js';

const JOIN = (n: number) => `kubeadm.join:dev-worker-${n}`;
const AFTER_JOINS = ['cni.apply:dev', 'kubeconfig.export:dev', 'cluster.wait:dev'];
const BEFORE_JOINS = [
  'network.create:dev',
  'node.create:dev-control-plane-1',
  'node.create:dev-worker-1',
  'node.create:dev-worker-2',
  'node.create:dev-worker-3',
  'kubeadm.init:dev-control-plane-1',
];

const empty: ObservedCluster = { name: 'dev', nodes: [], orphanVolumes: [] };
/** 1 control plane + 3 workers, nothing there yet. */
const fresh = (): Plan => planCluster(aCluster('dev').withWorkers(3).build(), empty);

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    });
  });

type Behave = (id: string, signal: AbortSignal) => Promise<StepResult>;

/** Fake step actors: behaviour per step id; records each start and end, and each step's abort signal. */
function fakeSteps(behave: Behave = () => Promise.resolve({ outcome: 'done' })) {
  const started: string[] = [];
  const ended: string[] = [];
  const signals = new Map<string, AbortSignal>();
  const runStep = fromPromise<StepResult, StepInput>(async ({ input, signal }) => {
    started.push(input.step.id);
    signals.set(input.step.id, signal);
    try {
      return await behave(input.step.id, signal);
    } finally {
      ended.push(input.step.id);
    }
  });
  return { machine: runMachine.provide({ actors: { runStep } }), started, ended, signals };
}

function start(machine: ReturnType<typeof fakeSteps>['machine'], stages: Schedule, snapshot?: ReturnType<ReturnType<typeof createActor<typeof runMachine>>['getPersistedSnapshot']>) {
  const actor = createActor(machine, resumeFrom(stages, snapshot));
  const emitted: RunEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  return { actor, emitted };
}

/** What the runner's onSnapshot would write to disk and read back. */
const persist = (actor: ReturnType<typeof start>['actor']) => JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as ReturnType<typeof actor.getPersistedSnapshot>;

/** dev-worker-2's join fails after 5 ms; the other joins take 30 ms; everything else is quick. */
const join2Fails: Behave = async (id) => {
  if (id === JOIN(2)) {
    await sleep(5);
    throw new Error('kubeadm join failed: couldn\'t validate the identity of the API Server');
  }
  await sleep(id.startsWith('kubeadm.join:') ? 30 : 1);
  return { outcome: 'done' };
};

describe('the plan the machine runs (1 control plane + 3 workers, fresh)', () => {
  it('joins the three workers in one stage after init, then network, kubeconfig and wait one at a time', () => {
    const stages = schedule(fresh());
    const joins = stages.find((s) => s.steps.some((x) => x.id === JOIN(1)))!;
    expect(joins.steps.map((s) => s.id)).toEqual([JOIN(1), JOIN(2), JOIN(3)]);
    expect(joins.concurrency).toBe(3);
    const at = (id: string) => stages.findIndex((s) => s.steps.some((x) => x.id === id));
    expect(at('kubeadm.init:dev-control-plane-1')).toBeLessThan(at(JOIN(1)));
    expect(AFTER_JOINS.map(at)).toEqual([at(JOIN(1)) + 1, at(JOIN(1)) + 2, at(JOIN(1)) + 3]);
  });
});

describe('a failing join (fake step actors)', () => {
  it('fake steps: the run fails naming kubeadm.join:dev-worker-2; the joins in flight with it finish; cni, kubeconfig and wait never start', async () => {
    const f = fakeSteps(join2Fails);
    const { actor, emitted } = start(f.machine, schedule(fresh()));
    const out = await toPromise(actor);

    expect(actor.getSnapshot().value).toBe('failed');
    expect(out.status).toBe('failed');
    expect(out.error).toEqual({ stepId: JOIN(2), message: expect.stringMatching(/identity of the API Server/) });
    expect(out.records[JOIN(2)]).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/kubeadm join failed/) });
    // The machine drains: joins already running are neither cancelled nor cut short.
    for (const n of [1, 3]) {
      expect(out.records[JOIN(n)]!.outcome).toBe('done');
      expect(out.records[JOIN(n)]!.finishedAt).toBeGreaterThanOrEqual(out.records[JOIN(2)]!.finishedAt);
      expect(f.signals.get(JOIN(n))!.aborted).toBe(false);
    }
    for (const id of AFTER_JOINS) {
      expect(f.started).not.toContain(id);
      expect(out.records[id]).toBeUndefined();
    }
    expect(f.started.filter((id) => BEFORE_JOINS.includes(id))).toEqual(BEFORE_JOINS);
    expect(emitted.filter((e) => e.type === 'step.failed').map((e) => e.step.id)).toEqual([JOIN(2)]);
    expect(emitted.filter((e) => e.type === 'step.started').map((e) => e.step.id)).toEqual([...BEFORE_JOINS, JOIN(1), JOIN(2), JOIN(3)]);
  });

  it('fake steps: with --concurrency 2 the third join, not started when the second failed, never starts', async () => {
    const f = fakeSteps(join2Fails);
    const { actor } = start(f.machine, schedule(fresh(), { concurrency: 2 }));
    const out = await toPromise(actor);
    expect(out.status).toBe('failed');
    expect(out.error?.stepId).toBe(JOIN(2));
    expect(out.records[JOIN(1)]!.outcome).toBe('done');
    expect(f.started).not.toContain(JOIN(3));
    expect(out.records[JOIN(3)]).toBeUndefined();
    expect(f.started.some((id) => AFTER_JOINS.includes(id))).toBe(false);
  });

  it('fake steps: a failing control-plane join stops the run before the next control plane and the workers join', async () => {
    const plan = planCluster(aCluster('dev').withControlPlanes(3).withWorkers(2).build(), empty);
    const f = fakeSteps(async (id) => {
      if (id === 'kubeadm.join:dev-control-plane-2') throw new Error('etcd member add failed');
      return { outcome: 'done' };
    });
    const out = await toPromise(start(f.machine, schedule(plan)).actor);
    expect(out.error?.stepId).toBe('kubeadm.join:dev-control-plane-2');
    expect(f.started.filter((id) => id.startsWith('kubeadm.'))).toEqual(['kubeadm.init:dev-control-plane-1', 'kubeadm.join:dev-control-plane-2']);
  });
});

describe('resuming (fake step actors)', () => {
  it('fake steps: a run killed during the joins resumes from its persisted snapshot: finished steps are not run again, the joins in flight and the rest run once', async () => {
    const stages = schedule(fresh());
    // First run: join 1 finishes, joins 2 and 3 hang; then the process is killed.
    const first = fakeSteps(async (id, signal) => {
      if (id === JOIN(2) || id === JOIN(3)) await sleep(60_000, signal);
      return { outcome: 'done' };
    });
    const killed = start(first.machine, stages);
    await waitFor(killed.actor, (s) => stepRecords(s.context)[JOIN(1)]?.outcome === 'done' && s.context.running.length === 2);
    const saved = persist(killed.actor);
    killed.actor.stop();
    expect(first.started.some((id) => AFTER_JOINS.includes(id))).toBe(false);

    const second = fakeSteps();
    const resumed = start(second.machine, stages, saved);
    const out = await toPromise(resumed.actor);
    expect(out.status).toBe('done');
    expect(second.started).toEqual([JOIN(2), JOIN(3), ...AFTER_JOINS]);
    expect(Object.keys(out.records).sort()).toEqual([...BEFORE_JOINS, JOIN(1), JOIN(2), JOIN(3), ...AFTER_JOINS].sort());
    expect(Object.values(out.records).every((r) => r.outcome === 'done')).toBe(true);
  });

  it('fake steps: resumed while draining after the failure, the in-flight joins run again and the run still ends failed on dev-worker-2', async () => {
    const stages = schedule(fresh());
    const first = fakeSteps(async (id, signal) => {
      if (id === JOIN(2)) throw new Error('join failed');
      if (id === JOIN(1) || id === JOIN(3)) await sleep(60_000, signal);
      return { outcome: 'done' };
    });
    const run = start(first.machine, stages);
    await waitFor(run.actor, (s) => s.value === 'draining');
    const saved = persist(run.actor);
    run.actor.stop();

    const second = fakeSteps();
    const out = await toPromise(start(second.machine, stages, saved).actor);
    expect(second.started.sort()).toEqual([JOIN(1), JOIN(3)]);
    expect(out.status).toBe('failed');
    expect(out.error?.stepId).toBe(JOIN(2));
  });

  // Known bug (see the report): the runner saves a snapshot after every change, so the snapshot a failed
  // run leaves is its final "failed" state; restoring it runs nothing and ends failed again at once.
  // Flip to it() once executePlan resumes a failed run by re-running what did not finish.
  it('fake steps: resuming the persisted snapshot of the run that failed on dev-worker-2 runs that join and the rest, not the finished steps', async () => {
    const stages = schedule(fresh());
    const first = fakeSteps(join2Fails);
    const failed = start(first.machine, stages);
    await toPromise(failed.actor);
    const saved = persist(failed.actor);

    const second = fakeSteps();
    const out = await toPromise(start(second.machine, stages, saved).actor);
    expect(out.status).toBe('done');
    expect(second.started).toEqual([JOIN(2), ...AFTER_JOINS]);
  });
});

describe('after a run killed mid-join (dev-worker-2 has no sentinel)', () => {
  const cluster = aCluster('dev').withWorkers(3).build();
  const observed = (): ObservedCluster => {
    const o = observedOf(cluster);
    return { ...o, kubeconfig: 'ok', nodes: o.nodes.map((n) => ({ ...n, kubeadm: n.name === 'dev-worker-2' ? 'none' : 'done' })) };
  };

  it('re-plans exactly its join, the cluster network and the wait', () => {
    const plan = planCluster(cluster, observed());
    expect(plan.steps.map((s) => s.id)).toEqual([JOIN(2), 'cni.apply:dev', 'cluster.wait:dev']);
    expect(plan.steps[0]!.step).toEqual({ kind: 'kubeadm.join', node: 'dev-worker-2', role: 'worker' });
    expect(plan.steps[1]!.dependsOn).toContain(JOIN(2));
  });

  it('fake steps: running that plan starts those three steps, in that order, and nothing else', async () => {
    const f = fakeSteps();
    const out = await toPromise(start(f.machine, schedule(planCluster(cluster, observed()))).actor);
    expect(out.status).toBe('done');
    expect(f.started).toEqual([JOIN(2), 'cni.apply:dev', 'cluster.wait:dev']);
    expect(f.ended).toEqual(f.started);
  });
});
