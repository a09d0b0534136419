// The ingress-dns addon proven by what it does, on a real cluster made by `mk apply`: one control
// plane in a Docker node container, Kubernetes built from source (test/k8s/), Traefik (the ingress
// addon it depends on) from the image `npm run addon-images traefik` builds, CoreDNS from the image
// kubeadm runs (already on the node). From this host, DNS questions (UDP and TCP) to the address
// `mk status` gives get the Ingress's and the HTTPRoute's host names answered with where Traefik
// answers, and HTTP requests to that answer with those names reach the right busybox backend:
// first with the load balancer (MetalLB: Traefik's LoadBalancer address, the server's own
// LoadBalancer address), then without it (the node Traefik runs on, the server in that node's
// network). A re-apply changes nothing; disabling ingress-dns removes exactly its objects.
// Needs the test-bed binaries, Docker, the node image (test/k8s/node-image.sh) and the addon images
// (npm run addon-images traefik metallb-controller metallb-speaker busybox); MK_E2E_TIER3=0 skips.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ObjectRef } from '../../src/addons/index.js';
import { k8sVersion } from '../k8s/binaries.js';
import { tier3Skip } from '../k8s/cluster.js';
import { mk } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver } from '../helpers/spec.js';
import { eventually } from '../helpers/wait.js';
import { DNS_TYPES, dnsQuery, httpGet, localImages, ref, urlOf, type DnsAnswer } from './helpers.js';
import { addonCluster } from './addon-cluster.js';

const execFileP = promisify(execFile);
const skip = await tier3Skip();

const name = `dns-${process.pid % 10000}`;
const BUSYBOX = localImages('storage').helper!;
const NS = 'default';
const DOMAIN = 'test';

function spec(image: string, loadBalancer: boolean, dns: boolean): string {
  return clusterYaml({
    name,
    kubernetesVersion: k8sVersion(),
    driver: dockerDriver(image),
    nodes: [controlPlanes(1)],
    loadBalancer: { enabled: loadBalancer },
    images: [BUSYBOX],
    addons: [
      { name: 'ingress', images: localImages('ingress') },
      ...(loadBalancer ? [{ name: 'metallb', images: localImages('metallb') }] : []),
      { name: 'ingress-dns', enabled: dns, options: { domains: [DOMAIN] } },
    ],
  });
}

describe.skipIf(skip)(`the ingress-dns addon (CoreDNS) with mk apply on a real cluster (${k8sVersion()})`, () => {
  const c = addonCluster(name, 'mk-ingress-dns');
  const { timings, client, read, inventory } = c;
  const apply = (label: string, loadBalancer: boolean, dns: boolean) => c.apply(label, (image) => spec(image, loadBalancer, dns));
  const create = (r: ObjectRef, body: Record<string, unknown>) => client().json('POST', urlOf(r, true), { body: { apiVersion: r.apiVersion, kind: r.kind, metadata: { name: r.name, namespace: r.namespace }, ...body } });

  /** What `mk status -o json` says of ingress-dns: the address to point a resolver at. */
  async function statusAddress(): Promise<string | undefined> {
    const r = await mk(['status', name, '-o', 'json'], c.env());
    const doc = JSON.parse(r.stdout) as { clusters: { ingressDns?: { address?: string; domains: string[]; stale?: string }; ingressDnsError?: string }[] };
    const s = doc.clusters[0]!;
    expect(s.ingressDnsError).toBeUndefined();
    expect(s.ingressDns?.domains).toEqual([DOMAIN]);
    expect(s.ingressDns?.stale).toBeUndefined();
    return s.ingressDns?.address;
  }

  /** An A question for `host` over both transports: the addresses answered, once both say the same. */
  async function resolve(server: string, host: string): Promise<{ udp: DnsAnswer; tcp: DnsAnswer; ms: number }> {
    const t = performance.now();
    const udp = await dnsQuery(server, host, DNS_TYPES.A, 'udp');
    const ms = performance.now() - t;
    const tcp = await dnsQuery(server, host, DNS_TYPES.A, 'tcp');
    return { udp, tcp, ms };
  }

  /**
   * From this host: the server at `server` answers each route's host name (and any other name
   * under the domain) with `traefik`, over UDP and TCP; HTTP to that answer with the name reaches
   * the route's backend. Names outside the domain are refused, AAAA has no records.
   */
  async function proveFromHost(server: string, traefik: string, label: string): Promise<void> {
    const names: Record<string, string> = { [`app.${DOMAIN}`]: 'backend one', [`route.${DOMAIN}`]: 'backend two' };
    for (const [host, page] of Object.entries(names)) {
      const t = Date.now();
      const answered = await eventually(
        `${host} answered by ${server} with ${traefik}`,
        async () => {
          const r = await resolve(server, host).catch(() => undefined);
          return r && [r.udp, r.tcp].every((a) => a.rcode === 'NOERROR' && a.answers.length === 1 && a.answers[0]!.data === traefik) ? r : undefined;
        },
        60_000,
        500,
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}; last answers: ${JSON.stringify(await resolve(server, host).catch((e: Error) => e.message))}`);
      });
      // The answer names the name asked (CoreDNS's rewrite puts it back), with the server's short TTL.
      for (const a of [answered.udp, answered.tcp]) expect(a.answers[0]).toMatchObject({ name: host, type: DNS_TYPES.A, ttl: 5 });
      expect((await dnsQuery(server, host, DNS_TYPES.AAAA, 'udp')).answers).toEqual([]);
      const asked = Date.now();
      const address = answered.udp.answers[0]!.data;
      const r = await eventually(`${host} routed through ${address}:80`, async () => {
        const got = await httpGet(address, 80, host, '/').catch(() => undefined);
        return got?.status === 200 ? got : undefined;
      }, 60_000, 500);
      expect(r.body, host).toBe(page);
      const s = (from: number, to: number) => `${((to - from) / 1000).toFixed(1)} s`;
      timings.push(`${label}: ${host} answered with ${address} within ${s(t, asked)} (the answering question over UDP: ${answered.ms.toFixed(1)} ms), routed by Traefik to its backend ${s(asked, Date.now())} later`);
    }
    // A name no route names resolves as well (the domain is a wildcard): Traefik answers 404.
    const other = await dnsQuery(server, `nothing.${DOMAIN}`, DNS_TYPES.A, 'udp');
    expect(other.answers.map((a) => a.data)).toEqual([traefik]);
    expect((await httpGet(traefik, 80, `nothing.${DOMAIN}`, '/')).status).toBe(404);
    // Names outside its domains are not its to answer.
    expect((await dnsQuery(server, 'app.example', DNS_TYPES.A, 'udp')).rcode).toBe('REFUSED');
  }

  /** Every object of mk's addons: its resourceVersion, or for kinds whose status controllers write, its generation. */
  async function versions(addons: readonly string[]): Promise<string[]> {
    const all = (await Promise.all(addons.map(inventory))).flatMap((x) => x!);
    const written = new Set(['Deployment', 'DaemonSet', 'Service', 'Gateway', 'GatewayClass', 'CustomResourceDefinition', 'IPAddressPool']);
    return Promise.all(all.map(async (r) => {
      const m = (await read(r))?.metadata;
      return `${r.kind}/${r.namespace ?? ''}/${r.name}: ${written.has(r.kind) ? `generation ${m?.generation}` : `resourceVersion ${m?.resourceVersion}`}`;
    }));
  }

  let lbDns: string;
  let lbTraefik: string;

  it('a new cluster with ingress-dns and the load balancer: CoreDNS from the image kubeadm runs, ready, at a LoadBalancer address that mk apply and mk status give', async () => {
    const r = await apply('create with ingress-dns and the load balancer', true, true);
    const dnsStep = r.plan.steps.find((s) => s.id === 'addon.apply:ingress-dns')!;
    expect(dnsStep.dependsOn).toContain('addon.apply:ingress');
    // Its image is the cluster's own: nothing to load for it.
    expect(r.plan.steps.filter((s) => s.id.startsWith('image.load')).map((s) => s.description).join()).not.toMatch(/coredns/);
    for (const a of ['ingress', 'metallb', 'ingress-dns']) {
      const s = r.steps.find((e) => e.step!.id === `addon.apply:${a}`);
      expect(s?.outcome, a).toBe('done');
      expect(s?.detail, a).toMatch(/ready after [\d.]+ s/);
    }
    expect(r.events.filter((e) => e.type === 'warning').map((e) => e.message)).toEqual([]);
    const kubeadmCoreDns = await read<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(ref('Deployment', 'kube-system', 'coredns', 'apps/v1'));
    const ours = await read<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(ref('Deployment', 'kube-system', 'mk-ingress-dns', 'apps/v1'));
    expect(ours?.spec.template.spec.containers[0]!.image).toBe(kubeadmCoreDns?.spec.template.spec.containers[0]!.image);
    for (const o of (await inventory('ingress-dns'))!) expect((await read(o))?.metadata?.labels, `${o.kind} ${o.name}`).toMatchObject({ 'mk.dev/cluster': name, 'mk.dev/addon': 'ingress-dns' });

    type Lb = { status?: { loadBalancer?: { ingress?: { ip?: string }[] } } };
    const lbOf = (ns: string, n: string) => eventually(`${ns}/${n}'s LoadBalancer address`, async () => (await read<Lb>(ref('Service', ns, n)))?.status?.loadBalancer?.ingress?.[0]?.ip, 60_000, 1000);
    lbTraefik = await lbOf('traefik', 'traefik');
    lbDns = await lbOf('kube-system', 'mk-ingress-dns');
    expect(lbDns).not.toBe(lbTraefik);
    const detail = r.steps.find((e) => e.step!.id === 'addon.apply:ingress-dns')!.detail!;
    expect(detail).toContain(`${lbDns} answers *.${DOMAIN} (port 53; its LoadBalancer address): point a resolver for ${DOMAIN} there`);
    expect(await statusAddress()).toBe(lbDns);
    const text = await mk(['status', name], c.env());
    expect(text.stdout).toContain(`  ingress dns: ${lbDns} answers *.${DOMAIN} (port 53; its LoadBalancer address): point a resolver for ${DOMAIN} there`);
  });

  it('from the host: an Ingress\'s and an HTTPRoute\'s host names are answered with Traefik\'s LoadBalancer address, over UDP and TCP, and reach their backends', async () => {
    for (const b of ['one', 'two']) {
      // Each backend says which it is, so a name routed to the wrong one shows.
      await create(ref('Pod', NS, `web-${b}`), {
        metadata: { name: `web-${b}`, namespace: NS, labels: { app: `web-${b}` } },
        spec: { containers: [{ name: 'c', image: BUSYBOX, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', `mkdir -p /w && echo 'backend ${b}' > /w/index.html; exec httpd -f -p 8080 -h /w`] }] },
      });
      await create(ref('Service', NS, `web-${b}`), { spec: { selector: { app: `web-${b}` }, ports: [{ port: 80, targetPort: 8080 }] } });
    }
    await create(ref('Ingress', NS, 'web', 'networking.k8s.io/v1'), {
      spec: { rules: [{ host: `app.${DOMAIN}`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web-one', port: { number: 80 } } } }] } }] },
    });
    await create(ref('HTTPRoute', NS, 'web', 'gateway.networking.k8s.io/v1'), {
      spec: { parentRefs: [{ name: 'traefik', namespace: 'traefik' }], hostnames: [`route.${DOMAIN}`], rules: [{ backendRefs: [{ name: 'web-two', port: 80 }] }] },
    });
    await proveFromHost(lbDns, lbTraefik, 'load balancer');
  });

  it('a re-apply plans nothing and changes none of mk\'s objects', async () => {
    const before = await versions(['ingress', 'ingress-dns', 'metallb']);
    const r = await apply('no-op with ingress-dns', true, true);
    expect(r.plan.steps).toEqual([]);
    expect(r.plan.warnings).toEqual([]);
    expect(await versions(['ingress', 'ingress-dns', 'metallb'])).toEqual(before);
    timings.push(`no-op apply with ingress-dns: ${(r.ms / 1000).toFixed(2)} s`);
  });

  it('without the load balancer: the server moves into the network of Traefik\'s node and answers that node\'s address, which mk status gives; requests there reach the backends', async () => {
    const dnsObjects = (await inventory('ingress-dns'))!;
    const r = await apply('loadBalancer off: ingress-dns on Traefik\'s node', false, true);
    expect(r.plan.steps.map((s) => s.id).sort()).toEqual(['addon.apply:ingress', 'addon.apply:ingress-dns', 'addon.remove:metallb']);
    expect(r.steps.find((e) => e.step!.id === 'addon.apply:ingress-dns')?.detail).toMatch(/ready after [\d.]+ s/);
    // MetalLB's speaker writes ServiceL2Status objects of its own; mk keeps their CRD, and says so.
    const warnings = r.events.filter((e) => e.type === 'warning').map((e) => e.message ?? '');
    expect(warnings.filter((w) => !/^addon metallb: kept CustomResourceDefinition servicel2statuses\.metallb\.io: \d+ ServiceL2Status object\(s\) not created by mk still exist$/.test(w))).toEqual([]);
    // Its LoadBalancer Service and the right to watch Services go; what stays is updated in place.
    const now = (await inventory('ingress-dns'))!.map((o) => `${o.kind} ${o.name}`).sort();
    expect(now).toEqual(['ConfigMap mk-ingress-dns', 'Deployment mk-ingress-dns', 'ServiceAccount mk-ingress-dns']);
    for (const o of dnsObjects.filter((x) => !now.includes(`${x.kind} ${x.name}`))) expect(await read(o), `${o.kind} ${o.name}`).toBeUndefined();

    const { stdout } = await execFileP('docker', ['inspect', `${name}-cp-1`, '--format', `{{(index .NetworkSettings.Networks "mk-${name}").IPAddress}}`]);
    const node = stdout.trim();
    const address = await eventually('mk status giving the node\'s address', async () => statusAddress(), 60_000, 1000);
    expect(address).toBe(node);
    await proveFromHost(node, node, 'node');
    const again = await apply('no-op without the load balancer', false, true);
    expect(again.plan.steps).toEqual([]);
  });

  it('disabling ingress-dns removes exactly its objects; ingress and the user\'s routes stay', async () => {
    const dnsObjects = (await inventory('ingress-dns'))!;
    const ingress = (await inventory('ingress'))!;
    const r = await apply('disable ingress-dns', false, false);
    expect(r.plan.steps.map((s) => s.id)).toEqual(['addon.remove:ingress-dns']);
    expect(r.steps[0]?.detail).toMatch(new RegExp(`^${dnsObjects.length} objects deleted`));
    expect(await inventory('ingress-dns')).toBeUndefined();
    await eventually('every object of ingress-dns gone', async () => {
      const left = await Promise.all(dnsObjects.map(async (o) => ((await read(o).catch(() => undefined)) ? `${o.kind}/${o.name}` : undefined)));
      return left.every((x) => x === undefined) || undefined;
    }, 60_000, 1000);
    for (const o of ingress) expect(await read(o), `${o.kind} ${o.name}`).toBeDefined();
    expect(await read(ref('Ingress', NS, 'web', 'networking.k8s.io/v1'))).toBeDefined();
    const again = await apply('no-op without ingress-dns', false, false);
    expect(again.plan.steps).toEqual([]);
  });
});
