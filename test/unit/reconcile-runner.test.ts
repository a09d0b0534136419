import { describe, expect, it } from 'vitest';
import { AbortedError, StepError } from '../../src/errors.js';
import { MemoryDriver } from '../../src/drivers/memory.js';
import { RecordingReporter } from '../../src/log.js';
import type { MkEvent } from '../../src/log.js';
import { executePlan, reconcile, runWholeCluster } from '../../src/reconcile/runner.js';
import type { PersistedRun } from '../../src/reconcile/runner.js';
import { planCluster } from '../../src/reconcile/phases.js';
import { runStep } from '../../src/reconcile/steps.js';
import type { ClusterStep as PlannedStep } from '../../src/reconcile/phases.js';
import { aCluster } from './builders.js';

// Node lifecycle only: the kubeadm steps run against real nodes (test/e2e/mk-kubeadm.test.ts).
const dev = (workers: number) => aCluster('dev').withWorkers(workers).withoutKubernetes().build();
const apply = (driver: MemoryDriver, workers: number, reporter = new RecordingReporter(), extra: { signal?: AbortSignal; concurrency?: number } = {}) =>
  reconcile(dev(workers), { driver, reporter, mode: 'apply', file: '/tmp/cluster.yaml', ...extra });
const ofType = <T extends MkEvent['type']>(r: RecordingReporter, type: T) => r.events.filter((e): e is Extract<MkEvent, { type: T }> => e.type === type);
const nodeNames = (d: MemoryDriver) => [...d.nodes.keys()].sort();

describe('runner with the memory driver', () => {
  it('applies a fresh cluster, then a second apply changes nothing', async () => {
    const driver = new MemoryDriver();
    const reporter = new RecordingReporter();
    const { plan, result } = await apply(driver, 3, reporter);
    expect(nodeNames(driver)).toEqual(['dev-control-plane-1', 'dev-worker-1', 'dev-worker-2', 'dev-worker-3']);
    expect(result?.ok).toBe(true);
    // network + 4 nodes (bootstrap: none, so no kubeadm steps).
    expect(result?.counts).toEqual({ done: 5 });
    expect(reporter.events[0]).toEqual({ type: 'plan', plan });
    expect(ofType(reporter, 'step.started')).toHaveLength(plan.steps.length);
    const finished = ofType(reporter, 'step.finished');
    expect(finished).toHaveLength(plan.steps.length);
    expect(finished.every((e) => e.durationMs >= 0 && e.cluster === 'dev')).toBe(true);
    expect(ofType(reporter, 'summary')).toEqual([expect.objectContaining({ cluster: 'dev', ok: true, inSync: false, counts: { done: 5 } })]);

    driver.resetCounters();
    const again = new RecordingReporter();
    const second = await apply(driver, 3, again);
    expect(second.plan.steps).toEqual([]);
    expect(driver.mutatingCalls).toBe(0);
    expect(ofType(again, 'summary')[0]).toMatchObject({ ok: true, inSync: true, counts: {} });
  });

  it('scales 3 -> 5 -> 2', async () => {
    const driver = new MemoryDriver();
    await apply(driver, 3);
    await apply(driver, 5);
    expect(nodeNames(driver)).toHaveLength(6);
    const { result } = await apply(driver, 2);
    expect(nodeNames(driver)).toEqual(['dev-control-plane-1', 'dev-worker-1', 'dev-worker-2']);
    expect(result?.counts.done).toBe(3);
    expect([...driver.volumes.keys()].sort()).toEqual(['dev-control-plane-1-var', 'dev-worker-1-var', 'dev-worker-2-var']);
  });

  it('at scale (500 workers): apply, then a re-apply with zero mutating calls', async () => {
    const driver = new MemoryDriver();
    const big = aCluster('big').withControlPlanes(3).withWorkers(500).withoutKubernetes().build();
    const t0 = Date.now();
    const { result } = await reconcile(big, { driver, reporter: new RecordingReporter(), mode: 'apply', concurrency: 16 });
    expect(result?.counts.done).toBe(506); // 503 nodes, the network, the load balancer and its backends
    expect(Date.now() - t0).toBeLessThan(10_000);
    driver.resetCounters();
    const { plan } = await reconcile(big, { driver, reporter: new RecordingReporter(), mode: 'apply' });
    expect(plan.steps).toEqual([]);
    expect(driver.mutatingCalls).toBe(0);
  });

  it('mode plan observes and plans, never changes anything', async () => {
    const driver = new MemoryDriver();
    const reporter = new RecordingReporter();
    const { plan, result } = await reconcile(dev(2), { driver, reporter, mode: 'plan' });
    expect(plan.steps.length).toBeGreaterThan(0);
    expect(result).toBeUndefined();
    expect(driver.mutatingCalls).toBe(0);
    expect(reporter.events.map((e) => e.type)).toEqual(['plan']);
  });

  it('repairs drift: starts a stopped node, removes orphan volumes', async () => {
    const driver = new MemoryDriver();
    await apply(driver, 2);
    driver.setState('dev-worker-2', 'stopped');
    driver.addOrphanVolume('dev', 'dev-worker-9-var');
    driver.resetCounters();
    const { plan } = await apply(driver, 2);
    expect(plan.steps.map((s) => s.id)).toEqual(['volume.remove:dev-worker-9-var', 'node.start:dev-worker-2']);
    expect(driver.calls.startNode).toBe(1);
    expect(driver.calls.removeVolume).toBe(1);
    expect(driver.nodes.get('dev-worker-2')?.state).toBe('running');
  });

  it('runs worker creations in parallel up to the limit', async () => {
    const driver = new MemoryDriver({ delayMs: { createNode: 15 } });
    await apply(driver, 8, new RecordingReporter(), { concurrency: 3 });
    expect(driver.maxInFlight).toBe(3);
    const serial = new MemoryDriver({ delayMs: { createNode: 5 } });
    await apply(serial, 4, new RecordingReporter(), { concurrency: 1 });
    expect(serial.maxInFlight).toBe(1);
  });

  it('a failing step: StepError naming it, no later steps, summary not ok', async () => {
    const driver = new MemoryDriver({ failOn: { createNode: 'dev-worker-2' } });
    const reporter = new RecordingReporter();
    const err = await apply(driver, 3, reporter).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).stepId).toBe('node.create:dev-worker-2');
    expect((err as StepError).message).toMatch(/injected failure/);
    expect(ofType(reporter, 'step.failed')).toEqual([expect.objectContaining({ step: expect.objectContaining({ id: 'node.create:dev-worker-2' }) })]);
    expect(ofType(reporter, 'step.started').some((e) => e.step.step.kind.startsWith('kubeadm.'))).toBe(false);
    expect(ofType(reporter, 'summary')[0]).toMatchObject({ ok: false });
    // The run is resumable: fix the fault and apply again.
    const healed = new MemoryDriver();
    for (const [k, v] of driver.nodes) healed.nodes.set(k, v);
    for (const [k, v] of driver.networks) healed.networks.set(k, v);
    for (const [k, v] of driver.volumes) healed.volumes.set(k, v);
    const { plan } = await apply(healed, 3);
    expect(plan.steps.filter((s) => s.step.kind === 'node.create').map((s) => s.id)).toEqual(['node.create:dev-worker-2']);
  });

  it('abort: AbortedError, running driver calls see the signal, nothing new starts', async () => {
    const driver = new MemoryDriver({ delayMs: { createNode: 5_000 } });
    const reporter = new RecordingReporter();
    const ac = new AbortController();
    const run = apply(driver, 6, reporter, { signal: ac.signal, concurrency: 2 });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    ac.abort();
    await expect(run).rejects.toBeInstanceOf(AbortedError);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(driver.nodes.size).toBe(0);
    await new Promise((r) => setTimeout(r, 10));
    expect(driver.inFlight).toBe(0);
    expect(ofType(reporter, 'step.finished').filter((e) => e.outcome === 'aborted').length).toBeGreaterThan(0);
    await expect(apply(driver, 1, reporter, { signal: ac.signal })).rejects.toBeInstanceOf(AbortedError);
  });

  it('resumes a run from a saved snapshot without redoing finished steps', async () => {
    const driver = new MemoryDriver({ delayMs: { createNode: 5_000 } });
    const plan = planCluster(dev(2), await driver.observe('dev'));
    expect(plan.steps[0]?.id).toBe('network.create:dev');
    let saved: PersistedRun | undefined;
    const ac = new AbortController();
    const first = executePlan(plan, { driver, reporter: new RecordingReporter(), signal: ac.signal, onSnapshot: (p) => (saved = JSON.parse(JSON.stringify(p)) as PersistedRun) });
    await new Promise((r) => setTimeout(r, 30));
    expect(saved).toBeDefined();
    // Simulate a crash: the snapshot is what a killed process left; the driver keeps running.
    const crashed = saved!;
    ac.abort();
    await first.catch(() => {});
    const fast = new MemoryDriver();
    for (const [k, v] of driver.networks) fast.networks.set(k, v);
    const result = await executePlan(plan, { driver: fast, reporter: new RecordingReporter(), resume: crashed });
    expect(result.ok).toBe(true);
    expect(fast.calls.createNode).toBe(3);
    // network.create finished in the first run and is not run again (not even its check); each node.create observes once.
    expect(fast.calls.ensureNetwork).toBe(0);
    expect(fast.calls.observe).toBe(3);
  });

  it('a saved run for another plan is ignored: the new plan runs in full', async () => {
    const driver = new MemoryDriver({ delayMs: { createNode: 5_000 } });
    const plan = planCluster(dev(1), await driver.observe('dev'));
    let saved: PersistedRun | undefined;
    const ac = new AbortController();
    const first = executePlan(plan, { driver, reporter: new RecordingReporter(), signal: ac.signal, onSnapshot: (p) => (saved = p) });
    await new Promise((r) => setTimeout(r, 30));
    ac.abort();
    await first.catch(() => {});
    const other = new MemoryDriver();
    const otherPlan = planCluster(dev(2), await other.observe('dev'));
    const result = await executePlan(otherPlan, { driver: other, reporter: new RecordingReporter(), resume: saved! });
    expect(result.ok).toBe(true);
    expect(other.calls.ensureNetwork).toBe(1);
    expect(other.nodes.size).toBe(3);
  });

  it('runWholeCluster delete removes everything; deleting again is a no-op', async () => {
    const driver = new MemoryDriver();
    await apply(driver, 2);
    driver.addOrphanVolume('dev', 'stray');
    await runWholeCluster('delete', 'dev', { driver, reporter: new RecordingReporter() });
    expect(await driver.listClusters()).toEqual([]);
    driver.resetCounters();
    const { plan } = await runWholeCluster('delete', 'dev', { driver, reporter: new RecordingReporter() });
    expect(plan.steps).toEqual([]);
    expect(driver.mutatingCalls).toBe(0);
  });
  it('stop keeps every node (workers stopped before the control plane); stopping again is a no-op; apply starts them', async () => {
    const driver = new MemoryDriver();
    await apply(driver, 2);
    const reporter = new RecordingReporter();
    const { plan, result } = await runWholeCluster('stop', 'dev', { driver, reporter });
    expect(result.ok).toBe(true);
    expect(plan.steps.map((s) => [s.id, s.action, s.dependsOn])).toEqual([
      ['node.stop:dev-worker-1', 'stop', []],
      ['node.stop:dev-worker-2', 'stop', []],
      ['node.stop:dev-control-plane-1', 'stop', ['node.stop:dev-worker-1', 'node.stop:dev-worker-2']],
    ]);
    expect([...driver.nodes.values()].map((n) => n.state)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(driver.volumes.size).toBe(3);
    driver.resetCounters();
    expect((await runWholeCluster('stop', 'dev', { driver, reporter })).plan.steps).toEqual([]);
    expect(driver.mutatingCalls).toBe(0);
    const back = await apply(driver, 2);
    expect(back.plan.steps.map((s) => s.id)).toEqual(['node.start:dev-control-plane-1', 'node.start:dev-worker-1', 'node.start:dev-worker-2']);
    expect([...driver.nodes.values()].every((n) => n.state === 'running')).toBe(true);
  });
});

describe('steps check before they act', () => {
  const ctx = (driver: MemoryDriver) => ({ driver, cluster: 'dev', reporter: new RecordingReporter(), signal: new AbortController().signal });
  const planned = async (driver: MemoryDriver, id: string): Promise<PlannedStep> => {
    const p = planCluster(dev(1), await driver.observe('dev'));
    const s = p.steps.find((x) => x.id === id);
    if (!s) throw new Error(`no ${id}`);
    return s;
  };

  it('node.create on an existing node, node.remove on a gone one: skipped', async () => {
    const driver = new MemoryDriver();
    const create = await planned(driver, 'node.create:dev-worker-1');
    await apply(driver, 1);
    driver.resetCounters();
    expect(await runStep(ctx(driver), create)).toMatchObject({ outcome: 'skipped' });
    const remove: PlannedStep = { ...create, id: 'node.remove:x', step: { kind: 'node.remove', node: 'x', role: 'worker' } };
    expect(await runStep(ctx(driver), remove)).toMatchObject({ outcome: 'skipped' });
    expect(driver.mutatingCalls).toBe(0);
  });

  it('node.create on a node with other settings fails instead of pretending', async () => {
    const driver = new MemoryDriver();
    const create = await planned(driver, 'node.create:dev-worker-1');
    await apply(driver, 1);
    const stale = { ...create, step: { ...create.step, configHash: 'different' } } as PlannedStep;
    await expect(runStep(ctx(driver), stale)).rejects.toThrow(/other settings/);
  });

  it('bootstrap and addon steps need the spec', async () => {
    const driver = new MemoryDriver();
    const create = await planned(driver, 'node.create:dev-control-plane-1');
    await expect(runStep(ctx(driver), { ...create, id: 'addon.apply:x', step: { kind: 'addon.apply', addon: { name: 'x', enabled: true, options: {} } } })).rejects.toThrow(/needs the cluster spec/);
    await expect(runStep(ctx(driver), { ...create, id: 'kubeadm.init:x', step: { kind: 'kubeadm.init', node: 'dev-control-plane-1' } })).rejects.toThrow(/needs the cluster spec/);
  });
});
