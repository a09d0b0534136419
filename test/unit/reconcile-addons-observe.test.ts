// The runner's observe and the addons: when they are read, and what planning gets when they cannot be.
// In memory only: no API server is reached here (see test/e2e/mk-addons-fake-access.test.ts for that).
import { describe, expect, it } from 'vitest';
import { MemoryDriver } from '../../src/drivers/memory.js';
import { isNodeFacts, nodeFacts } from '../helpers/node-facts.js';
import { planCluster, resolveDesired } from '../../src/reconcile/phases.js';
import { observeCluster } from '../../src/reconcile/runner.js';
import { expandNodes } from '../../src/spec/nodes.js';
import type { Cluster } from '../../src/spec/types.js';
import { nodeConfigHash, nodeImage } from '../../src/infrastructure/node-config.js';
import { aCluster } from './builders.js';

const cluster = (): Cluster => aCluster('dev').withAddon('metrics-server').build();

/** A driver holding the cluster's nodes; `sentinel` decides whether kubeadm finished on them. */
async function driverWith(c: Cluster, opts: { sentinel: boolean; adminConf?: boolean }): Promise<MemoryDriver> {
  const driver = new MemoryDriver({
    onExec: (_node, argv) => {
      if (isNodeFacts(argv)) return nodeFacts(opts.sentinel ? JSON.stringify({ cluster: 'dev', role: 'control-plane', at: '', kubernetesVersion: 'v1.31.0' }) : undefined);
      if (argv[1] === '/etc/kubernetes/admin.conf' && opts.adminConf) return { stdout: 'not: a kubeconfig', stderr: '', exitCode: 0 };
      return { stdout: '', stderr: 'No such file or directory', exitCode: 1 };
    },
  });
  await driver.ensureNetwork({ cluster: 'dev', subnet: '172.30.9.0/24' });
  for (const node of expandNodes(c)) await driver.createNode({ node, image: nodeImage(c), configHash: nodeConfigHash(c, node), ...(node.role === 'control-plane' ? { apiServerPort: 0 } : {}) });
  return driver;
}

describe('observe and addons', () => {
  it('a new cluster (kubeadm not finished anywhere): addons are not read, and all are planned after the bootstrap', async () => {
    const c = cluster();
    const driver = await driverWith(c, { sentinel: false });
    const observed = await observeCluster(driver, c);
    expect(observed.addons).toBeUndefined();
    // Per running node: one exec for the images its runtime holds (metrics-server's image is kept on
    // the nodes), one for kubeadm's sentinel, kubelet and CNI config at once; no admin.conf read.
    expect(driver.execs.map((e) => (isNodeFacts(e.argv) ? 'facts' : e.argv.join(' ')))).toEqual(['ctr -n k8s.io images ls', 'facts']);
    expect(planCluster(c, observed).steps.map((s) => s.id)).toContain('addon.apply:metrics-server');
  });

  it('bootstrap: none never reads addons', async () => {
    const c = aCluster('dev').withoutKubernetes().withAddon('metrics-server').build();
    const driver = await driverWith(c, { sentinel: true });
    expect((await observeCluster(driver, c)).addons).toBeUndefined();
    expect(driver.execs).toEqual([]);
  });

  it('no control plane running: a warning, no addon changes, nodes still planned', async () => {
    const c = cluster();
    const driver = await driverWith(c, { sentinel: true });
    driver.setState('dev-control-plane-1', 'stopped');
    const observed = await observeCluster(driver, c);
    expect(observed.addons).toEqual({ installed: [], error: 'no control plane of cluster dev is running, so its addons cannot be read' });
    const plan = planCluster(c, observed);
    expect(plan.steps.map((s) => s.id)).toEqual(['node.start:dev-control-plane-1', 'kubeadm.join:dev-control-plane-1', 'cni.apply:dev', 'kubeconfig.export:dev', 'cluster.wait:dev']);
    expect(plan.warnings).toEqual(['no control plane of cluster dev is running, so its addons cannot be read; addons are left as they are this run']);
  });

  it('no admin access through any control plane: the addons are reported unreadable, and nothing is rendered for them', async () => {
    const c = cluster();
    const driver = await driverWith(c, { sentinel: true });
    const observed = await observeCluster(driver, c);
    expect(observed.addons?.error).toBe('the API server of cluster dev could not be asked about addons: no running control plane of cluster dev gives admin access');
    expect(await resolveDesired(c, observed)).toEqual({});
    expect(planCluster(c, observed).warnings).toEqual([`${observed.addons!.error}; addons are left as they are this run`]);
  });


  it('an admin.conf that is not a kubeconfig is an error of the addons observation, not of planning', async () => {
    const c = cluster();
    const driver = await driverWith(c, { sentinel: true, adminConf: true });
    const observed = await observeCluster(driver, c);
    expect(observed.addons?.error).toMatch(/^the API server of cluster dev could not be asked about addons: /);
  });
});

describe('observe: which cluster each node joined', () => {
  const sentinelOf = (caCertHash?: string) => JSON.stringify({ cluster: 'dev', role: 'worker', at: '', kubernetesVersion: 'v1.31.0', ...(caCertHash ? { caCertHash } : {}) });
  async function observedWith(cas: Record<string, string | undefined>) {
    const c = aCluster('dev').withWorkers(2).build();
    const driver = new MemoryDriver({
      onExec: (node, argv) => (isNodeFacts(argv) ? nodeFacts(node in cas ? sentinelOf(cas[node]) : undefined) : { stdout: '', stderr: 'No such file or directory', exitCode: 1 }),
    });
    await driver.ensureNetwork({ cluster: 'dev', subnet: '172.30.9.0/24' });
    for (const node of expandNodes(c)) await driver.createNode({ node, image: nodeImage(c), configHash: nodeConfigHash(c, node), ...(node.role === 'control-plane' ? { apiServerPort: 0 } : {}) });
    const observed = await observeCluster(driver, c);
    return Object.fromEntries(observed.nodes.map((n) => [n.name, n.kubeadm]));
  }

  it('a node set up with another CA than the first control plane\'s is stale; one without a recorded CA (older mk) counts as joined', async () => {
    expect(await observedWith({ 'dev-control-plane-1': 'sha256:new', 'dev-worker-1': 'sha256:old', 'dev-worker-2': undefined })).toEqual({
      'dev-control-plane-1': 'done',
      'dev-worker-1': 'stale',
      'dev-worker-2': 'done',
    });
  });

  it('no finished control plane: nothing is called stale', async () => {
    expect(await observedWith({ 'dev-worker-1': 'sha256:old' })).toEqual({ 'dev-control-plane-1': 'none', 'dev-worker-1': 'done', 'dev-worker-2': 'none' });
  });
});
