// Health of a joined cluster: what observe reads of each node, what the plan does about it (repair
// or report), and the kubelet repair step against a fake node (the memory driver: no real systemd here).
import { describe, expect, it } from 'vitest';
import { MemoryDriver } from '../../src/drivers/memory.js';
import type { ExecResult, NodeHealth, ObservedCluster } from '../../src/drivers/types.js';
import { nodeConfigHash, nodeImage } from '../../src/infrastructure/node-config.js';
import { runningNode, type BootstrapContext } from '../../src/kubeadm/context.js';
import { podReason } from '../../src/kube/pods.js';
import { WaitingError } from '../../src/errors.js';
import { BootstrapError } from '../../src/kubeadm/errors.js';
import { observeBootstrap, parseNodeFacts } from '../../src/kubeadm/observe.js';
import { restartKubelet } from '../../src/kubeadm/repair.js';
import { RecordingReporter } from '../../src/log.js';
import { formatPlan } from '../../src/output/plan-text.js';
import { inSync } from '../../src/plan.js';
import { planCluster } from '../../src/reconcile/phases.js';
import { expandNodes } from '../../src/spec/nodes.js';
import type { Cluster } from '../../src/spec/types.js';
import { isNodeFacts, nodeFacts } from '../helpers/node-facts.js';
import { aCluster, observedOf } from './builders.js';

const dev = aCluster('dev').withWorkers(2).build();
const SENTINEL_JSON = JSON.stringify({ cluster: 'dev', role: 'worker', at: '', kubernetesVersion: 'v1.31.0' });
const ready = { status: 'True' } as const;

/** A joined cluster (kubeconfig in place) whose nodes have this health (the rest healthy). */
function joined(health: Record<string, Partial<NodeHealth>> = {}): ObservedCluster {
  const o = observedOf(dev);
  return {
    ...o,
    kubeconfig: 'ok',
    nodes: o.nodes.map((n) => ({ ...n, kubeadm: 'done', health: { kubelet: 'active', cniConfig: true, ready, ...health[n.name] } })),
  };
}
const ids = (o: ObservedCluster) => planCluster(dev, o).steps.map((s) => s.id);

describe('node facts', () => {
  it('parses the sentinel, the kubelet state, the CNI config and the node network from one exec', () => {
    expect(parseNodeFacts(nodeFacts(SENTINEL_JSON, { kubelet: 'failed', cniConfig: false }).stdout)).toEqual({ sentinel: JSON.parse(SENTINEL_JSON), kubelet: 'failed', cniConfig: false, nodeNetwork: true });
    expect(parseNodeFacts(nodeFacts(undefined, { nodeNetwork: false }).stdout)).toEqual({ kubelet: 'active', cniConfig: true, nodeNetwork: false });
    // A sentinel cut short (a disk filled up) is no sentinel; output that is not the script's says nothing.
    expect(parseNodeFacts('{"cluster":\n--mk--\nactive\n--mk--\nyes\n').sentinel).toBeUndefined();
    expect(parseNodeFacts('')).toEqual({ kubelet: '', cniConfig: false, nodeNetwork: false });
  });

  it('observe records each joined node\'s health; without an API server, Ready stays unknown', async () => {
    const state: Record<string, ExecResult> = { 'dev-worker-1': nodeFacts(SENTINEL_JSON, { kubelet: 'inactive' }), 'dev-worker-2': nodeFacts(SENTINEL_JSON, { cniConfig: false }) };
    const driver = new MemoryDriver({ onExec: (node, argv) => (isNodeFacts(argv) ? (state[node] ?? nodeFacts(SENTINEL_JSON)) : { stdout: '', stderr: 'no', exitCode: 1 }) });
    await driver.ensureNetwork({ cluster: 'dev', subnet: '172.30.9.0/24' });
    for (const node of expandNodes(dev)) await driver.createNode({ node, image: nodeImage(dev), configHash: nodeConfigHash(dev, node), ...(node.role === 'control-plane' ? { apiServerPort: 0 } : {}) });
    const observed = await observeBootstrap(driver, dev, await driver.observe('dev'));
    expect(Object.fromEntries(observed.nodes.map((n) => [n.name, n.health]))).toEqual({
      'dev-control-plane-1': { kubelet: 'active', cniConfig: true, nodeNetwork: true },
      'dev-worker-1': { kubelet: 'inactive', cniConfig: true, nodeNetwork: true },
      'dev-worker-2': { kubelet: 'active', cniConfig: false, nodeNetwork: true },
    });
  });
});

describe('health in the plan', () => {
  it('a healthy joined cluster is in sync', () => {
    expect(inSync(planCluster(dev, joined()))).toBe(true);
  });

  it('a kubelet that does not run is restarted, then the cluster is awaited', () => {
    const o = joined({ 'dev-worker-1': { kubelet: 'inactive', ready: { status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' } } });
    const plan = planCluster(dev, o);
    expect(plan.steps.map((s) => s.id)).toEqual(['kubelet.restart:dev-worker-1', 'cluster.wait:dev']);
    expect(plan.steps[0]).toMatchObject({ action: 'change', description: 'restart the kubelet on dev-worker-1', reason: 'kubelet is inactive; node NotReady: Kubelet stopped posting node status.' });
    expect(plan.steps[1]!.dependsOn).toContain('kubelet.restart:dev-worker-1');
  });

  it('a node without mk\'s CNI config gets the cluster network again, named in the reason', () => {
    const plan = planCluster(dev, joined({ 'dev-worker-1': { cniConfig: false, ready: { status: 'False', reason: 'KubeletNotReady', message: 'container runtime network not ready: cni plugin not initialized' } } }));
    expect(plan.steps.map((s) => s.id)).toEqual(['cni.apply:dev', 'cluster.wait:dev']);
    expect(formatPlan(plan)).toContain('  ~ cluster network: API endpoint name, mk CNI  (repair: no mk CNI config on dev-worker-1; node NotReady: container runtime network not ready: cni plugin not initialized)');
  });

  it('a node that would lose the API endpoint name at its next boot (or has) gets the cluster network again', () => {
    // A run killed between writing mk's boot unit and enabling it; the engine then restarted the node.
    const plan = planCluster(dev, joined({ 'dev-worker-2': { nodeNetwork: false, ready: { status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' } } }));
    expect(plan.steps.map((s) => s.id)).toEqual(['cni.apply:dev', 'cluster.wait:dev']);
    expect(plan.steps[0]!.reason).toBe("repair: mk's node network incomplete (API endpoint name, restored at boot) on dev-worker-2; node NotReady: Kubelet stopped posting node status.");
  });

  it('a node NotReady for a reason no step repairs is a problem: nothing planned, not in sync, and said why', () => {
    const plan = planCluster(dev, joined({ 'dev-worker-2': { ready: { status: 'False', reason: 'KubeletNotReady', message: 'PLEG is not healthy' } } }));
    expect(plan.steps).toEqual([]);
    expect(inSync(plan)).toBe(false);
    expect(plan.problems).toEqual(['node dev-worker-2 is NotReady (PLEG is not healthy), though its kubelet runs; its kubelet journal says why (journalctl -u kubelet on the node)']);
    expect(formatPlan(plan).split('\n').at(-1)).toBe('No changes planned for cluster "dev", but it is not healthy (the problems above are not for mk to repair).');
  });

  it('health not checked (no API server, older observations) plans nothing; a node joined again is not also repaired', () => {
    expect(ids({ ...observedOf(dev), kubeconfig: 'ok', nodes: observedOf(dev).nodes.map((n) => ({ ...n, kubeadm: 'done' })) })).toEqual([]);
    const o = joined({ 'dev-worker-1': { kubelet: 'inactive' } });
    o.nodes = o.nodes.map((n) => (n.name === 'dev-worker-1' ? { ...n, kubeadm: 'none' } : n));
    expect(ids(o)).toEqual(['kubeadm.join:dev-worker-1', 'cni.apply:dev', 'cluster.wait:dev']);
  });
});

describe('kubelet.restart on a node', () => {
  /** A node whose `systemctl is-active kubelet` answers these states in turn (the last repeats). */
  function nodeWithKubelet(cluster: Cluster, states: string[]) {
    const calls: string[][] = [];
    const driver = new MemoryDriver({
      onExec: (_node, argv) => {
        calls.push([...argv]);
        if (argv.join(' ') === 'systemctl is-active kubelet') return { stdout: `${states.length > 1 ? states.shift() : states[0]}\n`, stderr: '', exitCode: 0 };
        if (argv[0] === 'journalctl') return { stdout: 'E1206 kubelet.go:1 "Failed to start" err="inotify_init: too many open files"\n', stderr: '', exitCode: 0 };
        return { stdout: '', stderr: '', exitCode: 0 };
      },
    });
    const ctx = async (): Promise<BootstrapContext> => {
      await driver.ensureNetwork({ cluster: 'dev', subnet: '172.30.9.0/24' });
      for (const node of expandNodes(cluster)) await driver.createNode({ node, image: nodeImage(cluster), configHash: nodeConfigHash(cluster, node) });
      return { driver, cluster, reporter: new RecordingReporter(), signal: new AbortController().signal, startedAt: Date.now(), switchContext: false, admin: new Map() };
    };
    return { calls, ctx };
  }
  const one = aCluster('dev').withWorkers(1).build();

  it('restarts a stopped kubelet and waits until it stays active', async () => {
    const n = nodeWithKubelet(one, ['inactive', 'activating', 'active']);
    const r = await restartKubelet(await n.ctx(), 'dev-worker-1', { steadyMs: 600, startMs: 5000 });
    expect(r.outcome).toBe('done');
    expect(r.detail).toMatch(/^kubelet was inactive; active again after \d+\.\d s$/);
    expect(n.calls).toContainEqual(['systemctl', 'restart', 'kubelet']);
  });

  it('a kubelet that will not stay up fails the step at once, with the end of its journal', async () => {
    const n = nodeWithKubelet(one, ['failed', 'activating', 'failed']);
    const t0 = Date.now();
    const err = await restartKubelet(await n.ctx(), 'dev-worker-1', { steadyMs: 600, startMs: 20_000 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(err).toBeInstanceOf(BootstrapError);
    expect((err as Error).message).toMatch(/^the kubelet on dev-worker-1 does not stay up after a restart \(failed after \d+\.\d s\); its journal ends:\n.*inotify_init: too many open files/);
  });

  it('an active kubelet is left alone', async () => {
    const n = nodeWithKubelet(one, ['active']);
    expect(await restartKubelet(await n.ctx(), 'dev-worker-1')).toEqual({ outcome: 'skipped', detail: 'kubelet is active' });
    expect(n.calls).not.toContainEqual(['systemctl', 'restart', 'kubelet']);
  });
});

describe('a node a step needs', () => {
  const one = aCluster('dev').withWorkers(1).build();
  async function ctxWith(state: 'stopped' | 'unreachable', detail?: string): Promise<BootstrapContext> {
    const driver = new MemoryDriver();
    await driver.ensureNetwork({ cluster: 'dev', subnet: '172.30.9.0/24' });
    for (const node of expandNodes(one)) await driver.createNode({ node, image: nodeImage(one), configHash: nodeConfigHash(one, node) });
    driver.setState('dev-worker-1', state);
    if (detail) {
      const observe = driver.observe.bind(driver);
      driver.observe = async (c, s) => {
        const o = await observe(c, s);
        return { ...o, nodes: o.nodes.map((n) => (n.name === 'dev-worker-1' ? { ...n, detail } : n)) };
      };
    }
    return { driver, cluster: one, reporter: new RecordingReporter(), signal: new AbortController().signal, startedAt: Date.now(), switchContext: false, admin: new Map() };
  }

  it('that exited after it started fails the step at once, with how it ended and the likely cause', async () => {
    const err = await runningNode(await ctxWith('stopped', 'Exited (255) 2 seconds ago'), 'dev-worker-1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BootstrapError);
    expect((err as Error).message).toBe(
      'node dev-worker-1 is stopped (Exited (255) 2 seconds ago) though it was started for this step; a node container that exits right after it starts (often with code 255 and no output) is usually out of inotify instances on this host (README, Troubleshooting)',
    );
  });

  it('that does not answer makes the step wait', async () => {
    expect(await runningNode(await ctxWith('unreachable'), 'dev-worker-1').catch((e: unknown) => e)).toBeInstanceOf(WaitingError);
  });
});

describe('why a pod is not ready, now', () => {
  it('a container\'s waiting reason, else why it is not scheduled', () => {
    expect(podReason({ metadata: { name: 'p', namespace: 'kube-system' }, status: { containerStatuses: [{ name: 'c', state: { waiting: { reason: 'ErrImagePull', message: 'no registry' } } }] } })).toBe(' (ErrImagePull: no registry)');
    expect(
      podReason({ metadata: { name: 'p', namespace: 'kube-system' }, status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available: 2 node(s) had untolerated taint' }] } }),
    ).toBe(' (Unschedulable: 0/2 nodes are available: 2 node(s) had untolerated taint)');
    expect(podReason({ metadata: { name: 'p', namespace: 'kube-system' }, status: { phase: 'Pending' } })).toBe('');
  });
});
