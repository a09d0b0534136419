// The registry addon proven by what it does, on a real cluster made by `mk apply`: one control plane
// in a Docker node container, Kubernetes built from source (test/k8s/), MetalLB for the LoadBalancer.
// The registry runs distribution v3 from the image `npm run addon-images registry` builds
// (addons[].images). With `mk tunnel` running, an image made here is pushed from the host as
// localhost:5000/NAME:TAG, and a pod naming that same reference (imagePullPolicy Always) pulls it
// through the hosts.toml the addon writes on the node and prints the token baked into it. Then the
// KEP-1755 ConfigMap, a no-op re-apply, and disabling removes exactly the registry's objects (and the
// node's hosts.toml). Needs the test-bed binaries, Docker, the node image (test/k8s/node-image.sh),
// host port 5000 free and the addon images (npm run addon-images registry metallb-controller
// metallb-speaker busybox); MK_E2E_TIER3=0 skips.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { k8sVersion } from '../k8s/binaries.js';
import { tier3Skip } from '../k8s/cluster.js';
import { Background } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver } from '../helpers/spec.js';
import { eventually } from '../helpers/wait.js';
import { localImages, ref, urlOf } from './helpers.js';
import { addonCluster } from './addon-cluster.js';

const execFileP = promisify(execFile);
const docker = async (...args: string[]): Promise<string> => (await execFileP('docker', args, { maxBuffer: 16 << 20 })).stdout.trim();
const skip = await tier3Skip();

const name = `reg${process.pid % 10000}`;
const node = `${name}-cp-1`;
const BUSYBOX = localImages('storage').helper!;
const token = `mk-registry-${randomBytes(6).toString('hex')}`;
/** The name the README documents: the same on the host and in a pod spec. */
const pushed = `localhost:5000/mk-e2e/hello:${token}`;

function spec(image: string, registry: boolean): string {
  return clusterYaml({
    name,
    kubernetesVersion: k8sVersion(),
    driver: dockerDriver(image),
    nodes: [controlPlanes(1)],
    loadBalancer: { enabled: true },
    addons: [
      { name: 'registry', enabled: registry, images: localImages('registry') },
      { name: 'metallb', images: localImages('metallb') },
    ],
  });
}

describe.skipIf(skip)(`the registry addon with mk apply on a real cluster (${k8sVersion()})`, () => {
  let tunnel: Background | undefined;
  const c = addonCluster(name, 'mk-registry', {
    before: async () => {
      if (tunnel) {
        tunnel.child.kill('SIGINT');
        await tunnel.exited;
      }
      await docker('rmi', pushed).catch(() => '');
    },
  });
  const { timings, client, read, inventory } = c;
  const apply = (label: string, registry: boolean) => c.apply(label, (image) => spec(image, registry));
  const hostsToml = () => docker('exec', node, 'cat', '/etc/containerd/certs.d/localhost:5000/hosts.toml').catch(() => undefined);

  it('a new cluster with the registry: ready, its Service a LoadBalancer on port 5000, the node told where localhost:5000 is, the KEP-1755 ConfigMap', async () => {
    const r = await apply('create with the registry and the load balancer', true);
    const s = r.steps.find((e) => e.step!.id === 'addon.apply:registry');
    expect(s?.outcome).toBe('done');
    expect(s?.detail).toMatch(/ready after [\d.]+ s/);
    expect(r.events.filter((e) => e.type === 'warning').map((e) => e.message)).toEqual([]);
    for (const o of (await inventory('registry'))!) expect((await read(o))?.metadata?.labels, `${o.kind} ${o.name}`).toMatchObject({ 'mk.dev/cluster': name, 'mk.dev/addon': 'registry' });

    const svc = (await read<{ spec: { type: string; clusterIP: string; ports: { port: number }[] } }>(ref('Service', 'kube-system', 'registry')))!.spec;
    expect([svc.type, svc.ports.map((p) => p.port)]).toEqual(['LoadBalancer', [5000]]);
    expect(await hostsToml()).toBe(`server = "http://${svc.clusterIP}:5000"\n\n[host."http://${svc.clusterIP}:5000"]\n  capabilities = ["pull", "resolve"]`);
    const hosting = await read<{ data: Record<string, string> }>(ref('ConfigMap', 'kube-public', 'local-registry-hosting'));
    expect(hosting?.data['localRegistryHosting.v1']).toMatch(/^host: "localhost:5000"\nhostFromContainerRuntime: "localhost:5000"\nhostFromClusterNetwork: "registry\.kube-system\.svc:5000"\nhelp: "https:\/\/\S+"\n$/);
  });

  it('an image pushed from the host to localhost:5000 through mk tunnel is pulled by a pod by the same name and runs', async () => {
    tunnel = new Background(['tunnel', name, '-o', 'json'], c.env());
    await tunnel.waitFor(/"type":"tunnel\.forward".*"service":"kube-system\/registry"/, 60_000);
    const forward = tunnel.stdout.split('\n').find((l) => l.includes('"service":"kube-system/registry"'))!;
    expect(JSON.parse(forward)).toMatchObject({ port: 5000, local: '127.0.0.1:5000' });

    // An image no node has and no other registry serves: busybox with a token file, printed at start.
    const box = await docker('create', BUSYBOX, 'true');
    try {
      await execFileP('sh', ['-c', `printf '%s\\n' '${token}' > ${join(c.dir(), 'token')}`]);
      await docker('cp', join(c.dir(), 'token'), `${box}:/token`);
      await docker('commit', '-c', 'CMD ["cat", "/token"]', box, pushed);
    } finally {
      await docker('rm', box);
    }
    let t = Date.now();
    const out = await docker('push', pushed);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
    expect(digest, out).toBeDefined();
    timings.push(`docker push ${pushed} through mk tunnel: ${((Date.now() - t) / 1000).toFixed(1)} s`);

    t = Date.now();
    await client().json('POST', urlOf(ref('Pod', 'default', 'hello'), true), {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hello', namespace: 'default' }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: pushed, imagePullPolicy: 'Always' }] } },
    });
    type PodStatus = { status?: { phase?: string; containerStatuses?: { imageID?: string; state?: { waiting?: { reason?: string; message?: string } } }[] } };
    let last: PodStatus | undefined;
    const pod = await eventually(
      () => `pod hello Succeeded (last: ${JSON.stringify(last?.status)})`,
      async () => {
        last = await read<PodStatus>(ref('Pod', 'default', 'hello'));
        return last?.status?.phase === 'Succeeded' ? last : undefined;
      },
      90_000,
      500,
    );
    timings.push(`pod created to Succeeded (pulled from the registry): ${((Date.now() - t) / 1000).toFixed(1)} s`);
    expect(pod.status?.containerStatuses?.[0]?.imageID).toBe(`localhost:5000/mk-e2e/hello@${digest}`);
    expect((await client().request('GET', '/api/v1/namespaces/default/pods/hello/log')).body.trim()).toBe(token);
    await client().json('DELETE', urlOf(ref('Pod', 'default', 'hello')));
  });

  it('a re-apply plans nothing and changes none of mk\'s objects', async () => {
    const all = (await Promise.all(['registry', 'metallb'].map(inventory))).flatMap((x) => x!);
    const written = new Set(['Deployment', 'DaemonSet', 'Service', 'CustomResourceDefinition', 'IPAddressPool']);
    const versions = () => Promise.all(all.map(async (r) => {
      const m = (await read(r))?.metadata;
      return `${r.kind}/${r.name}: ${written.has(r.kind) ? `generation ${m?.generation}` : `resourceVersion ${m?.resourceVersion}`}`;
    }));
    const before = await versions();
    const r = await apply('no-op with the registry', true);
    expect(r.plan.steps).toEqual([]);
    expect(r.plan.warnings).toEqual([]);
    expect(await versions()).toEqual(before);
  });

  it('disabling the registry removes exactly its objects and the node\'s hosts.toml; MetalLB stays', async () => {
    const ours = (await inventory('registry'))!;
    expect(ours.map((o) => `${o.kind} ${o.namespace}/${o.name}`).sort()).toEqual([
      'ConfigMap kube-public/local-registry-hosting',
      'DaemonSet kube-system/registry-hosts',
      'Deployment kube-system/registry',
      'Service kube-system/registry',
    ]);
    const metallb = (await inventory('metallb'))!;
    const r = await apply('disable the registry', false);
    expect(r.plan.steps.map((s) => s.id)).toEqual(['addon.remove:registry']);
    expect(r.steps.find((s) => s.step!.id === 'addon.remove:registry')?.detail).toMatch(new RegExp(`^${ours.length} objects deleted`));
    expect(await inventory('registry')).toBeUndefined();
    await eventually(
      'every object of the registry gone, and the node\'s hosts.toml',
      async () => {
        const left = await Promise.all(ours.map(async (o) => ((await read(o).catch(() => undefined)) ? `${o.kind}/${o.name}` : undefined)));
        return (left.every((x) => x === undefined) && (await hostsToml()) === undefined) || undefined;
      },
      120_000,
      1000,
    );
    for (const o of metallb) expect(await read(o), `${o.kind} ${o.name}`).toBeDefined();
    const again = await apply('no-op without the registry', false);
    expect(again.plan.steps).toEqual([]);
  });
});
