// The ingress addon (Traefik) proven by what it does, on a real cluster made by `mk apply`: one
// control plane in a Docker node container, Kubernetes built from source (test/k8s/), MetalLB for the
// LoadBalancer. Traefik runs the image `npm run addon-images traefik` builds (addons[].images), the
// Gateway API CRDs come from the gateway-api addon it depends on, and the backends are busybox httpd
// pods (spec.images). An Ingress and an HTTPRoute each route by host name and path to two backends,
// requested from this host through the LoadBalancer address and through the node's port 80
// (hostPort); a re-apply changes nothing; disabling ingress removes exactly its objects and the CRDs.
// Needs the test-bed binaries, Docker, the node image (test/k8s/node-image.sh) and the addon images
// (npm run addon-images traefik metallb-controller metallb-speaker busybox); MK_E2E_TIER3=0 skips.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ObjectRef } from '../../src/addons/index.js';
import { k8sVersion } from '../k8s/binaries.js';
import { tier3Skip } from '../k8s/cluster.js';
import { clusterYaml, controlPlanes, dockerDriver } from '../helpers/spec.js';
import { eventually } from '../helpers/wait.js';
import { httpGet as get, localImages, ref, urlOf } from './helpers.js';
import { addonCluster } from './addon-cluster.js';

const execFileP = promisify(execFile);
const skip = await tier3Skip();

const name = `ing${process.pid % 10000}`;
const BUSYBOX = localImages('storage').helper!;
const NS = 'default';
/** mk's addons of this cluster: ingress brings gateway-api; metallb comes with the load balancer. */
const OURS = ['gateway-api', 'ingress'];

function spec(image: string, ingress: boolean): string {
  return clusterYaml({
    name,
    kubernetesVersion: k8sVersion(),
    driver: dockerDriver(image),
    nodes: [controlPlanes(1)],
    loadBalancer: { enabled: true },
    images: [BUSYBOX],
    addons: [
      { name: 'ingress', enabled: ingress, images: localImages('ingress') },
      { name: 'metallb', images: localImages('metallb') },
    ],
  });
}

describe.skipIf(skip)(`the ingress addon (Traefik) with mk apply on a real cluster (${k8sVersion()})`, () => {
  let lbAddress: string;
  let nodeAddress: string;
  const c = addonCluster(name, 'mk-ingress');
  const { timings, client, read, inventory } = c;
  const apply = (label: string, ingress: boolean) => c.apply(label, (image) => spec(image, ingress));
  const create = (r: ObjectRef, body: Record<string, unknown>) => client().json('POST', urlOf(r, true), { body: { apiVersion: r.apiVersion, kind: r.kind, metadata: { name: r.name, namespace: r.namespace }, ...body } });

  it('a new cluster with ingress: the Gateway API CRDs first, then Traefik from the local image, ready; its Gateway programmed with the LoadBalancer address', async () => {
    const r = await apply('create with ingress and the load balancer', true);
    expect(r.plan.steps.find((s) => s.id === 'addon.apply:gateway-api')?.description).toBe('install addon gateway-api (needed by ingress)');
    const ingressStep = r.plan.steps.find((s) => s.id === 'addon.apply:ingress')!;
    expect(ingressStep.dependsOn).toContain('addon.apply:gateway-api');
    expect(ingressStep.reason).toContain(`${localImages('ingress').controller} from the Docker engine`);
    for (const a of [...OURS, 'metallb']) {
      const s = r.steps.find((e) => e.step!.id === `addon.apply:${a}`);
      expect(s?.outcome, a).toBe('done');
      expect(s?.detail, a).toMatch(/ready after [\d.]+ s/);
    }
    for (const a of OURS) for (const o of (await inventory(a))!) expect((await read(o))?.metadata?.labels, `${a}: ${o.kind} ${o.name}`).toMatchObject({ 'mk.dev/cluster': name, 'mk.dev/addon': a });
    expect(r.events.filter((e) => e.type === 'warning').map((e) => e.message)).toEqual([]);

    const svc = ref('Service', 'traefik', 'traefik');
    lbAddress = await eventually('the traefik Service\'s LoadBalancer address', async () => (await read<{ status?: { loadBalancer?: { ingress?: { ip?: string }[] } } }>(svc))?.status?.loadBalancer?.ingress?.[0]?.ip, 60_000, 1000);
    const gateway = ref('Gateway', 'traefik', 'traefik', 'gateway.networking.k8s.io/v1');
    type GatewayStatus = { status?: { addresses?: { value: string }[]; conditions?: { type: string; status: string }[] } };
    const status = await eventually(
      'the Gateway programmed',
      async () => {
        const s = (await read<GatewayStatus>(gateway))?.status;
        return s?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True') && s.addresses?.length ? s : undefined;
      },
      60_000,
      1000,
    );
    expect(status.addresses?.map((a) => a.value)).toEqual([lbAddress]);
    const { stdout } = await execFileP('docker', ['inspect', `${name}-cp-1`, '--format', `{{(index .NetworkSettings.Networks "mk-${name}").IPAddress}}`]);
    nodeAddress = stdout.trim();
  });

  it('an Ingress and an HTTPRoute each route by host name and path to two backends, requested from the host through the LoadBalancer address and the node\'s port 80', async () => {
    const t0 = Date.now();
    // Two backends; each serves /one/ and /two/ and says which backend it is, so a wrong route shows.
    for (const b of ['one', 'two']) {
      const page = `backend ${b}`;
      await create(ref('Pod', NS, `web-${b}`), {
        metadata: { name: `web-${b}`, namespace: NS, labels: { app: `web-${b}` } },
        spec: { containers: [{ name: 'c', image: BUSYBOX, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', `for p in one two; do mkdir -p /w/$p && echo '${page}' > /w/$p/index.html; done; exec httpd -f -p 8080 -h /w`] }] },
      });
      await create(ref('Service', NS, `web-${b}`), { spec: { selector: { app: `web-${b}` }, ports: [{ port: 80, targetPort: 8080 }] } });
    }
    const paths = [{ path: '/one', backend: 'web-one' }, { path: '/two', backend: 'web-two' }];
    // No ingressClassName: "traefik" is the default class, which the API server fills in.
    await create(ref('Ingress', NS, 'web', 'networking.k8s.io/v1'), {
      spec: { rules: [{ host: 'ingress.mk.test', http: { paths: paths.map((p) => ({ path: p.path, pathType: 'Prefix', backend: { service: { name: p.backend, port: { number: 80 } } } })) } }] },
    });
    await create(ref('HTTPRoute', NS, 'web', 'gateway.networking.k8s.io/v1'), {
      spec: {
        parentRefs: [{ name: 'traefik', namespace: 'traefik' }],
        hostnames: ['gateway.mk.test'],
        rules: paths.map((p) => ({ matches: [{ path: { type: 'PathPrefix', value: p.path } }], backendRefs: [{ name: p.backend, port: 80 }] })),
      },
    });
    expect((await read<{ spec: { ingressClassName?: string } }>(ref('Ingress', NS, 'web', 'networking.k8s.io/v1')))?.spec.ingressClassName).toBe('traefik');

    // Port 80 of the LoadBalancer address (the Service) and of the node (Traefik's hostPort).
    const answers = async (address: string, host: string) => {
      const out: Record<string, string> = {};
      for (const p of ['/one/', '/two/']) {
        const r = await get(address, 80, host, p).catch((err: Error) => ({ status: 0, body: err.message }));
        out[p] = `${r.status} ${r.status === 200 ? r.body : ''}`.trim();
      }
      return out;
    };
    const routed = { '/one/': '200 backend one', '/two/': '200 backend two' };
    for (const address of [lbAddress, nodeAddress]) {
      for (const host of ['ingress.mk.test', 'gateway.mk.test']) {
        const t = Date.now();
        await eventually(
          () => `${host} routed through ${address}:80`,
          async () => JSON.stringify(await answers(address, host)) === JSON.stringify(routed) || undefined,
          90_000,
          1000,
        ).catch(async (err: Error) => {
          throw new Error(`${err.message}; last answers: ${JSON.stringify(await answers(address, host))}`);
        });
        timings.push(`${host} via ${address}:80 routed to both backends ${((Date.now() - t) / 1000).toFixed(1)} s later`);
      }
      // A host name no route names: Traefik's 404, not a backend.
      expect(await answers(address, 'other.mk.test')).toEqual({ '/one/': '404', '/two/': '404' });
    }
    type Route = { status?: { parents?: { conditions?: { type: string; status: string }[] }[] } };
    const route = await read<Route>(ref('HTTPRoute', NS, 'web', 'gateway.networking.k8s.io/v1'));
    expect(route?.status?.parents?.[0]?.conditions?.find((c) => c.type === 'Accepted')?.status).toBe('True');
    type IngressStatus = { status?: { loadBalancer?: { ingress?: { ip?: string }[] } } };
    await eventually('the Ingress status names the LoadBalancer address', async () => (await read<IngressStatus>(ref('Ingress', NS, 'web', 'networking.k8s.io/v1')))?.status?.loadBalancer?.ingress?.[0]?.ip === lbAddress || undefined, 30_000, 1000);
    timings.push(`backends created to every route answered: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it('a re-apply plans nothing and changes none of mk\'s objects', async () => {
    const all = (await Promise.all([...OURS, 'metallb'].map(inventory))).flatMap((x) => x!);
    // Controllers write the status of these: their spec's generation is what mk would move.
    const written = new Set(['Deployment', 'DaemonSet', 'Service', 'Gateway', 'GatewayClass', 'CustomResourceDefinition', 'IPAddressPool']);
    const versions = () => Promise.all(all.map(async (r) => {
      const m = (await read(r))?.metadata;
      return `${r.kind}/${r.name}: ${written.has(r.kind) ? `generation ${m?.generation}` : `resourceVersion ${m?.resourceVersion}`}`;
    }));
    const before = await versions();
    const r = await apply('no-op with ingress', true);
    expect(r.plan.steps).toEqual([]);
    expect(r.plan.warnings).toEqual([]);
    expect(await versions()).toEqual(before);
    timings.push(`no-op apply with ingress (${all.length} objects checked): ${(r.ms / 1000).toFixed(2)} s`);
  });

  it('disabling ingress removes exactly its objects and the Gateway API CRDs, after it; MetalLB and the user\'s Ingress stay', async () => {
    // mk keeps a CRD while objects of its kind that mk did not create exist: the user's HTTPRoute goes first.
    await client().json('DELETE', urlOf(ref('HTTPRoute', NS, 'web', 'gateway.networking.k8s.io/v1')));
    const ours = Object.fromEntries(await Promise.all(OURS.map(async (a) => [a, (await inventory(a))!] as const)));
    const metallb = (await inventory('metallb'))!;
    const r = await apply('disable ingress', false);
    expect(r.plan.steps.map((s) => s.id).sort()).toEqual(['addon.remove:gateway-api', 'addon.remove:ingress']);
    expect(r.plan.steps.find((s) => s.id === 'addon.remove:gateway-api')?.dependsOn).toContain('addon.remove:ingress');
    for (const a of OURS) {
      expect(r.steps.find((s) => s.step!.id === `addon.remove:${a}`)?.detail, a).toMatch(new RegExp(`^${ours[a]!.length} objects deleted`));
      expect(await inventory(a)).toBeUndefined();
    }
    await eventually(
      'every object of ingress and gateway-api gone',
      async () => {
        const left = await Promise.all(OURS.flatMap((a) => ours[a]!).map(async (o) => ((await read(o).catch(() => undefined)) ? `${o.kind}/${o.name}` : undefined)));
        return left.every((x) => x === undefined) || undefined;
      },
      120_000,
      1000,
    );
    for (const o of metallb) expect(await read(o), `${o.kind} ${o.name}`).toBeDefined();
    expect(await read(ref('Ingress', NS, 'web', 'networking.k8s.io/v1'))).toBeDefined();
    const again = await apply('no-op without ingress', false);
    expect(again.plan.steps).toEqual([]);
  });
});
