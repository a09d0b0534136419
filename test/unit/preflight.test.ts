// The host preflight: the pure decision (what kills nodes, what to run about it), the planner that
// refuses with it, and the observe that reads host facts only when a plan brings nodes up.
import { describe, expect, it } from 'vitest';
import { MemoryDriver } from '../../src/drivers/memory.js';
import type { HostFacts, InotifyFacts, ObservedCluster } from '../../src/drivers/types.js';
import { PlanError } from '../../src/errors.js';
import { nodeConfigHash, nodeImage } from '../../src/infrastructure/node-config.js';
import { checkHost, NODE_COST, type NodesUp } from '../../src/infrastructure/preflight.js';
import { planCluster } from '../../src/reconcile/phases.js';
import { observeCluster } from '../../src/reconcile/runner.js';
import { expandNodes } from '../../src/spec/nodes.js';
import type { Cluster } from '../../src/spec/types.js';
import { aCluster, observedOf } from './builders.js';

const GiB = 1024 ** 3;
const inotify = (o: Partial<InotifyFacts> = {}): InotifyFacts => ({
  maxUserInstances: 128,
  maxUserWatches: 8192,
  uid: 0,
  instancesInUse: 0,
  watchesInUse: 0,
  unreadable: 0,
  ...o,
});
const roomy: HostFacts = { inotify: inotify({ maxUserInstances: 512, maxUserWatches: 524_288 }), disk: { path: '/var/lib/docker', freeBytes: 100 * GiB }, engineLacksCapabilities: [], memoryCgroup: true };
const dev = (workers = 2): Cluster => aCluster('dev').withWorkers(workers).build();
const created = (c: Cluster): NodesUp => ({ created: expandNodes(c), started: [], replaced: [] });
const empty = (host?: HostFacts): ObservedCluster => ({ name: 'dev', nodes: [], orphanVolumes: [], ...(host ? { host } : {}) });

/** The PlanError's message of planning `c` against `actual` (fails when the plan is not refused). */
function refusal(c: Cluster, actual: ObservedCluster): string {
  try {
    planCluster(c, actual);
  } catch (err) {
    expect(err).toBeInstanceOf(PlanError);
    return (err as Error).message;
  }
  throw new Error('the plan was not refused');
}

describe('preflight decision', () => {
  it('what one node costs: a kubeadm control plane more than a worker, a node without Kubernetes least', () => {
    const cp = NODE_COST.kubeadm['control-plane'];
    const worker = NODE_COST.kubeadm.worker;
    // Measured: control plane 29 instances / 249 watches, worker 16-17 / 121-122, bootstrap none 7 / 22.
    expect([cp.inotifyInstances, worker.inotifyInstances, NODE_COST.none.inotifyInstances]).toEqual([32, 20, 8]);
    expect(cp.inotifyWatches).toBeGreaterThanOrEqual(249);
    expect(worker.inotifyWatches).toBeGreaterThanOrEqual(121);
    expect(NODE_COST.none.inotifyWatches).toBeGreaterThanOrEqual(22);
  });

  it('room for every node: nothing to say', () => {
    expect(checkHost(dev(), roomy, created(dev()))).toEqual({ problems: [], fixes: [], warnings: [] });
  });

  it('inotify instances: what is held plus what the new nodes need beyond the limit is a problem, with the sysctl lines to run', () => {
    // 100 held + 32 + 2 x 20 = 172 > 128.
    const found = checkHost(dev(), { inotify: inotify({ instancesInUse: 100 }) }, created(dev()));
    expect(found.problems).toEqual([
      "inotify instances: 100 of 128 (fs.inotify.max_user_instances) are held by root's processes, and the 3 nodes (1 control plane, 2 workers) to bring up need about 72 more",
    ]);
    expect(found.fixes).toEqual([
      [
        'raise the inotify limits now (as root):',
        '    sysctl -w fs.inotify.max_user_instances=512',
        '  and keep them after a reboot:',
        "    echo 'fs.inotify.max_user_instances = 512' > /etc/sysctl.d/99-mk-inotify.conf",
      ].join('\n'),
    ]);
  });

  it('exactly at the limit is fine; one more is not', () => {
    // 56 + 72 = 128.
    expect(checkHost(dev(), { inotify: inotify({ instancesInUse: 56 }) }, created(dev())).problems).toEqual([]);
    expect(checkHost(dev(), { inotify: inotify({ instancesInUse: 57 }) }, created(dev())).problems).toHaveLength(1);
  });

  it('both limits short: both lines, and a limit above kind\'s value when the nodes need more than that', () => {
    const big = aCluster('dev').withWorkers(30).build();
    // 32 + 30 x 20 = 632 instances > 512 -> 1024; watches 8000 + 512 + 30 x 256 = 16192 > 8192 -> kind's 524288.
    const found = checkHost(big, { inotify: inotify({ maxUserInstances: 512, watchesInUse: 8000 }) }, created(big));
    expect(found.problems.map((p) => p.split(':')[0])).toEqual(['inotify instances', 'inotify watches']);
    expect(found.fixes[0]).toContain('    sysctl -w fs.inotify.max_user_instances=1024\n    sysctl -w fs.inotify.max_user_watches=524288\n');
    expect(found.fixes[0]).toContain(
      "    echo 'fs.inotify.max_user_instances = 1024' > /etc/sysctl.d/99-mk-inotify.conf\n    echo 'fs.inotify.max_user_watches = 524288' >> /etc/sysctl.d/99-mk-inotify.conf",
    );
  });

  it('nodes without Kubernetes cost less', () => {
    const c = aCluster('dev').withoutKubernetes().withWorkers(2).build();
    // 100 + 3 x 8 = 124 <= 128.
    expect(checkHost(c, { inotify: inotify({ instancesInUse: 100 }) }, created(c)).problems).toEqual([]);
  });

  it("another user's processes that could not be read: a lower bound, and a warning (not a refusal) when the limit is below kind's", () => {
    const found = checkHost(dev(), { inotify: inotify({ instancesInUse: 0, unreadable: 180 }) }, created(dev()));
    expect(found.problems).toEqual([]);
    expect(found.warnings).toEqual([
      "fs.inotify.max_user_instances is 128 (kind asks for 512) and 180 of root's processes could not be read to count what they hold (run mk as root to count); if node containers exit with code 255, raise it: sysctl -w fs.inotify.max_user_instances=512",
      "fs.inotify.max_user_watches is 8192 (kind asks for 524288) and 180 of root's processes could not be read to count what they hold (run mk as root to count); if node containers exit with code 255, raise it: sysctl -w fs.inotify.max_user_watches=524288",
    ]);
    const over = checkHost(dev(), { inotify: inotify({ instancesInUse: 100, unreadable: 1, uid: 1000 }) }, created(dev()));
    expect(over.problems[0]).toMatch(/^inotify instances: at least 100 of 128 \(fs\.inotify\.max_user_instances\) are held by uid 1000's processes/);
  });

  it('started nodes need inotify too; replaced ones do not (the old node goes first)', () => {
    const c = dev();
    const [cp, w1] = expandNodes(c);
    const host = { inotify: inotify({ instancesInUse: 120 }) };
    expect(checkHost(c, host, { created: [], started: [w1!], replaced: [] }).problems).toHaveLength(1);
    expect(checkHost(c, host, { created: [], started: [], replaced: [cp!, w1!] }).problems).toEqual([]);
  });

  it('disk: the new nodes need room where the engine keeps its data; started nodes have theirs', () => {
    const c = dev();
    const host = { disk: { path: '/var/lib/docker', freeBytes: 5 * GiB } };
    expect(checkHost(c, host, created(c)).problems).toEqual([
      'disk: 5.0 GiB free in /var/lib/docker (where the container engine keeps its data), and the 3 nodes (1 control plane, 2 workers) to create need about 6.0 GiB',
    ]);
    expect(checkHost(c, host, { created: [], started: expandNodes(c), replaced: [] }).problems).toEqual([]);
  });

  it('capabilities: privileged nodes on an engine without CAP_SYS_RESOURCE are refused with the way out; unprivileged nodes do not ask for it', () => {
    const host = { engineLacksCapabilities: ['CAP_SYS_RESOURCE'] };
    const privileged = aCluster('dev').withPrivileged(true).build();
    const found = checkHost(privileged, host, created(privileged));
    expect(found.problems).toEqual([
      'capabilities: the container engine lacks CAP_SYS_RESOURCE (not in its capability bounding set), which privileged node containers ask for: they would not start ("unable to apply caps")',
    ]);
    expect(found.fixes[0]).toContain('set privileged: false in spec.driver.docker');
    const unprivileged = aCluster('dev').withPrivileged(false).build();
    expect(checkHost(unprivileged, host, created(unprivileged)).problems).toEqual([]);
    expect(checkHost(unprivileged, { engineLacksCapabilities: ['CAP_SYS_RESOURCE', 'CAP_SYS_ADMIN'] }, created(unprivileged)).problems[0]).toContain('lacks CAP_SYS_ADMIN (');
  });

  it('a replaced node is a new container: capabilities are checked for it', () => {
    const c = aCluster('dev').withPrivileged(true).build();
    expect(checkHost(c, { engineLacksCapabilities: ['CAP_SYS_RESOURCE'] }, { created: [], started: [], replaced: expandNodes(c) }).problems).toHaveLength(1);
  });

  it('no memory cgroup: refused for kubeadm nodes (the kubelet needs it), not for nodes without Kubernetes', () => {
    expect(checkHost(dev(), { memoryCgroup: false }, created(dev())).problems).toEqual(['cgroups: the container engine has no memory cgroup controller, which the kubelet needs']);
    const none = aCluster('dev').withoutKubernetes().build();
    expect(checkHost(none, { memoryCgroup: false }, created(none)).problems).toEqual([]);
  });

  it('facts that could not be read are not problems', () => {
    expect(checkHost(dev(), {}, created(dev())).problems).toEqual([]);
  });
});

describe('the planner and the preflight', () => {
  const tight: HostFacts = { inotify: inotify({ instancesInUse: 120 }), disk: { path: '/var/lib/docker', freeBytes: 1 * GiB } };

  it('a plan that creates nodes beyond the limits is refused: every problem, the sysctl lines, the override', () => {
    expect(refusal(dev(), empty(tight))).toBe(
      [
        'refusing to bring up 3 nodes of cluster dev: this host would kill them (preflight)',
        "  - inotify instances: 120 of 128 (fs.inotify.max_user_instances) are held by root's processes, and the 3 nodes (1 control plane, 2 workers) to bring up need about 72 more",
        '  - disk: 1.0 GiB free in /var/lib/docker (where the container engine keeps its data), and the 3 nodes (1 control plane, 2 workers) to create need about 6.0 GiB',
        'Node containers beyond the inotify limits exit with code 255 and no output right after they start, or their kubelet dies with "inotify_init: too many open files".',
        'To fix:',
        '  raise the inotify limits now (as root):',
        '    sysctl -w fs.inotify.max_user_instances=512',
        '  and keep them after a reboot:',
        "    echo 'fs.inotify.max_user_instances = 512' > /etc/sysctl.d/99-mk-inotify.conf",
        '  free space in /var/lib/docker: "docker system prune" removes stopped containers, unused networks, dangling images and build cache; "mk delete NAME" removes a cluster you no longer need',
        'To bring them up anyway: --skip-preflight (see the README, "Troubleshooting").',
      ].join('\n'),
    );
  });

  it('a cluster that brings no node up is never refused, whatever the host', () => {
    const c = dev();
    const plan = planCluster(c, { ...observedOf(c), host: tight });
    expect(plan.steps).toEqual([]);
    expect(plan.warnings).toEqual([]);
  });

  it('scaling up one worker counts only the new one', () => {
    const c = dev(3);
    const actual = { ...observedOf(dev(2)), host: { inotify: inotify({ instancesInUse: 108 }) } };
    expect(planCluster(c, actual).steps.map((s) => s.id)).toContain('node.create:dev-worker-3');
    expect(refusal(c, { ...actual, host: { inotify: inotify({ instancesInUse: 109 }) } })).toContain('the 1 node (1 worker) to bring up need about 20 more');
  });

  it('a stopped node to start is checked too', () => {
    const c = dev();
    const actual = { ...observedOf(c), host: tight };
    actual.nodes[2]!.state = 'stopped';
    expect(refusal(c, actual)).toMatch(/^refusing to bring up 1 node of cluster dev/);
  });

  it('--skip-preflight: the same plan, each problem a warning', () => {
    const c = dev();
    const plan = planCluster(c, empty(tight), { skipPreflight: true });
    expect(plan.steps.filter((s) => s.step.kind === 'node.create')).toHaveLength(3);
    expect(plan.warnings).toEqual([
      "preflight skipped (--skip-preflight): inotify instances: 120 of 128 (fs.inotify.max_user_instances) are held by root's processes, and the 3 nodes (1 control plane, 2 workers) to bring up need about 72 more",
      'preflight skipped (--skip-preflight): disk: 1.0 GiB free in /var/lib/docker (where the container engine keeps its data), and the 3 nodes (1 control plane, 2 workers) to create need about 6.0 GiB',
    ]);
  });

  it('no host facts (a driver without them, an engine on another machine): no preflight', () => {
    expect(planCluster(dev(), empty()).steps.length).toBeGreaterThan(0);
  });
});

describe('observe reads host facts only when nodes come up', () => {
  const withNodes = async (c: Cluster, host: HostFacts): Promise<MemoryDriver> => {
    const driver = new MemoryDriver({ hostFacts: host });
    await driver.ensureNetwork({ cluster: 'dev' });
    for (const node of expandNodes(c)) await driver.createNode({ node, image: nodeImage(c), configHash: nodeConfigHash(c, node), ...(node.role === 'control-plane' ? { apiServerPort: 0 } : {}) });
    return driver;
  };

  it('a cluster in sync: not read (a no-op apply pays nothing for the preflight)', async () => {
    const c = aCluster('dev').withoutKubernetes().withWorkers(2).build();
    const driver = await withNodes(c, roomy);
    const observed = await observeCluster(driver, c);
    expect(driver.calls.hostFacts).toBe(0);
    expect(observed.host).toBeUndefined();
  });

  it('a new node, a stopped one, a changed one: read once, and given to the planner', async () => {
    const c = aCluster('dev').withoutKubernetes().withWorkers(2).build();
    for (const change of [
      (d: MemoryDriver) => d.removeNode('dev', 'dev-worker-2'),
      (d: MemoryDriver) => d.setState('dev-worker-1', 'stopped'),
      (d: MemoryDriver) => {
        d.nodes.get('dev-worker-1')!.configHash = 'old';
      },
    ]) {
      const driver = await withNodes(c, { inotify: inotify({ instancesInUse: 127 }) });
      await change(driver);
      const observed = await observeCluster(driver, c);
      expect(driver.calls.hostFacts).toBe(1);
      expect(observed.host).toEqual({ inotify: inotify({ instancesInUse: 127 }) });
    }
  });
});
