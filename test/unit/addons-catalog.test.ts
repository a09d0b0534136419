// Every catalog addon renders valid, deterministic objects with pinned images; metallb's auto
// pool; readiness checks per kind; the spec rules that use the catalog.
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/catalog/index.js';
import { autoAddressPool } from '../../src/catalog/metallb/pool.js';
import { checkOptions } from '../../src/catalog/options.js';
import { objectReadiness } from '../../src/manifests/readiness.js';
import { withAddonLabels, refKey, refOf } from '../../src/manifests/labels.js';
import { validateCluster } from '../../src/spec/validate.js';
import type { K8sObject } from '../../src/manifests/types.js';
import type { CatalogAddon, RenderEnv } from '../../src/catalog/types.js';
import type { Cluster } from '../../src/spec/types.js';
import { aCluster } from './builders.js';

const CLUSTER_SCOPED = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'StorageClass', 'CSIDriver', 'IngressClass', 'APIService', 'PriorityClass', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'VolumeSnapshotClass', 'GatewayClass']);
const COREDNS = 'registry.k8s.io/coredns/coredns:v1.14.2';
const ENV: RenderEnv = { network: { subnet: '172.28.0.0/24', gateway: '172.28.0.1', used: ['172.28.0.2'] }, kubeadmImages: { coredns: COREDNS } };

const crdText = (group: string, plural: string, kind: string, scope = 'Namespaced') =>
  [
    '# generated',
    'apiVersion: apiextensions.k8s.io/v1',
    'kind: CustomResourceDefinition',
    'metadata:',
    `  name: ${plural}.${group}`,
    'spec:',
    `  group: ${group}`,
    `  names: {kind: ${kind}, listKind: ${kind}List, plural: ${plural}, singular: ${kind.toLowerCase()}}`,
    `  scope: ${scope}`,
    '  versions:',
    '  - name: v1',
    '    served: true',
    '    storage: true',
    '    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}',
  ].join('\n');
const GATEWAY_KINDS: [string, string][] = [['backendtlspolicies', 'BackendTLSPolicy'], ['gatewayclasses', 'GatewayClass'], ['gateways', 'Gateway'], ['grpcroutes', 'GRPCRoute'], ['httproutes', 'HTTPRoute'], ['referencegrants', 'ReferenceGrant']];

/** Stand-ins for the release files of the entries that fetch them: small texts of the real files' shapes, written here. */
const RELEASE_FILES: Record<string, Record<string, string>> = {
  'gateway-api': { crds: GATEWAY_KINDS.map(([plural, kind]) => crdText('gateway.networking.k8s.io', plural, kind, kind === 'GatewayClass' ? 'Cluster' : 'Namespaced')).join('\n---\n') },
  istio: {
    crds: crdText('networking.istio.io', 'gateways', 'Gateway'),
    sidecarTemplate: 'spec:\n  containers:\n  - name: istio-proxy\n    image: "{{ .Values.global.hub }}/proxyv2:{{ .Values.global.tag }}"\n',
    gatewayTemplate: 'metadata:\n  annotations: {}\n',
    values: [
      '_internal_defaults_do_not_set:',
      '  replicaCount: 1',
      '  cni: {enabled: false}',
      '  env: {}',
      '  sidecarInjectorWebhook: {templates: {}, defaultTemplates: []}',
      '  gateways: {securityContext: {}, seccompProfile: {}, other: 1}',
      '  global: {hub: registry.istio.io/testing, tag: latest, proxy: {image: proxyv2, autoInject: enabled}}',
    ].join('\n'),
  },
};
const renderEntry = (entry: CatalogAddon, options: Record<string, unknown>, cluster: Cluster, env?: RenderEnv) =>
  entry.render(options, cluster, env, entry.fetched ? RELEASE_FILES[entry.name] : undefined);

function images(obj: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key?: string) => {
    if (Array.isArray(v)) v.forEach((x) => walk(x));
    else if (v && typeof v === 'object') Object.entries(v).forEach(([k, x]) => walk(x, k));
    else if (key === 'image' && typeof v === 'string') out.push(v);
  };
  walk(obj);
  return out;
}

describe('catalog', () => {
  for (const entry of CATALOG.values()) {
    describe(entry.name, () => {
      const cluster = aCluster('dev').build();
      const objects = renderEntry(entry, {}, cluster, ENV);

      it('renders objects with apiVersion, kind, a DNS-safe name, namespaces where needed, no duplicates', () => {
        expect(objects.length).toBeGreaterThan(0);
        const keys = new Set<string>();
        for (const o of objects) {
          expect(o.apiVersion, JSON.stringify(o.metadata)).toMatch(/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/);
          expect(o.kind).toMatch(/^[A-Z][A-Za-z0-9]+$/);
          expect(o.metadata.name).toMatch(/^[a-z0-9]([a-z0-9.:-]*[a-z0-9])?$/);
          if (CLUSTER_SCOPED.has(o.kind)) expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBeUndefined();
          else expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBeTruthy();
          const k = refKey(refOf(o));
          expect(keys.has(k), k).toBe(false);
          keys.add(k);
        }
      });

      it('is deterministic and labelled by the engine', () => {
        expect(renderEntry(entry, {}, cluster, ENV)).toEqual(objects);
        for (const o of objects.map((x) => withAddonLabels(x, 'dev', entry.name))) {
          expect(o.metadata.labels).toMatchObject({ 'mk.dev/cluster': 'dev', 'mk.dev/addon': entry.name, 'app.kubernetes.io/managed-by': 'mk' });
        }
      });

      it('runs only the pinned images it declares (a tag, a digest or both, never latest), or kubeadm\'s as the cluster runs them', () => {
        const used = new Set(objects.flatMap(images));
        const declared = new Set(Object.values(entry.images));
        for (const which of Object.values(entry.kubeadmImages ?? {})) used.delete(ENV.kubeadmImages![which]!);
        for (const img of used) expect(declared.has(img), img).toBe(true);
        for (const img of declared) expect(img).toMatch(/^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(:[A-Za-z0-9._-]+(@sha256:[a-f0-9]{64})?|@sha256:[a-f0-9]{64})$/);
        for (const img of declared) expect(img).not.toMatch(/:latest$/);
      });

      it('workloads select their own pod labels; CRD-backed kinds come with their CRD or a dependency', () => {
        for (const o of objects.filter((x) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(x.kind))) {
          const spec = o.spec as { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> } } };
          expect(spec.template.metadata.labels).toMatchObject(spec.selector.matchLabels);
        }
        const builtin = /^(v1|apps\/v1|rbac\.authorization\.k8s\.io\/v1|storage\.k8s\.io\/v1|networking\.k8s\.io\/v1|apiextensions\.k8s\.io\/v1|apiregistration\.k8s\.io\/v1|batch\/v1|policy\/v1|scheduling\.k8s\.io\/v1|admissionregistration\.k8s\.io\/v1)$/;
        const groups = new Set(
          [entry, ...entry.dependsOn.map((d) => CATALOG.get(d)!)]
            .flatMap((e) => renderEntry(e, {}, cluster, ENV))
            .filter((o) => o.kind === 'CustomResourceDefinition')
            .map((o) => (o.spec as { group: string }).group),
        );
        for (const o of objects.filter((x) => !builtin.test(x.apiVersion))) expect(groups.has(o.apiVersion.split('/')[0]!), `${o.kind} ${o.apiVersion}`).toBe(true);
      });

      it('has defaults that satisfy its own options schema', () => {
        const defaults = Object.fromEntries(Object.entries(entry.optionsSchema).filter(([, d]) => d.default !== undefined).map(([k, d]) => [k, d.default]));
        expect(checkOptions(entry.optionsSchema, defaults)).toEqual([]);
      });
    });
  }

  it('metallb pool from the spec, or auto from the network', () => {
    const c = aCluster('dev').build();
    c.spec.loadBalancer = { enabled: true, addressPool: ['172.30.0.200-172.30.0.250', '172.30.1.0/28'] };
    const pool = CATALOG.get('metallb')!.render({}, c).find((o) => o.kind === 'IPAddressPool');
    expect(pool?.spec).toEqual({ addresses: ['172.30.0.200-172.30.0.250', '172.30.1.0/28'], autoAssign: true });
    c.spec.loadBalancer.addressPool = 'auto';
    expect(() => CATALOG.get('metallb')!.render({}, c)).toThrow(/network is not known/);
  });

  it('ingress (Traefik): a LoadBalancer Service whose address Ingress and Gateway status report when loadBalancer.enabled, else NodePort and localhost', () => {
    const c = aCluster('dev').build();
    const render = (options: Record<string, unknown> = {}) => CATALOG.get('ingress')!.render(options, c);
    const svc = () => render().find((o) => o.kind === 'Service')?.spec as { type: string };
    const args = () => (render().find((o) => o.kind === 'Deployment')!.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0]!.args;
    expect(svc().type).toBe('NodePort');
    expect(args()).toContain('--providers.kubernetesIngress.ingressEndpoint.hostname=localhost');
    expect(args()).toContain('--providers.kubernetesGateway.statusAddress.hostname=localhost');
    c.spec.loadBalancer.enabled = true;
    expect(svc().type).toBe('LoadBalancer');
    expect(args()).toContain('--providers.kubernetesIngress.ingressEndpoint.publishedService=traefik/traefik');
    expect(args()).toEqual(expect.arrayContaining(['--providers.kubernetesGateway.statusAddress.service.name=traefik', '--providers.kubernetesGateway.statusAddress.service.namespace=traefik']));
  });

  it('ingress (Traefik): node ports 80/443 onto its entry points, the Gateway listening on the web entry point, "traefik" the default class', () => {
    const c = aCluster('dev').build();
    const render = (options: Record<string, unknown> = {}) => CATALOG.get('ingress')!.render(options, c);
    type Port = { name: string; containerPort: number; hostPort?: number };
    const container = (objs: K8sObject[]) => (objs.find((o) => o.kind === 'Deployment')!.spec as { template: { spec: { containers: { args: string[]; ports: Port[] }[] } } }).template.spec.containers[0]!;
    const { args, ports } = container(render());
    expect(ports.filter((p) => p.hostPort !== undefined).map((p) => [p.hostPort, p.containerPort])).toEqual([[80, 8000], [443, 8443]]);
    for (const p of ports) expect(args).toContain(`--entryPoints.${p.name}.address=:${p.containerPort}/tcp`);
    expect(container(render({ hostPorts: false })).ports.filter((p) => p.hostPort !== undefined)).toEqual([]);
    const gateway = render().find((o) => o.kind === 'Gateway')!.spec as { gatewayClassName: string; listeners: { port: number; protocol: string }[] };
    expect(gateway.gatewayClassName).toBe(render().find((o) => o.kind === 'GatewayClass')!.metadata.name);
    expect(gateway.listeners).toMatchObject([{ port: 8000, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }]);
    const classes = (objs: K8sObject[]) => objs.filter((o) => o.kind === 'IngressClass').map((o) => [o.metadata.name, o.metadata.annotations?.['ingressclass.kubernetes.io/is-default-class'], (o.spec as { controller: string }).controller]);
    expect(classes(render())).toEqual([['traefik', 'true', 'traefik.io/ingress-controller']]);
    expect(classes(render({ defaultClass: false }))).toEqual([['traefik', undefined, 'traefik.io/ingress-controller']]);
  });

  it('gateway-api: the standard channel\'s six CRDs as the module holds them, and nothing else', () => {
    const entry = CATALOG.get('gateway-api')!;
    const c = aCluster('dev').build();
    expect(renderEntry(entry, {}, c).map((o) => o.metadata.name)).toEqual(GATEWAY_KINDS.map(([plural]) => `${plural}.gateway.networking.k8s.io`));
    expect(() => entry.render({}, c)).toThrow(/were not fetched/);
    expect(() => entry.render({}, c, undefined, { crds: crdText('gateway.networking.k8s.io', 'gateways', 'Gateway') })).toThrow(/hold gateways\.gateway\.networking\.k8s\.io, not the CustomResourceDefinitions backendtlspolicies/);
  });
});

describe('istio', () => {
  const entry = CATALOG.get('istio')!;
  const c = aCluster('dev').build();
  const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);

  it('applies the release\'s CRDs as they are, and refuses to render without the release files', () => {
    const objects = renderEntry(entry, {}, c);
    expect(find(objects, 'CustomResourceDefinition', 'gateways.networking.istio.io')?.spec).toMatchObject({ group: 'networking.istio.io', scope: 'Namespaced' });
    expect(() => entry.render({}, c)).toThrow(/release files/);
    expect(() => entry.render({}, c, undefined, { ...RELEASE_FILES.istio, crds: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: y}\n' })).toThrow(/only CustomResourceDefinitions/);
  });

  it('sidecar injection: templates from the release, its default values with mk\'s pinned hub and tag, the webhook through istiod', () => {
    const objects = renderEntry(entry, {}, c);
    const injector = find(objects, 'ConfigMap', 'istio-sidecar-injector') as K8sObject & { data: { config: string; values: string } };
    const config = yaml.load(injector.data.config) as { templates: Record<string, string>; defaultTemplates: string[]; policy: string };
    expect(config.templates).toEqual({ sidecar: RELEASE_FILES.istio!.sidecarTemplate, gateway: RELEASE_FILES.istio!.gatewayTemplate });
    expect(config).toMatchObject({ defaultTemplates: ['sidecar'], policy: 'enabled' });
    const values = JSON.parse(injector.data.values) as Record<string, Record<string, unknown>>;
    expect(values.global).toMatchObject({ hub: 'docker.io/istio', tag: entry.version, istioNamespace: 'istio-system', proxy: { image: 'proxyv2', autoInject: 'enabled' } });
    expect(values.pilot).toEqual({ cni: { enabled: false }, env: {} });
    expect(values.gateways).toEqual({ securityContext: {}, seccompProfile: {} });
    expect(`${String(values.global!.hub)}/proxyv2:${String(values.global!.tag)}`).toBe(entry.images.proxyv2);
    const webhook = find(objects, 'MutatingWebhookConfiguration', 'istio-sidecar-injector') as K8sObject & { webhooks: { name: string; clientConfig: unknown; namespaceSelector: unknown }[] };
    expect(webhook.webhooks.map((w) => w.name)).toEqual(['rev.namespace.sidecar-injector.istio.io', 'rev.object.sidecar-injector.istio.io', 'namespace.sidecar-injector.istio.io', 'object.sidecar-injector.istio.io']);
    expect(webhook.webhooks[2]!.namespaceSelector).toEqual({ matchExpressions: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }] });
    for (const w of webhook.webhooks) expect(w.clientConfig).toEqual({ service: { name: 'istiod', namespace: 'istio-system', path: '/inject', port: 443 } });
    const svc = find(objects, 'Service', 'istiod') as K8sObject & { spec: { selector: Record<string, string>; ports: { port: number; targetPort: number }[] } };
    expect(svc.spec.ports.find((p) => p.port === 443)?.targetPort).toBe(15017);
    const pod = (find(objects, 'Deployment', 'istiod')!.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(pod).toMatchObject(svc.spec.selector);
  });

  it('options: injection off leaves out the injector; access log and replicas', () => {
    const objects = renderEntry(entry, { injection: false, accessLogFile: '/dev/stdout', replicas: 2 }, c);
    expect(find(objects, 'MutatingWebhookConfiguration', 'istio-sidecar-injector')).toBeUndefined();
    expect(find(objects, 'ConfigMap', 'istio-sidecar-injector')).toBeUndefined();
    expect(yaml.load((find(objects, 'ConfigMap', 'istio')!.data as { mesh: string }).mesh)).toMatchObject({ accessLogFile: '/dev/stdout', rootNamespace: 'istio-system', defaultConfig: { discoveryAddress: 'istiod.istio-system.svc:15012' } });
    expect((find(objects, 'Deployment', 'istiod')!.spec as { replicas: number }).replicas).toBe(2);
  });
});

describe('autoAddressPool', () => {
  it('takes the top quarter (at most 64) of the subnet, without the broadcast address', () => {
    expect(autoAddressPool({ subnet: '172.28.3.0/24' })).toEqual(['172.28.3.192-172.28.3.254']);
    expect(autoAddressPool({ subnet: '10.0.0.0/16' })).toEqual(['10.0.255.192-10.0.255.254']);
    expect(autoAddressPool({ subnet: '10.0.0.0/28' })).toEqual(['10.0.0.12-10.0.0.14']);
  });
  it('leaves out Docker\'s allocation range, the gateway and used addresses', () => {
    expect(autoAddressPool({ subnet: '172.28.3.0/24', ipRange: '172.28.3.192/29', used: ['172.28.3.200', '172.28.3.201/24'] })).toEqual(['172.28.3.202-172.28.3.254']);
    expect(autoAddressPool({ subnet: '172.28.3.0/24', ipRange: '172.28.3.224/27', gateway: '172.28.3.193' })).toEqual(['172.28.3.192-172.28.3.192', '172.28.3.194-172.28.3.223']);
  });
  it('refuses subnets too small or fully used', () => {
    expect(() => autoAddressPool({ subnet: '10.0.0.0/30' })).toThrow(/too small/);
    expect(() => autoAddressPool({ subnet: '10.0.0.0/24', ipRange: '10.0.0.128/25' })).toThrow(/no free addresses/);
    expect(() => autoAddressPool({ subnet: 'nope' })).toThrow();
  });
});

describe('objectReadiness', () => {
  const dep = (status: Record<string, unknown>, replicas = 2) => ({ kind: 'Deployment', metadata: { generation: 3 }, spec: { replicas }, status });
  it('Deployment: observed generation and available replicas', () => {
    expect(objectReadiness(dep({ observedGeneration: 3, availableReplicas: 2, updatedReplicas: 2 })).ready).toBe(true);
    expect(objectReadiness(dep({ observedGeneration: 2, availableReplicas: 2, updatedReplicas: 2 })).reason).toMatch(/observe generation 3/);
    expect(objectReadiness(dep({ observedGeneration: 3, availableReplicas: 1, updatedReplicas: 2, conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' }] })).reason).toBe('1/2 replicas available (MinimumReplicasUnavailable)');
    expect(objectReadiness(dep({ observedGeneration: 3, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'too slow' }] })).reason).toBe('0/2 replicas available (ProgressDeadlineExceeded: too slow)');
  });
  it('DaemonSet, StatefulSet, CRD, APIService, Job', () => {
    const meta = { generation: 1 };
    expect(objectReadiness({ kind: 'DaemonSet', metadata: meta, status: { observedGeneration: 1, desiredNumberScheduled: 3, numberReady: 3, updatedNumberScheduled: 3 } }).ready).toBe(true);
    expect(objectReadiness({ kind: 'DaemonSet', metadata: meta, status: { observedGeneration: 1, desiredNumberScheduled: 3, numberReady: 1, updatedNumberScheduled: 3 } }).reason).toBe('1/3 pods ready');
    expect(objectReadiness({ kind: 'StatefulSet', metadata: meta, spec: { replicas: 1 }, status: { observedGeneration: 1, readyReplicas: 0 } }).reason).toBe('0/1 replicas ready');
    expect(objectReadiness({ kind: 'CustomResourceDefinition', status: { conditions: [{ type: 'Established', status: 'True' }] } }).ready).toBe(true);
    expect(objectReadiness({ kind: 'CustomResourceDefinition', status: { conditions: [{ type: 'NamesAccepted', status: 'False', reason: 'MultipleNamesNotAllowed' }] } }).reason).toBe('not Established (MultipleNamesNotAllowed)');
    expect(objectReadiness({ kind: 'APIService', status: { conditions: [{ type: 'Available', status: 'False', reason: 'MissingEndpoints', message: 'no endpoints' }] } }).reason).toBe('not Available (MissingEndpoints: no endpoints)');
    expect(objectReadiness({ kind: 'Job', status: { conditions: [{ type: 'Complete', status: 'True' }] } }).ready).toBe(true);
    expect(objectReadiness({ kind: 'Job', status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] } }).reason).toBe('failed (BackoffLimitExceeded)');
    expect(objectReadiness({ kind: 'ConfigMap' }).ready).toBe(true);
  });
});

describe('spec rules for addons', () => {
  const base = { apiVersion: 'mk.dev/v1alpha1', kind: 'Cluster', metadata: { name: 'dev' } };
  it('reports unknown catalog addons (with a guess when one is close), options that do not fit their schema, and disabled dependencies', () => {
    const issues = validateCluster({
      ...base,
      spec: {
        addons: [
          { name: 'not-in-catalog' },
          { name: 'metrics-server', options: { replicas: 'two', bogus: 1 } },
          { name: 'registry', options: { storage: 'nfs' } },
          { name: 'default-storageclass' },
          { name: 'storage', enabled: false },
          { name: 'mine', manifests: 'app/' },
          { name: 'off-and-unknown', enabled: false },
        ],
      },
    });
    expect(issues).toEqual([
      { path: 'spec.addons[1].options.bogus', message: 'unknown field "bogus" (known fields: kubeletInsecureTLS, metricResolution, replicas)', at: 'key' },
      { path: 'spec.addons[1].options.replicas', message: 'must be a whole number, not a string' },
      { path: 'spec.addons[2].options.storage', message: 'must be one of: emptyDir, hostPath' },
      { path: 'spec.addons[0].name', message: expect.stringMatching(/^"not-in-catalog" is not an addon of mk's catalog \(.*metrics-server.*\); give manifests: to install your own$/) },
      { path: 'spec.addons[3].name', message: 'addon "default-storageclass" needs "storage", which spec.addons[4] disables' },
    ]);
  });

  it('guesses the catalog addon a wrong name meant, and checks options of addons that have none', () => {
    expect(validateCluster({ ...base, spec: { addons: [{ name: 'metric-server' }, { name: 'dashbaord' }, { name: 'dashboard', options: { port: 1 } }, { name: 'ingress', options: { hostport: false } }] } })).toEqual([
      { path: 'spec.addons[2].options.port', message: 'unknown field "port" (none may be set here)', at: 'key' },
      { path: 'spec.addons[3].options.hostport', message: 'unknown field "hostport" (did you mean "hostPorts"?)', at: 'key' },
      { path: 'spec.addons[0].name', message: `"metric-server" is not an addon of mk's catalog (did you mean "metrics-server"?); give manifests: to install your own` },
      { path: 'spec.addons[1].name', message: `"dashbaord" is not an addon of mk's catalog (did you mean "dashboard"?); give manifests: to install your own` },
    ]);
  });
  it('accepts force: true', () => {
    expect(validateCluster({ ...base, spec: { addons: [{ name: 'ingress', force: true }] } })).toEqual([]);
  });
});
