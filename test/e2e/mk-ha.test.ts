// High availability on a real cluster made by mk apply (tier 3: Kubernetes built from source in
// Docker nodes): one control plane and a worker, grown in place to three control planes behind mk's
// load balancer with the API polled throughout. The first control
// plane's container is removed by hand (docker rm -f): the API keeps answering through the
// endpoint and the worker keeps working (its kubelet starts a new pod); mk plan names the lost
// etcd member; mk apply restores three etcd members and three Ready control planes. Then the spec
// goes from three control planes to one, with the API polled throughout (the longest gap is
// printed). Needs the test-bed binaries and Docker; MK_E2E_TIER3=0 skips.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMembers, etcdCallArgv } from '../../src/kubeadm/etcd.js';
import { lbName } from '../../src/drivers/load-balancer.js';
import { k8sVersion } from '../k8s/binaries.js';
import { ensureNodeImage, tier3Skip } from '../k8s/cluster.js';
import { buildCli, expectSuccess, mk as runMk, mkJson, timingLine, type JsonRun } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver, workers } from '../helpers/spec.js';
import { eventually } from '../helpers/wait.js';
import { kubeClient, readyNodes } from './helpers.js';

const execFileP = promisify(execFile);
const planSteps = (r: JsonRun) => r.events.find((e) => e.type === 'plan')?.plan?.steps ?? [];
const skip = await tier3Skip();
const name = `ha${process.pid % 10000}`;
const cp = (i: number) => `${name}-cp-${i}`;
const worker = `${name}-w-1`;

/**
 * Asks the API server through the kubeconfig as it is on disk at each call (as kubectl does), every
 * 250 ms, until stopped; the longest time without an answer is the unavailability.
 */
class ApiPoller {
  private stopped = false;
  private lastOk = Date.now();
  longestGapMs = 0;
  failures = 0;
  answers = 0;
  private readonly done: Promise<void>;

  constructor(kubeconfig: string) {
    this.done = (async () => {
      while (!this.stopped) {
        const t = Date.now();
        try {
          await kubeClient(kubeconfig, `mk-${name}`).with({ timeoutMs: 2000, retries: 0 }).json('GET', '/api/v1/namespaces/kube-system');
          this.longestGapMs = Math.max(this.longestGapMs, Date.now() - this.lastOk);
          this.lastOk = Date.now();
          this.answers++;
        } catch {
          this.failures++;
        }
        await sleep(Math.max(0, 250 - (Date.now() - t)));
      }
    })();
  }

  async stop(): Promise<{ longestGapMs: number; text: string }> {
    this.stopped = true;
    await this.done;
    this.longestGapMs = Math.max(this.longestGapMs, Date.now() - this.lastOk);
    return { longestGapMs: this.longestGapMs, text: `longest gap ${(this.longestGapMs / 1000).toFixed(1)} s (${this.answers} answers, ${this.failures} failed or timed out after 2 s)` };
  }
}

describe.skipIf(skip)(`high availability: three control planes behind mk's load balancer (${k8sVersion()})`, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let specFile: string;
  let image: string;
  const timings: string[] = [];
  const mkj = (...args: string[]): Promise<JsonRun> => mkJson(args, env);
  const client = () => kubeClient(env.KUBECONFIG!, `mk-${name}`);
  const writeSpec = (controlPlaneCount: number) =>
    writeFile(specFile, clusterYaml({ name, kubernetesVersion: k8sVersion(), driver: dockerDriver(image), nodes: [controlPlanes(controlPlaneCount), workers(1)] }));
  const etcdMembers = async (via: string): Promise<string[]> => {
    const { stdout } = await execFileP('docker', ['exec', via, ...etcdCallArgv('/v3/cluster/member/list', {})]);
    return parseMembers(stdout).map((m) => m.name);
  };
  const server = async (): Promise<string> => {
    const doc = yaml.load(await readFile(env.KUBECONFIG!, 'utf8')) as { clusters: Array<{ name: string; cluster: { server: string } }> };
    return doc.clusters.find((c) => c.name === `mk-${name}`)!.cluster.server;
  };
  /** Applies the spec with `count` control planes while the API is polled; the longest gap is reported. */
  const applyPolled = async (count: number, change: string): Promise<void> => {
    await writeSpec(count);
    const poller = new ApiPoller(env.KUBECONFIG!);
    const applied = await mkj('apply', '-f', specFile);
    const gap = await poller.stop();
    expectSuccess(applied);
    timings.push(timingLine(`apply: control planes ${change}`, applied));
    timings.push(`API during ${change}: ${gap.text}`);
    expect(gap.longestGapMs).toBeLessThan(15_000);
  };
  const publishedPort = async (container: string): Promise<string> => (await execFileP('docker', ['port', container, '6443/tcp'])).stdout.trim().split('\n')[0]!;

  beforeAll(async () => {
    image = await ensureNodeImage();
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), 'mk-e2e-ha-'));
    specFile = join(dir, 'cluster.yaml');
    env = { ...process.env, MK_HOME: join(dir, 'mk-home'), KUBECONFIG: join(dir, 'kubeconfig'), NO_COLOR: '1' };
  });

  afterAll(async () => {
    if (!dir) return;
    console.log(`[mk-ha] timings\n  ${timings.join('\n  ')}`);
    if (process.env.MK_K8S_KEEP === '1') return;
    expect((await runMk(['delete', name], env)).code).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('one control plane to three in place: the API answers throughout, then the endpoint is the load balancer', async () => {
    await writeSpec(1);
    const first = await mkj('apply', '-f', specFile);
    expectSuccess(first);
    timings.push(timingLine('apply: 1 control plane + 1 worker', first));
    await applyPolled(3, '1 -> 3');
    await readyNodes(client(), [cp(1), cp(2), cp(3), worker], 180_000);
    // The kubeconfig points at the load balancer, which lists the three control planes.
    expect(await server()).toBe(`https://${await publishedPort(lbName(name))}`);
    expect(await etcdMembers(cp(1))).toEqual([cp(1), cp(2), cp(3)]);
    const status = await runMk(['status', name], env);
    expect(status.stdout).toContain(`api endpoint: load balancer ${lbName(name)} (running`);
    expect(status.stdout).toContain(`etcd: 3 members (${cp(1)}, ${cp(2)}, ${cp(3)})`);
  });

  it('the first control plane removed by hand: the API and the worker keep working through the endpoint; plan names the lost member; apply restores three', async () => {
    const poller = new ApiPoller(env.KUBECONFIG!);
    await execFileP('docker', ['rm', '-f', cp(1)]);
    const removedAt = Date.now();
    // The worker's kubelet still reaches the API: it starts a pod bound to it after the loss.
    const pause = (await execFileP('docker', ['exec', worker, 'ctr', '-n', 'k8s.io', 'images', 'ls', '-q'])).stdout.split('\n').find((r) => r.includes('/pause:'))!;
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'after-loss', namespace: 'default' }, spec: { nodeName: worker, containers: [{ name: 'p', image: pause, imagePullPolicy: 'Never' }] } };
    await eventually('the pod created after the loss is Running on the worker', async () => {
      const c = client().with({ timeoutMs: 3000, retries: 0 });
      const got = await c.json<{ status?: { phase?: string } }>('GET', '/api/v1/namespaces/default/pods/after-loss').catch(async () => {
        await c.json('POST', '/api/v1/namespaces/default/pods', { body: pod });
        return undefined;
      });
      return got?.status?.phase === 'Running';
    }, 120_000, 1000);
    timings.push(`pod on the worker Running ${((Date.now() - removedAt) / 1000).toFixed(1)} s after the first control plane was removed`);
    // Polled for 20 s at least: every new connection must find a control plane that answers.
    await sleep(Math.max(0, removedAt + 20_000 - Date.now()));
    const loss = await poller.stop();
    timings.push(`API through the endpoint while ${cp(1)} was lost: ${loss.text}`);
    expect(loss.longestGapMs).toBeLessThan(15_000);

    const plan = await mkj('plan', '-f', specFile);
    const steps = planSteps(plan);
    expect(steps.find((s) => s.id === `etcd.forget:${cp(1)}`)?.reason, plan.output).toMatch(/still etcd member/);
    expect(steps.map((s) => s.id)).toEqual(expect.arrayContaining([`node.create:${cp(1)}`, `kubeadm.join:${cp(1)}`]));

    const repair = await mkj('apply', '-f', specFile);
    expectSuccess(repair);
    timings.push(timingLine(`apply: ${cp(1)} removed from etcd, created and joined again`, repair));
    await readyNodes(client(), [cp(1), cp(2), cp(3), worker], 180_000);
    for (const via of [cp(1), cp(2), cp(3)]) expect(await etcdMembers(via)).toEqual([cp(1), cp(2), cp(3)]);
    const again = await mkj('plan', '-f', specFile);
    expect(planSteps(again).map((s) => s.id), again.output).toEqual([]);
  });

  it('three control planes to one by editing the spec: the API answers throughout; the load balancer goes', async () => {
    await applyPolled(1, '3 -> 1');
    await readyNodes(client(), [cp(1), worker], 120_000);
    expect(await etcdMembers(cp(1))).toEqual([cp(1)]);
    const lb = await execFileP('docker', ['ps', '-a', '--filter', `label=mk.dev/cluster=${name}`, '--filter', 'label=mk.dev/component=load-balancer', '-q']);
    expect(lb.stdout.trim()).toBe('');
    expect(await server()).toBe(`https://${await publishedPort(cp(1))}`);
  });
});
