// Addons kept in sync by `mk apply` and `mk watch` on a real cluster: one control plane in a Docker
// node container, Kubernetes built from source (test/k8s/), created by mk itself. Addon images cannot
// be pulled here, so pods never run: readiness is bounded (MK_ADDON_WAIT) and reported, not awaited.
// Needs the test-bed binaries, Docker and the node image (test/k8s/node-image.sh); MK_E2E_TIER3=0 skips.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectRef } from '../../src/addons/index.js';
import { autoAddressPool } from '../../src/addons/index.js';
import type { KubeClient, KubeObject } from '../../src/kube/index.js';
import { k8sVersion } from '../k8s/binaries.js';
import { tier3Skip, ensureNodeImage } from '../k8s/cluster.js';
import { Background, buildCli, expectSuccess, mkJson, timingLine, type CliEvent, type JsonRun } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver } from '../helpers/spec.js';
import { eventually } from '../helpers/wait.js';
import { mkClient } from './helpers.js';

const execFileP = promisify(execFile);
const skip = await tier3Skip();

const name = `ad${process.pid % 10000}`;
const timings: string[] = [];

interface AddonsSpec {
  metricsServer: boolean;
  storage: boolean;
  loadBalancer: boolean;
}

function spec(image: string, a: AddonsSpec): string {
  return clusterYaml({
    name,
    kubernetesVersion: k8sVersion(),
    driver: dockerDriver(image),
    nodes: [controlPlanes(1)],
    loadBalancer: { enabled: a.loadBalancer },
    addons: [
      { name: 'metrics-server', enabled: a.metricsServer },
      { name: 'storage', enabled: a.storage },
    ],
  });
}

const ref = (kind: string, namespace: string | undefined, n: string, apiVersion = 'v1'): ObjectRef => ({ apiVersion, kind, name: n, ...(namespace ? { namespace } : {}) });
function urlOf(r: ObjectRef): string {
  const [group, version] = r.apiVersion.includes('/') ? r.apiVersion.split('/') : ['', r.apiVersion];
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const plural = `${r.kind.toLowerCase()}${r.kind.endsWith('s') ? 'es' : 's'}`.replace(/ys$/, 'ies');
  return `${base}${r.namespace ? `/namespaces/${r.namespace}` : ''}/${plural}/${r.name}`;
}

describe.skipIf(skip)(`addons with mk apply and mk watch on a real cluster (${k8sVersion()})`, () => {
  let dir: string;
  let image: string;
  let env: NodeJS.ProcessEnv;
  let specFile: string;
  let watcher: Background | undefined;

  const mk = (args: string[]): Promise<JsonRun> => mkJson(args, env);

  /** Writes the spec and applies it; fails with mk's errors; returns the events. */
  async function apply(label: string, a: AddonsSpec): Promise<{ events: CliEvent[]; steps: CliEvent[]; plan: NonNullable<CliEvent['plan']>; ms: number }> {
    await writeFile(specFile, spec(image, a));
    const r = await mk(['apply', '-f', specFile]);
    expectSuccess(r);
    timings.push(timingLine(label, r));
    return { events: r.events, steps: r.events.filter((e) => e.type === 'step.finished'), plan: r.events.find((e) => e.type === 'plan')!.plan!, ms: r.ms };
  }
  const ids = (steps: CliEvent[]) => steps.map((s) => s.step!.id);

  const client = (): KubeClient => mkClient(env.KUBECONFIG!, name);
  const get = <T = KubeObject>(r: ObjectRef) => client().json<T>('GET', urlOf(r), { allow404: true });
  async function inventory(addon: string): Promise<ObjectRef[] | undefined> {
    const cm = await get<{ data?: { objects?: string } }>(ref('ConfigMap', 'kube-system', `mk-addon-${addon}`));
    return cm ? (JSON.parse(cm.data?.objects ?? '[]') as ObjectRef[]) : undefined;
  }

  beforeAll(async () => {
    image = await ensureNodeImage();
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), 'mk-e2e-addons-'));
    specFile = join(dir, 'cluster.yaml');
    // Images cannot be pulled here: wait 5 s for readiness, then report and go on.
    env = { ...process.env, MK_HOME: join(dir, 'mk-home'), KUBECONFIG: join(dir, 'kubeconfig'), NO_COLOR: '1', MK_ADDON_WAIT: '5' };
  });

  afterAll(async () => {
    watcher?.child.kill('SIGKILL');
    if (!dir) return;
    console.log(`[mk-addons] timings\n  ${timings.join('\n  ')}`);
    if (process.env.MK_K8S_KEEP === '1') {
      console.log(`[mk-addons] kept cluster ${name}; MK_HOME=${env.MK_HOME} KUBECONFIG=${env.KUBECONFIG} node bin/mk.js delete ${name}`);
      return;
    }
    const r = await mk(['delete', name]);
    expect(r.code).toBe(0);
    const { stdout } = await execFileP('docker', ['ps', '-aq', '--filter', `label=mk.dev/cluster=${name}`]);
    expect(stdout.trim()).toBe('');
    await rm(dir, { recursive: true, force: true });
  });

  it('a new cluster with metrics-server, storage and loadBalancer: inventories, labels, metallb pool from the Docker network', async () => {
    const r = await apply('create with 3 addons', { metricsServer: true, storage: true, loadBalancer: true });
    // Independent addons run side by side: compare as sets.
    expect(ids(r.steps).filter((i) => i.startsWith('addon.')).sort()).toEqual(['addon.apply:metallb', 'addon.apply:metrics-server', 'addon.apply:storage']);
    for (const s of r.steps.filter((e) => e.step!.id.startsWith('addon.'))) {
      expect(s.outcome).toBe('done');
      expect(s.detail).toMatch(/^\d+ objects \(\d+ sent\), 0 pruned in [\d.]+ s; (pool [^;]+; )?(ready after|not ready after 5\.0 s)/);
    }
    for (const a of ['metallb', 'metrics-server', 'storage']) {
      const refs = (await inventory(a))!;
      expect(refs.length, a).toBeGreaterThan(3);
      for (const r2 of refs) expect((await get(r2))?.metadata?.labels, `${a}: ${r2.kind} ${r2.name}`).toMatchObject({ 'mk.dev/cluster': name, 'mk.dev/addon': a, 'app.kubernetes.io/managed-by': 'mk' });
    }
    // The pool: the top of the cluster's Docker network, outside the gateway and the node's address.
    const { stdout } = await execFileP('docker', ['network', 'inspect', `mk-${name}`, '--format', '{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}}']);
    const [subnet, gateway] = stdout.trim().split(' ');
    const { stdout: addr } = await execFileP('docker', ['inspect', `${name}-cp-1`, '--format', `{{(index .NetworkSettings.Networks "mk-${name}").IPAddress}}`]);
    const pool = await get<{ spec: { addresses: string[] } }>(ref('IPAddressPool', 'metallb-system', 'mk-pool', 'metallb.io/v1beta1'));
    expect(pool!.spec.addresses).toEqual(autoAddressPool({ subnet: subnet!, gateway: gateway!, used: [addr.trim()] }));
    expect(r.steps.find((s) => s.step!.id === 'addon.apply:metallb')?.detail).toContain(`pool ${pool!.spec.addresses.join(', ')}`);
    // Not ready (no image can be pulled) is reported as a warning, not a failure.
    const warnings = r.events.filter((e) => e.type === 'warning').map((e) => e.message ?? '');
    expect(warnings.filter((w) => / not ready after 5s: /.test(w)).length).toBeGreaterThan(0);
  });

  it('a re-apply plans nothing and moves no resourceVersion of mk-applied objects', async () => {
    const all = (await Promise.all(['metallb', 'metrics-server', 'storage'].map(inventory))).flatMap((x) => x!);
    // Controllers write the status of workloads and APIServices; every other object is mk's alone.
    const stable = [...all.filter((r) => !['Deployment', 'DaemonSet', 'APIService'].includes(r.kind)), ...['metallb', 'metrics-server', 'storage'].map((a) => ref('ConfigMap', 'kube-system', `mk-addon-${a}`))];
    const before = await Promise.all(stable.map(async (r) => (await get(r))?.metadata?.resourceVersion));
    const t = await apply('no-op with 3 addons', { metricsServer: true, storage: true, loadBalancer: true });
    expect(t.plan.steps).toEqual([]);
    expect(t.plan.warnings).toEqual([]);
    expect(t.events.filter((e) => e.type === 'step.started')).toEqual([]);
    expect(await Promise.all(stable.map(async (r) => (await get(r))?.metadata?.resourceVersion))).toEqual(before);
    timings.push(`no-op apply with 3 addons (${all.length} objects checked): ${(t.ms / 1000).toFixed(2)} s`);
  });

  it('an object deleted by hand is restored by the next apply', async () => {
    const sa = ref('ServiceAccount', 'kube-system', 'metrics-server');
    await client().json('DELETE', urlOf(sa));
    const r = await apply('metrics-server ServiceAccount deleted by hand', { metricsServer: true, storage: true, loadBalancer: true });
    expect(r.plan.steps.map((s) => [s.id, s.description, s.reason])).toEqual([['addon.apply:metrics-server', 'repair addon metrics-server', 'drift: ServiceAccount kube-system/metrics-server missing']]);
    expect(r.steps[0]!.detail).toMatch(/\(1 sent\)/);
    expect((await get(sa))?.metadata?.labels?.['mk.dev/addon']).toBe('metrics-server');
  });

  it('mk watch repairs drift on its interval', async () => {
    await writeFile(specFile, spec(image, { metricsServer: true, storage: true, loadBalancer: true }));
    watcher = new Background(['watch', '-f', specFile, '--interval', '5s'], env);
    await watcher.waitFor(/watching /);
    const cm = ref('ConfigMap', 'local-path-storage', 'local-path-config');
    await watcher.waitFor(/in sync|No changes/i).catch(() => undefined);
    const t0 = Date.now();
    await client().json('DELETE', urlOf(cm));
    await eventually('ConfigMap restored by the watcher', async () => ((await get(cm)) ? true : undefined), 90_000, 500);
    timings.push(`watch: ConfigMap deleted by hand restored after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await watcher.waitFor(/drift detected/, 30_000);
    expect(watcher.output).toMatch(/repair addon storage/);
    watcher.child.kill('SIGINT');
    expect((await watcher.exited).code).toBe(0);
    watcher = undefined;
  });

  it('disabling removes exactly the disabled addons: metrics-server first, then storage and the load balancer', async () => {
    // metrics-server goes first: while its APIService is unavailable (its image cannot be pulled here),
    // the namespace controller cannot finish deleting any namespace.
    const metrics = (await inventory('metrics-server'))!;
    const r = await apply('disable metrics-server', { metricsServer: false, storage: true, loadBalancer: true });
    expect(ids(r.steps)).toEqual(['addon.remove:metrics-server']);
    expect(r.steps[0]!.detail).toMatch(new RegExp(`^${metrics.length} objects deleted`));
    expect(await inventory('metrics-server')).toBeUndefined();
    expect(await get(ref('Deployment', 'kube-system', 'metrics-server', 'apps/v1'))).toBeUndefined();
    expect(await get(ref('APIService', undefined, 'v1beta1.metrics.k8s.io', 'apiregistration.k8s.io/v1'))).toBeUndefined();
    expect(await get(ref('Deployment', 'local-path-storage', 'local-path-provisioner', 'apps/v1'))).toBeDefined();
    const two = await apply('no-op with 2 addons', { metricsServer: false, storage: true, loadBalancer: true });
    expect(two.plan.steps).toEqual([]);
    timings.push(`no-op apply with 2 addons: ${(two.ms / 1000).toFixed(2)} s`);

    const storage = (await inventory('storage'))!;
    const r2 = await apply('disable storage and loadBalancer', { metricsServer: false, storage: false, loadBalancer: false });
    expect(ids(r2.steps).sort()).toEqual(['addon.remove:metallb', 'addon.remove:storage']);
    expect(r2.steps.find((s) => s.step!.id === 'addon.remove:storage')?.detail).toMatch(new RegExp(`^${storage.length} objects deleted`));
    expect(await inventory('storage')).toBeUndefined();
    expect(await inventory('metallb')).toBeUndefined();
    await eventually(
      'storage and metallb namespaces gone',
      async () => {
        const left = await Promise.all(['local-path-storage', 'metallb-system'].map((n) => get(ref('Namespace', undefined, n))));
        return left.every((x) => x === undefined) ? true : undefined;
      },
      120_000,
      1000,
    );
    expect(await get(ref('StorageClass', undefined, 'local-path', 'storage.k8s.io/v1'))).toBeUndefined();
    expect(await get(ref('CustomResourceDefinition', undefined, 'ipaddresspools.metallb.io', 'apiextensions.k8s.io/v1'))).toBeUndefined();
    const none = await apply('no-op without addons', { metricsServer: false, storage: false, loadBalancer: false });
    expect(none.plan.steps).toEqual([]);
    timings.push(`no-op apply without addons: ${(none.ms / 1000).toFixed(2)} s`);
  });
});
