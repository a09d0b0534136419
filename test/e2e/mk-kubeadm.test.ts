// mk apply bootstraps real Kubernetes (v1.36 built from source, test/k8s/) in Docker node containers:
// 1 control plane -> add 2 workers -> remove 1 -> add a second control plane, each verified through the
// API with the kubeconfig mk wrote, and each followed by a re-apply that must plan nothing. With 3
// nodes and a workload, mk stop and mk start (and, with MK_E2E_ENGINE_RESTART=1, a restart of the
// Docker engine: every container on it stops) must bring the same cluster back.
// Needs the test-bed binaries and Docker (the node image is built by test/k8s/node-image.sh); MK_E2E_TIER3=0 skips.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient, kubeconfigCredentials } from '../../src/kube/index.js';
import type { KubeNode } from '../../src/kubeadm/api.js';
import { k8sVersion } from '../k8s/binaries.js';
import { tier3Skip, ensureNodeImage } from '../k8s/cluster.js';
import { Background, buildCli, expectSuccess, mk as runMk, mkJson, timingLine, type CliEvent, type JsonRun } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver, workers } from '../helpers/spec.js';
import { eventually } from '../helpers/wait.js';
import { mkClient, readyNodes as waitReadyNodes } from './helpers.js';
import { addresses, deployWorkload, engineRestartAllowed, kubeconfigServer, nodeViews, restartEngine, workloadRunning, type NodeView } from './lifecycle.js';

const execFileP = promisify(execFile);
const skip = await tier3Skip();

const name = `k${process.pid % 10000}`;
const timings: string[] = [];

const spec = (image: string, cps: number, workerCount: number): string =>
  clusterYaml({ name, kubernetesVersion: k8sVersion(), driver: dockerDriver(image), nodes: [controlPlanes(cps), workers(workerCount)] });

describe.skipIf(skip)(`mk apply with kubeadm on Docker nodes (${k8sVersion()})`, () => {
  let dir: string;
  let image: string;
  let env: NodeJS.ProcessEnv;
  let specFile: string;

  const mk = (args: string[]): Promise<JsonRun> => mkJson(args, env);

  /** Applies the spec; fails with mk's errors when the run fails; records step timings. */
  async function apply(label: string, cps: number, workerCount: number): Promise<CliEvent[]> {
    await writeFile(specFile, spec(image, cps, workerCount));
    const r = await mk(['apply', '-f', specFile]);
    expectSuccess(r);
    timings.push(timingLine(label, r));
    return r.events.filter((e) => e.type === 'step.finished');
  }

  /** A second apply with nothing changed plans nothing and touches nothing. */
  async function expectNoOp(label: string): Promise<void> {
    const r = await mk(['apply', '-f', specFile]);
    expect(r.code).toBe(0);
    const plan = r.events.find((e) => e.type === 'plan')?.plan;
    expect(plan?.steps.map((s) => s.id)).toEqual([]);
    expect(r.events.filter((e) => e.type === 'step.started')).toEqual([]);
    timings.push(`${label}: no-op apply ${(r.ms / 1000).toFixed(2)} s`);
  }

  const client = (): KubeClient => mkClient(env.KUBECONFIG!, name);

  const readyNodes = (expected: string[]): Promise<KubeNode[]> => waitReadyNodes<KubeNode>(client(), expected);

  async function containers(): Promise<string[]> {
    const { stdout } = await execFileP('docker', ['ps', '-a', '--filter', `label=mk.dev/cluster=${name}`, '--format', '{{.Names}}']);
    return stdout.trim().split('\n').filter(Boolean).sort();
  }

  beforeAll(async () => {
    image = await ensureNodeImage();
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), 'mk-e2e-kubeadm-'));
    specFile = join(dir, 'cluster.yaml');
    // A kubeconfig with someone else's context: mk must leave it alone.
    await writeFile(join(dir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\nclusters: [{name: other, cluster: {server: "https://other.example:6443"}}]\nusers: [{name: other, user: {token: abc}}]\ncontexts: [{name: other, context: {cluster: other, user: other}}]\ncurrent-context: other\n');
    env = { ...process.env, MK_HOME: join(dir, 'mk-home'), KUBECONFIG: join(dir, 'kubeconfig'), NO_COLOR: '1' };
  });

  afterAll(async () => {
    if (!dir) return;
    console.log(`[mk-kubeadm] timings\n  ${timings.join('\n  ')}`);
    if (process.env.MK_K8S_KEEP === '1') {
      console.log(`[mk-kubeadm] kept cluster ${name}; MK_HOME=${env.MK_HOME} KUBECONFIG=${env.KUBECONFIG} node bin/mk.js delete ${name}`);
      return;
    }
    const r = await mk(['delete', name]);
    expect(r.code).toBe(0);
    expect(await containers()).toEqual([]);
    const kc = await readFile(env.KUBECONFIG!, 'utf8');
    expect(kc).not.toContain(`mk-${name}`);
    // The other context is untouched; the current context was mk's, so none is current now.
    expect(kc).toContain('name: other');
    expect(kc).toContain('server: https://other.example:6443');
    expect(kc).not.toContain('current-context');
    await rm(dir, { recursive: true, force: true });
  });

  it('1 control plane: init, CNI, kubeconfig (0600, other contexts kept), Ready, CoreDNS answering', async () => {
    const steps = await apply('1 control plane', 1, 0);
    expect(steps.map((s) => s.step!.id)).toEqual(
      expect.arrayContaining([`kubeadm.init:${name}-cp-1`, `cni.apply:${name}`, `kubeconfig.export:${name}`, `cluster.wait:${name}`]),
    );
    expect(steps.find((s) => s.step!.id === `cluster.wait:${name}`)?.detail).toMatch(/usable \(1 node Ready, CoreDNS answering\)/);
    expect((await stat(env.KUBECONFIG!)).mode & 0o777).toBe(0o600);
    const kcText = await readFile(env.KUBECONFIG!, 'utf8');
    expect(kcText).toContain('name: other');
    expect(kcText).toContain(`current-context: mk-${name}`);
    const [cp] = await readyNodes([`${name}-cp-1`]);
    expect(cp!.metadata.labels?.['mk.dev/cluster']).toBe(name);
    // A single control plane stays schedulable; kubeadm's init token is gone (mk mints one per join).
    const secrets = await client().json<{ items: unknown[] }>('GET', `/api/v1/namespaces/kube-system/secrets?fieldSelector=${encodeURIComponent('type=bootstrap.kubernetes.io/token')}`);
    expect(secrets.items).toEqual([]);
    await expectNoOp('1 control plane');
  });

  it('adds 2 workers: an apply SIGKILLed during the joins converges on the next apply; tokens are deleted', async () => {
    await writeFile(specFile, spec(image, 1, 2));
    // Kill mk once kubeadm join has started writing on a worker (its CA file appears before the sentinel).
    const first = new Background(['-o', 'json', 'apply', '-f', specFile], env);
    await eventually(
      'kubeadm join under way on a worker',
      async () => {
        for (const w of [`${name}-w-1`, `${name}-w-2`]) {
          const r = await execFileP('docker', ['exec', w, 'test', '-e', '/etc/kubernetes/pki/ca.crt']).then(() => true, () => false);
          if (r) return w;
        }
        return undefined;
      },
      240_000,
      300,
    );
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const steps = await apply('+2 workers after a SIGKILL mid-join', 1, 2);
    expect(steps.filter((s) => s.step!.id.startsWith('kubeadm.join:')).map((s) => s.step!.id).sort()).toEqual([`kubeadm.join:${name}-w-1`, `kubeadm.join:${name}-w-2`]);
    await readyNodes([`${name}-cp-1`, `${name}-w-1`, `${name}-w-2`]);
    const secrets = await client().json<{ items: unknown[] }>('GET', `/api/v1/namespaces/kube-system/secrets?fieldSelector=${encodeURIComponent('type=bootstrap.kubernetes.io/token')}`);
    expect(secrets.items).toEqual([]);
    // Pods on different nodes reach each other: CoreDNS answers through the service from every node's pods
    // is covered by cluster.wait; here the routes mk wrote must name the other nodes' podCIDRs.
    const { stdout } = await execFileP('docker', ['exec', `${name}-w-1`, 'ip', 'route', 'show', 'proto', '211']);
    expect(stdout.trim().split('\n')).toHaveLength(2);
    await expectNoOp('+2 workers');
  });

  describe('3 nodes with a workload: stopped, started, through an engine restart', () => {
    const three = () => [`${name}-cp-1`, `${name}-w-1`, `${name}-w-2`];
    let before: Record<string, NodeView>;
    let server: string | undefined;

    it('mk stop: every node stopped and kept (containers, addresses); status says since when', async () => {
      timings.push(`host load before the lifecycle checks: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores)`);
      await deployWorkload(client(), `${name}-cp-1`);
      await workloadRunning(client(), 0);
      before = await nodeViews(three());
      server = await kubeconfigServer(env.KUBECONFIG!, name);
      expect(server).toBe(`https://127.0.0.1:${before[`${name}-cp-1`]!.apiPort}`);
      const r = await mk(['stop', name]);
      expectSuccess(r);
      timings.push(timingLine('mk stop (3 nodes)', r));
      const views = await nodeViews(three());
      expect(Object.values(views).map((v) => v.state)).toEqual(['exited', 'exited', 'exited']);
      expect(addresses(views)).toEqual(addresses(before));
      const status = await runMk(['status', name], env);
      expect(status.code, status.output).toBe(5);
      expect(status.stdout).toMatch(/^ {2}stopped by mk stop at /m);
    });

    it('mk start: every node Ready again, same addresses and API port, the workload running again', async () => {
      const t0 = Date.now();
      const r = await mk(['start', name]);
      expectSuccess(r);
      timings.push(timingLine('mk start (to every node Ready)', r));
      const joins = r.events.filter((e) => e.type === 'step.finished' && e.step!.id.startsWith('kubeadm.join:'));
      expect(joins.map((e) => e.outcome)).toEqual(['skipped', 'skipped', 'skipped']);
      await readyNodes(three());
      const views = await nodeViews(three());
      expect(addresses(views)).toEqual(addresses(before));
      expect(views[`${name}-cp-1`]!.apiPort).toBe(before[`${name}-cp-1`]!.apiPort);
      expect(await kubeconfigServer(env.KUBECONFIG!, name)).toBe(server);
      await workloadRunning(client(), t0);
      timings.push(`mk start to the workload running again: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      await expectNoOp('after mk start');
    });

    it.skipIf(!engineRestartAllowed)('the Docker engine restarts: the nodes come back by themselves, same addresses and port, Ready, the workload running, in sync', async () => {
      const t0 = Date.now();
      const { goneMs, upMs, others } = await restartEngine(name);
      await eventually('every node running again', async () => Object.values(await nodeViews(three())).every((v) => v.state === 'running'), 120_000, 500);
      const views = await nodeViews(three());
      expect(addresses(views)).toEqual(addresses(before));
      expect(views[`${name}-cp-1`]!.apiPort).toBe(before[`${name}-cp-1`]!.apiPort);
      await readyNodes(three());
      const readyMs = Date.now() - t0;
      await workloadRunning(client(), t0);
      timings.push(
        `engine restart: dockerd gone after ${(goneMs / 1000).toFixed(1)} s, answering after ${(upMs / 1000).toFixed(1)} s, ` +
          `every node Ready after ${(readyMs / 1000).toFixed(1)} s, the workload running after ${((Date.now() - t0) / 1000).toFixed(1)} s` +
          ` (at ${new Date(t0).toISOString()}; other containers it stopped: ${others.join(', ') || 'none'})`,
      );
      await expectNoOp('after the engine restart');
    });
  });

  it('removes 1 worker: drained, reset, Node deleted, container and volume gone', async () => {
    const steps = await apply('-1 worker', 1, 1);
    expect(steps.find((s) => s.step!.id === `kubeadm.reset:${name}-w-2`)?.detail).toMatch(/kubeadm reset .*Node object deleted/);
    await readyNodes([`${name}-cp-1`, `${name}-w-1`]);
    expect(await containers()).toEqual([`${name}-cp-1`, `${name}-w-1`]);
    const { stdout } = await execFileP('docker', ['exec', `${name}-w-1`, 'ip', 'route', 'show', 'proto', '211']);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    await expectNoOp('-1 worker');
  });

  it('repairs drift: a worker container removed by hand is recreated and joins again', async () => {
    await execFileP('docker', ['rm', '-f', '-v', `${name}-w-1`]);
    const steps = await apply('worker removed by hand', 1, 1);
    expect(steps.find((s) => s.step!.id === `kubeadm.join:${name}-w-1`)?.detail).toMatch(/replaced a stale Node object/);
    await readyNodes([`${name}-cp-1`, `${name}-w-1`]);
    await expectNoOp('worker removed by hand');
  });

  it('repairs the loss of the only control plane: initialised again, and the worker leaves the old cluster for the new one', async () => {
    await execFileP('docker', ['rm', '-f', '-v', `${name}-cp-1`]);
    const steps = await apply('only control plane removed by hand', 1, 1);
    expect(steps.map((s) => s.step!.id)).toEqual(expect.arrayContaining([`kubeadm.init:${name}-cp-1`, `kubeadm.join:${name}-w-1`]));
    expect(steps.find((s) => s.step!.id === `kubeadm.join:${name}-w-1`)?.detail).toMatch(/after resetting its join to an earlier cluster/);
    await readyNodes([`${name}-cp-1`, `${name}-w-1`]);
    await expectNoOp('only control plane removed by hand');
  });

  it('adds a second control plane (CA material copied, etcd member added); the API answers through both', async () => {
    const steps = await apply('+1 control plane', 2, 1);
    expect(steps.map((s) => s.step!.id)).toContain(`kubeadm.join:${name}-cp-2`);
    await readyNodes([`${name}-cp-1`, `${name}-cp-2`, `${name}-w-1`]);
    const api = client();
    await eventually(
      'kube-apiserver and etcd running on the second control plane',
      async () => {
        const pods = (await api.json<{ items: Array<{ metadata: { name: string }; status?: { phase?: string } }> }>('GET', '/api/v1/namespaces/kube-system/pods')).items;
        const running = (p: string) => pods.some((x) => x.metadata.name === `${p}-${name}-cp-2` && x.status?.phase === 'Running');
        return running('kube-apiserver') && running('etcd') ? true : undefined;
      },
      180_000,
      2000,
    );
    // The second API server serves the cluster too: ask it directly on its own published port.
    const { stdout } = await execFileP('docker', ['port', `${name}-cp-2`, '6443/tcp']);
    const port = stdout.trim().split('\n')[0]!.split(':').pop();
    const direct = new KubeClient(kubeconfigCredentials(await readFile(env.KUBECONFIG!, 'utf8'), { context: `mk-${name}`, server: `https://127.0.0.1:${port}` }));
    const nodes = (await direct.json<{ items: KubeNode[] }>('GET', '/api/v1/nodes')).items;
    expect(nodes).toHaveLength(3);
    await expectNoOp('+1 control plane');
  });
});
