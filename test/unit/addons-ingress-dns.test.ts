// The ingress-dns addon, pure parts and against a stand-in API server: what it renders in each mode
// (the Corefile, the objects), its options and the spec rules about it, the kubeadm image it runs
// (read from the cluster, left alone by the images phase, replaceable), and where it says it answers.
import { afterEach, describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/catalog/index.js';
import { ingressDnsCorefile, ingressDnsDomains, INGRESS_DNS } from '../../src/catalog/ingress-dns/index.js';
import { checkOptions } from '../../src/catalog/options.js';
import type { K8sObject } from '../../src/manifests/types.js';
import type { RenderEnv } from '../../src/catalog/types.js';
import { addonImages, kubeadmImagesWanted } from '../../src/spec/addons.js';
import { validateCluster } from '../../src/spec/validate.js';
import { renderAddon } from '../../src/addons/render.js';
import { addonEnv, readKubeadmImages } from '../../src/addons/observe.js';
import { describeIngressDns, ingressDnsEndpoint } from '../../src/addons/ingress-dns.js';
import { KubeClient } from '../../src/kube/index.js';
import { aCluster, observedOf } from './builders.js';
import { fakeApi, type Answer, type FakeApi } from './fake-apiserver.js';

const COREDNS = 'registry.k8s.io/coredns/coredns:v1.14.2';
const ENV: RenderEnv = { kubeadmImages: { coredns: COREDNS } };
const entry = CATALOG.get('ingress-dns')!;

function render(lb: boolean, options: Record<string, unknown> = {}, env: RenderEnv | undefined = ENV): K8sObject[] {
  const c = aCluster('dev').build();
  c.spec.loadBalancer.enabled = lb;
  return entry.render(options, c, env);
}
const find = (objects: K8sObject[], kind: string) => objects.find((o) => o.kind === kind);
type PodSpec = {
  hostNetwork?: boolean;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  affinity?: unknown;
  containers: { image: string; args: string[]; env?: unknown[]; ports: { containerPort: number; hostPort?: number; protocol: string }[] }[];
};
const podOf = (objects: K8sObject[]) => (find(objects, 'Deployment')!.spec as { template: { spec: PodSpec } }).template.spec;
const annotationsOf = (objects: K8sObject[]) => (find(objects, 'Deployment')!.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;

describe('ingress-dns: the Corefile', () => {
  it('with a load balancer: every name under each domain asked as Traefik\'s Service there, answered from its LoadBalancer address', () => {
    expect(ingressDnsCorefile(['test', 'dev.example'], 'load-balancer')).toBe(
      [
        "# mk's ingress-dns: every name under test, dev.example answers with Traefik's LoadBalancer address.",
        'test:53 dev.example:53 {',
        '    errors',
        '    ready :8181',
        '    rewrite stop name regex ^(.+\\.)?test\\.$ traefik.traefik.test. answer auto',
        '    rewrite stop name regex ^(.+\\.)?dev\\.example\\.$ traefik.traefik.dev.example. answer auto',
        '    kubernetes cluster.local {',
        '        namespaces traefik',
        '    }',
        '    k8s_external test dev.example {',
        '        ttl 5',
        '    }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('without: bound to the node\'s address, which every name under each domain answers with', () => {
    expect(ingressDnsCorefile(['test'], 'node')).toBe(
      [
        "# mk's ingress-dns: every name under test answers with the address of the node Traefik runs on.",
        'test:53 {',
        '    bind {$HOST_IP}',
        '    errors',
        '    ready {$HOST_IP}:8181',
        '    template IN A test {',
        '        answer "{{ .Name }} 5 IN A {$HOST_IP}"',
        '    }',
        '    template ANY ANY test {',
        '        authority "{{ .Zone }} 5 IN SOA ns.{{ .Zone }} hostmaster.{{ .Zone }} 1 7200 1800 86400 5"',
        '    }',
        '}',
        '',
      ].join('\n'),
    );
  });
});

describe('ingress-dns: the objects', () => {
  it('with a load balancer: a LoadBalancer Service on 53/UDP and 53/TCP, and the right to watch Services for k8s_external', () => {
    const objects = render(true);
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`)).toEqual([
      'ServiceAccount kube-system/mk-ingress-dns',
      'ClusterRole /mk-ingress-dns',
      'ClusterRoleBinding /mk-ingress-dns',
      'ConfigMap kube-system/mk-ingress-dns',
      'Deployment kube-system/mk-ingress-dns',
      'Service kube-system/mk-ingress-dns',
    ]);
    expect(find(objects, 'ClusterRole')!.rules).toEqual([
      { apiGroups: [''], resources: ['services', 'namespaces'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    ]);
    expect(find(objects, 'Service')!.spec).toMatchObject({
      type: 'LoadBalancer',
      selector: INGRESS_DNS.podLabels,
      ports: [{ name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' }, { name: 'dns-tcp', port: 53, targetPort: 'dns-tcp', protocol: 'TCP' }],
    });
    const pod = podOf(objects);
    expect(pod.hostNetwork).toBeUndefined();
    expect(pod.serviceAccountName).toBe('mk-ingress-dns');
    expect(pod.containers[0]).toMatchObject({ image: COREDNS, args: ['-conf', '/etc/coredns/Corefile'] });
    expect(pod.containers[0]!.ports.map((p) => p.hostPort)).toEqual([undefined, undefined]);
    expect((find(objects, 'ConfigMap')!.data as { Corefile: string }).Corefile).toBe(ingressDnsCorefile(['test'], 'load-balancer'));
  });

  it('without: on Traefik\'s node, in its network, on its port 53, told its address; no Service, no API access', () => {
    const objects = render(false);
    expect(objects.map((o) => o.kind)).toEqual(['ServiceAccount', 'ConfigMap', 'Deployment']);
    const pod = podOf(objects);
    // Its own ServiceAccount all the same, so that a switch from the other mode leaves none named that is gone.
    expect(pod).toMatchObject({ hostNetwork: true, automountServiceAccountToken: false, serviceAccountName: 'mk-ingress-dns' });
    expect(pod.affinity).toEqual({
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'traefik', 'app.kubernetes.io/instance': 'traefik' } }, namespaces: ['traefik'], topologyKey: 'kubernetes.io/hostname' }],
      },
    });
    expect(pod.containers[0]!.env).toEqual([{ name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } }]);
    expect(pod.containers[0]!.ports).toEqual([
      { name: 'dns', containerPort: 53, protocol: 'UDP', hostPort: 53 },
      { name: 'dns-tcp', containerPort: 53, protocol: 'TCP', hostPort: 53 },
    ]);
    expect((find(objects, 'Deployment')!.spec as { strategy: unknown }).strategy).toEqual({ type: 'Recreate' });
  });

  it('a new Corefile restarts the server: its hash is in the pod template', () => {
    const a = annotationsOf(render(true))['mk.dev/corefile-sha256'];
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(annotationsOf(render(true, { domains: ['test'] }))['mk.dev/corefile-sha256']).toBe(a);
    expect(annotationsOf(render(true, { domains: ['test', 'local.dev'] }))['mk.dev/corefile-sha256']).not.toBe(a);
    expect(annotationsOf(render(false))['mk.dev/corefile-sha256']).not.toBe(a);
  });

  it('runs kubeadm\'s CoreDNS as the cluster has it, and says so when the cluster has none', () => {
    expect(() => render(true, {}, {})).toThrow(/runs kubeadm's CoreDNS's image, read from Deployment kube-system\/coredns, which the cluster does not have/);
    expect(podOf(render(true, {}, { kubeadmImages: { coredns: 'example.org/coredns:v9' } })).containers[0]!.image).toBe('example.org/coredns:v9');
  });
});

describe('ingress-dns: options and spec rules', () => {
  const base = { apiVersion: 'mk.dev/v1alpha1', kind: 'Cluster', metadata: { name: 'dev' } };

  it('domains: test by default, each once; none is refused', () => {
    expect(ingressDnsDomains({})).toEqual(['test']);
    expect(ingressDnsDomains({ domains: ['test', 'dev.example', 'test'] })).toEqual(['test', 'dev.example']);
    expect(() => ingressDnsDomains({ domains: [] })).toThrow(/options.domains lists no domain/);
  });

  it('a domain must be a lowercase domain name, said by the spec rules and at render', () => {
    const means = 'a domain name: lowercase letters, digits and hyphens, in labels joined by dots (like test or dev.example)';
    expect(checkOptions(entry.optionsSchema, { domains: ['test', 'Bad_Name', '.x'] })).toEqual([
      { option: 'domains', index: 1, message: `"Bad_Name" is not ${means}` },
      { option: 'domains', index: 2, message: `".x" is not ${means}` },
    ]);
    expect(validateCluster({ ...base, spec: { addons: [{ name: 'ingress-dns', options: { domains: ['ok.test', 'test.'] } }] } })).toEqual([
      { path: 'spec.addons[0].options.domains[1]', message: `"test." is not ${means}` },
    ]);
    expect(validateCluster({ ...base, spec: { addons: [{ name: 'ingress-dns', options: { domain: 'test' } }] } })).toEqual([
      { path: 'spec.addons[0].options.domain', message: 'unknown field "domain" (did you mean "domains"?)', at: 'key' },
    ]);
  });

  it('needs ingress (brought along), and without a load balancer its hostPorts', () => {
    expect(entry.dependsOn).toEqual(['ingress']);
    const spec = (loadBalancer: boolean, hostPorts: boolean) => ({ ...base, spec: { loadBalancer: { enabled: loadBalancer }, addons: [{ name: 'ingress', options: { hostPorts } }, { name: 'ingress-dns' }] } });
    expect(validateCluster(spec(false, false))).toEqual([
      {
        path: 'spec.addons[0].options.hostPorts',
        message: 'addon "ingress-dns" answers with the address of the node Traefik runs on when loadBalancer.enabled is not true, and Traefik serves that node\'s ports 80 and 443 only with hostPorts: true; remove hostPorts: false, or enable spec.loadBalancer',
      },
    ]);
    expect(validateCluster(spec(true, false))).toEqual([]);
    expect(validateCluster(spec(false, true))).toEqual([]);
    // A spec written for the ingress-dns mk had before still holds: its image key is the same.
    expect(validateCluster({ ...base, spec: { addons: [{ name: 'ingress-dns', images: { 'ingress-dns': 'example.org/dns:1' } }] } })).toEqual([]);
  });
});

describe('ingress-dns: its image', () => {
  it('is the cluster\'s own: the images phase leaves it alone unless addons[].images replaces it, then it is read no more', () => {
    const c = aCluster('dev').withAddon('ingress-dns').build();
    expect(addonImages(c).map((i) => `${i.addon} ${i.key}`)).toEqual(['ingress controller']);
    expect(kubeadmImagesWanted(c)).toEqual(['coredns']);
    c.spec.addons[0]!.images = { 'ingress-dns': 'mk.local/coredns:1' };
    expect(addonImages(c).filter((i) => i.addon === 'ingress-dns')).toEqual([{ addon: 'ingress-dns', key: 'ingress-dns', ref: 'mk.local/coredns:1', upstream: 'registry.k8s.io/coredns/coredns:<tag the cluster runs>' }]);
    expect(kubeadmImagesWanted(c)).toEqual([]);
    expect(kubeadmImagesWanted(aCluster('dev').withAddon('ingress').build())).toEqual([]);
  });

  it('renders with the image read into env, or with the spec\'s image in its place without reading', async () => {
    const c = aCluster('dev').build();
    const image = async (images: Record<string, string> | undefined, env: RenderEnv | undefined) =>
      podOf((await renderAddon({ name: 'ingress-dns', enabled: true, options: {}, ...(images ? { images } : {}) }, c, { specDir: '/tmp', ...(env ? { env } : {}) })).objects).containers[0]!.image;
    expect(await image(undefined, ENV)).toBe(COREDNS);
    expect(await image({ 'ingress-dns': 'mk.local/coredns:1' }, undefined)).toBe('mk.local/coredns:1');
    expect(await image({ 'ingress-dns': 'mk.local/coredns:1' }, ENV)).toBe('mk.local/coredns:1');
    await expect(image(undefined, undefined)).rejects.toThrow(/addon ingress-dns.*Deployment kube-system\/coredns/);
  });

  it('comes into the render env with the observed addons', () => {
    const observed = { ...observedOf(aCluster('dev').build()), addons: { installed: [], kubeadmImages: { coredns: COREDNS } } };
    expect(addonEnv(observed)).toEqual({ network: { subnet: '172.30.0.0/24', used: ['172.30.0.10'] }, kubeadmImages: { coredns: COREDNS } });
  });
});

describe('ingress-dns: against a stand-in API server', () => {
  let fake: FakeApi | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });
  const serve = async (routes: Record<string, Answer>) => {
    fake = await fakeApi((req) => routes[req.url ?? ''] ?? { status: 404, body: {} });
    return new KubeClient(fake.credentials);
  };

  it('reads the image kubeadm\'s CoreDNS runs from its Deployment; none when the cluster has no such Deployment', async () => {
    const client = await serve({
      '/apis/apps/v1/namespaces/kube-system/deployments/coredns': { status: 200, body: { spec: { template: { spec: { containers: [{ name: 'other', image: 'x' }, { name: 'coredns', image: COREDNS }] } } } } },
    });
    expect(await readKubeadmImages(client, ['coredns'])).toEqual({ coredns: COREDNS });
    client.close();
    const none = await serve({});
    expect(await readKubeadmImages(none, ['coredns'])).toEqual({});
    none.close();
  });

  it('says where it answers: its LoadBalancer address, or the node of its ready pod', async () => {
    const lb = aCluster('dev').build();
    lb.spec.loadBalancer.enabled = true;
    const addon = { options: { domains: ['test', 'dev.example'] } };
    let client = await serve({ '/api/v1/namespaces/kube-system/services/mk-ingress-dns': { status: 200, body: { status: { loadBalancer: { ingress: [{ ip: '172.28.0.193' }] } } } } });
    const atLb = await ingressDnsEndpoint(client, lb, addon);
    expect(atLb).toEqual({ domains: ['test', 'dev.example'], address: '172.28.0.193', via: 'load balancer' });
    expect(describeIngressDns(atLb)).toBe('172.28.0.193 answers *.test, *.dev.example (port 53; its LoadBalancer address): point a resolver for test, dev.example there');
    client.close();

    const pods = (ready: string) => ({ status: 200, body: { items: [{ spec: { nodeName: 'dev-worker-1' }, status: { hostIP: '172.28.0.3', conditions: [{ type: 'Ready', status: ready }] } }] } }) as Answer;
    const traefik = (node: string) => ({ status: 200, body: { items: [{ spec: { nodeName: node } }] } }) as Answer;
    const dnsPods = '/api/v1/namespaces/kube-system/pods?labelSelector=app%3Dmk-ingress-dns';
    const traefikPods = '/api/v1/namespaces/traefik/pods?labelSelector=app.kubernetes.io%2Fname%3Dtraefik%2Capp.kubernetes.io%2Finstance%3Dtraefik';
    client = await serve({ [dnsPods]: pods('True'), [traefikPods]: traefik('dev-worker-1') });
    const atNode = await ingressDnsEndpoint(client, aCluster('dev').build(), { options: {} });
    expect(describeIngressDns(atNode)).toBe('172.28.0.3 answers *.test (port 53; the node Traefik runs on): point a resolver for test there');
    client.close();
    // Traefik moved after the server was placed on its node: said, with the way out.
    client = await serve({ [dnsPods]: pods('True'), [traefikPods]: traefik('dev-worker-2') });
    expect(describeIngressDns(await ingressDnsEndpoint(client, aCluster('dev').build(), { options: {} }))).toBe(
      '172.28.0.3 answers *.test with its own address, where Traefik no longer is (Traefik runs on node dev-worker-2, not dev-worker-1: kubectl -n kube-system rollout restart deployment/mk-ingress-dns moves it there)',
    );
    client.close();
    client = await serve({ '/api/v1/namespaces/kube-system/pods?labelSelector=app%3Dmk-ingress-dns': pods('False') });
    expect(describeIngressDns(await ingressDnsEndpoint(client, aCluster('dev').build(), { options: {} }))).toBe('*.test: no address yet (its pod in kube-system is not ready)');
    client.close();
  });
});
