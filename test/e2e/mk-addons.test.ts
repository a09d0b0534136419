// Addons kept in sync by `mk apply` and `mk watch` on a real cluster: one control plane in a Docker
// node container, Kubernetes built from source (test/k8s/), created by mk itself. No registry answers
// here: each addon runs the images `npm run addon-images` built (addons[].images in place of the
// catalog's), which mk loads from the local engine into the node; the addons are proven by what they
// do (node metrics served, a volume written and read back, a request to a LoadBalancer address answered).
// Needs the test-bed binaries, Docker, the node image (test/k8s/node-image.sh) and those addon images
// (npm run addon-images metrics-server metallb-controller metallb-speaker local-path-provisioner busybox);
// MK_E2E_TIER3=0 skips.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { autoAddressPool } from '../../src/addons/index.js';
import { parseAddressRange, parseIPv4 } from '../../src/net.js';
import { k8sVersion } from '../k8s/binaries.js';
import { tier3Skip } from '../k8s/cluster.js';
import { Background, type CliEvent } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver } from '../helpers/spec.js';
import { eventually } from '../helpers/wait.js';
import { localImages, ref, urlOf } from './helpers.js';
import { addonCluster } from './addon-cluster.js';

const execFileP = promisify(execFile);
const skip = await tier3Skip();

const name = `ad${process.pid % 10000}`;

interface AddonsSpec {
  metricsServer: boolean;
  storage: boolean;
  loadBalancer: boolean;
}

/** The image the test's own pods run: the busybox the storage addon's helper pods run, loaded by mk. */
const BUSYBOX = localImages('storage').helper!;

function spec(image: string, a: AddonsSpec): string {
  return clusterYaml({
    name,
    kubernetesVersion: k8sVersion(),
    driver: dockerDriver(image),
    nodes: [controlPlanes(1)],
    loadBalancer: { enabled: a.loadBalancer },
    addons: [
      { name: 'metrics-server', enabled: a.metricsServer, images: localImages('metrics-server') },
      { name: 'storage', enabled: a.storage, images: localImages('storage') },
      // Listed to give its images; enabled exactly when the load balancer is.
      { name: 'metallb', enabled: a.loadBalancer, images: localImages('metallb') },
    ],
  });
}

describe.skipIf(skip)(`addons with mk apply and mk watch on a real cluster (${k8sVersion()})`, () => {
  let watcher: Background | undefined;
  const c = addonCluster(name, 'mk-addons', { before: async () => watcher?.child.kill('SIGKILL') });
  const { timings, client, inventory } = c;
  const get = c.read;
  const apply = (label: string, a: AddonsSpec) => c.apply(label, (image) => spec(image, a));
  const ids = (steps: CliEvent[]) => steps.map((s) => s.step!.id);

  it('a new cluster with metrics-server, storage and loadBalancer from locally built images: loaded before the addons, every addon ready', async () => {
    const r = await apply('create with 3 addons', { metricsServer: true, storage: true, loadBalancer: true });
    // The plan says where each addon image comes from; the load runs before any addon.
    const load = r.plan.steps.find((s) => s.id === `image.load:${name}-cp-1`);
    expect(load?.reason).toBe('new node; for addons metrics-server, storage, metallb');
    for (const a of ['metrics-server', 'storage', 'metallb']) {
      const step = r.plan.steps.find((s) => s.id === `addon.apply:${a}`)!;
      const images = Object.entries(localImages(a)).map(([key, ref]) => `${key} ${ref}`);
      expect(step.reason, a).toContain(`; image${images.length === 1 ? '' : 's'} ${images.join(', ')} from the Docker engine at `);
      expect(step.dependsOn).toContain(`image.load:${name}-cp-1`);
    }
    // Independent addons run side by side: compare as sets.
    expect(ids(r.steps).filter((i) => i.startsWith('addon.')).sort()).toEqual(['addon.apply:metallb', 'addon.apply:metrics-server', 'addon.apply:storage']);
    for (const s of r.steps.filter((e) => e.step!.id.startsWith('addon.'))) {
      expect(s.outcome).toBe('done');
      expect(s.detail).toMatch(/^\d+ objects \(\d+ sent\), 0 pruned in [\d.]+ s; (pool [^;]+; )?ready after/);
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
    expect(r.events.filter((e) => e.type === 'warning').map((e) => e.message)).toEqual([]);
  });

  it('the addons do their jobs: node metrics served, a volume written and read back, a request to a LoadBalancer address answered', async () => {
    const t0 = Date.now();
    // metrics-server: the Metrics API answers with the node's usage once it has scraped the kubelet.
    const usage = await eventually(
      'node metrics from metrics-server',
      async () => (await client().json<{ items: { metadata: { name: string }; usage: { cpu: string; memory: string } }[] }>('GET', '/apis/metrics.k8s.io/v1beta1/nodes').catch(() => undefined))?.items.find((i) => i.metadata.name === `${name}-cp-1`)?.usage,
      120_000,
      2000,
    );
    expect(usage.memory).toMatch(/^\d+Ki$/);
    timings.push(`metrics API answered ${((Date.now() - t0) / 1000).toFixed(1)} s after the apply`);

    // storage: a claim bound by local-path-provisioner (its helper pod makes the directory), written by one pod, read by another.
    const ns = 'default';
    const pod = (podName: string, command: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: podName, namespace: ns },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'c', image: BUSYBOX, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', command], volumeMounts: [{ name: 'v', mountPath: '/data' }] }],
        volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'mk-e2e' } }],
      },
    });
    const t1 = Date.now();
    await client().json('POST', `/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
      body: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'mk-e2e' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'local-path', resources: { requests: { storage: '16Mi' } } } },
    });
    const written = `written at ${new Date().toISOString()}`;
    await client().json('POST', `/api/v1/namespaces/${ns}/pods`, { body: pod('mk-e2e-writer', `echo '${written}' > /data/proof`) });
    const phase = (p: string) => async () => {
      const s = (await client().json<{ status?: { phase?: string } }>('GET', `/api/v1/namespaces/${ns}/pods/${p}`)).status?.phase;
      if (s === 'Failed') throw new Error(`pod ${p} failed`);
      return s === 'Succeeded' ? true : undefined;
    };
    await eventually('the writer pod done', phase('mk-e2e-writer'), 120_000, 1000);
    await client().json('POST', `/api/v1/namespaces/${ns}/pods`, { body: pod('mk-e2e-reader', 'cat /data/proof') });
    await eventually('the reader pod done', phase('mk-e2e-reader'), 60_000, 1000);
    expect((await client().request('GET', `/api/v1/namespaces/${ns}/pods/mk-e2e-reader/log`)).body.trim()).toBe(written);
    timings.push(`volume bound, written and read back in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    for (const p of ['mk-e2e-writer', 'mk-e2e-reader']) await client().json('DELETE', `/api/v1/namespaces/${ns}/pods/${p}`);
    await client().json('DELETE', `/api/v1/namespaces/${ns}/persistentvolumeclaims/mk-e2e`);

    // metallb: a LoadBalancer Service gets an address from mk's pool, announced on the Docker network:
    // a request from this host to that address is answered by the pod behind it.
    const pool = (await get<{ spec: { addresses: string[] } }>(ref('IPAddressPool', 'metallb-system', 'mk-pool', 'metallb.io/v1beta1')))!.spec.addresses;
    const t2 = Date.now();
    const served = `served by mk-e2e-web at ${new Date().toISOString()}`;
    await client().json('POST', `/api/v1/namespaces/${ns}/pods`, {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'mk-e2e-web', labels: { app: 'mk-e2e-web' } },
        spec: { containers: [{ name: 'c', image: BUSYBOX, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', `mkdir -p /w && echo '${served}' > /w/index.html && exec httpd -f -p 8080 -h /w`] }] },
      },
    });
    await client().json('POST', `/api/v1/namespaces/${ns}/services`, {
      body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'mk-e2e-lb' }, spec: { type: 'LoadBalancer', selector: { app: 'mk-e2e-web' }, ports: [{ port: 80, targetPort: 8080 }] } },
    });
    const ip = await eventually(
      'a LoadBalancer address from metallb',
      async () => (await client().json<{ status?: { loadBalancer?: { ingress?: { ip?: string }[] } } }>('GET', `/api/v1/namespaces/${ns}/services/mk-e2e-lb`)).status?.loadBalancer?.ingress?.[0]?.ip,
      60_000,
      1000,
    );
    const inPool = pool.some((p) => {
      const r = parseAddressRange(p);
      const n = parseIPv4(ip);
      return r.ok && n !== undefined && n >= r.range.start && n <= r.range.end;
    });
    expect(inPool, `${ip} in ${pool.join(', ')}`).toBe(true);
    const body = await eventually(
      `an answer from http://${ip}/`,
      async () => {
        const res = await fetch(`http://${ip}/`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        return res?.ok ? (await res.text()).trim() : undefined;
      },
      90_000,
      1000,
    );
    expect(body).toBe(served);
    timings.push(`LoadBalancer ${ip} (pool ${pool.join(', ')}) answered from the host ${((Date.now() - t2) / 1000).toFixed(1)} s after the Service was created`);
    await client().json('DELETE', `/api/v1/namespaces/${ns}/services/mk-e2e-lb`);
    await client().json('DELETE', `/api/v1/namespaces/${ns}/pods/mk-e2e-web`);
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
    await c.writeSpec((image) => spec(image, { metricsServer: true, storage: true, loadBalancer: true }));
    watcher = new Background(['watch', '-f', c.specFile(), '--interval', '5s'], c.env());
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
    // metrics-server goes first: once it is gone, its APIService is unavailable until it is deleted too.
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
