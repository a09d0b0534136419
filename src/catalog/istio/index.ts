// istio: the service mesh's control plane (istiod) with sidecar injection.
// Istio-sized, so it is built from two parts:
// - fetched at render time from the pinned release (sha256-checked, cached): the CRDs, the sidecar
//   and gateway injection templates, and the chart's default values those templates read;
// - written for mk from the upstream chart's facts (RBAC rules, ports, flags, webhook selectors):
//   istiod's Namespace, RBAC, mesh config, Deployment, Service and injection webhook.
import yaml from 'js-yaml';
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon, OptionsSchema } from '../types.js';
import { API_ACCEPTS } from '../verified.js';
import {
  READ,
  clusterRole,
  clusterRoleBinding,
  configMap,
  namespace,
  obj,
  podTemplate,
  role,
  roleBinding,
  rule,
  service,
  serviceAccount,
  withDefaults,
} from '../build.js';
import { parseManifests } from '../../manifests/load.js';
import { CatalogError } from '../errors.js';

const VERSION = '1.30.3';
const HUB = 'docker.io/istio';
const PILOT_IMAGE = `${HUB}/pilot:${VERSION}`;
const PROXY_IMAGE = `${HUB}/proxyv2:${VERSION}`;
const NS = 'istio-system';
const NAME = 'istiod';
const SEL = { app: NAME, istio: 'pilot' };
const REV = { 'istio.io/rev': 'default' };
const ALL_VERBS = ['get', 'watch', 'list', 'update', 'patch', 'create', 'delete'];

const optionsSchema: OptionsSchema = {
  injection: { type: 'boolean', description: 'Sidecar injection for namespaces labelled istio-injection=enabled and pods labelled sidecar.istio.io/inject=true.', default: true },
  replicas: { type: 'integer', description: 'Replicas of istiod.', default: 1 },
  accessLogFile: { type: 'string', description: 'Where sidecars write access logs ("/dev/stdout" to see them with kubectl logs; empty: off).', default: '' },
  releaseMirror: { type: 'string', description: `An https:// base URL with the same layout as the release's files (for networks without GitHub access); the pinned sha256 still applies.` },
};

type Options = { injection: boolean; replicas: number; accessLogFile: string };

const RELEASE_HINT = ` (are these istio ${VERSION}'s files? options.releaseMirror must serve that release)`;

/** The default values of the release's istio-discovery chart, as the injection templates read them. */
function injectorValues(valuesYaml: string): Record<string, unknown> {
  const doc = yaml.load(valuesYaml) as { _internal_defaults_do_not_set?: Record<string, unknown> } | null;
  const d = doc?._internal_defaults_do_not_set;
  if (!d || typeof d.global !== 'object') throw new CatalogError(`the release's values.yaml has no _internal_defaults_do_not_set.global${RELEASE_HINT}`);
  const pick = (o: unknown, keys: string[]) => Object.fromEntries(keys.filter((k) => o && typeof o === 'object' && k in o).map((k) => [k, (o as Record<string, unknown>)[k]]));
  return {
    global: { ...(d.global as Record<string, unknown>), hub: HUB, tag: VERSION, istioNamespace: NS },
    sidecarInjectorWebhook: d.sidecarInjectorWebhook,
    revision: '',
    pilot: pick(d, ['cni', 'env']),
    gateways: pick(d.gateways, ['securityContext', 'seccompProfile']),
  };
}

function meshConfig(o: Options): string {
  return yaml.dump({
    ...(o.accessLogFile ? { accessLogFile: o.accessLogFile } : {}),
    defaultConfig: { discoveryAddress: `${NAME}.${NS}.svc:15012` },
    defaultProviders: { metrics: ['prometheus'] },
    enablePrometheusMerge: true,
    rootNamespace: NS,
    trustDomain: 'cluster.local',
  });
}

function injectorConfig(files: Record<string, string>): string {
  return yaml.dump({
    defaultTemplates: ['sidecar'],
    policy: 'enabled',
    alwaysInjectSelector: [],
    neverInjectSelector: [],
    injectedAnnotations: {},
    templates: { sidecar: files.sidecarTemplate, gateway: files.gatewayTemplate },
  }, { lineWidth: -1 });
}

/** The four selectors of the default revision: namespace or pod opts in (by revision or by label). */
function injectionWebhooks(): Record<string, unknown>[] {
  const notDisabled = { key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] };
  const absent = (key: string) => ({ key, operator: 'DoesNotExist' });
  const hook = (prefix: string, namespaceSelector: unknown[], objectSelector: unknown[]) => ({
    name: `${prefix}sidecar-injector.istio.io`,
    clientConfig: { service: { name: NAME, namespace: NS, path: '/inject', port: 443 } },
    sideEffects: 'None',
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    failurePolicy: 'Fail',
    reinvocationPolicy: 'Never',
    admissionReviewVersions: ['v1'],
    namespaceSelector: { matchExpressions: namespaceSelector },
    objectSelector: { matchExpressions: objectSelector },
  });
  return [
    hook('rev.namespace.', [{ key: 'istio.io/rev', operator: 'In', values: ['default'] }, absent('istio-injection')], [notDisabled]),
    hook('rev.object.', [absent('istio.io/rev'), absent('istio-injection')], [notDisabled, { key: 'istio.io/rev', operator: 'In', values: ['default'] }]),
    hook('namespace.', [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }], [notDisabled]),
    hook('object.', [absent('istio-injection'), absent('istio.io/rev')], [{ key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] }, absent('istio.io/rev')]),
  ];
}

function istiodDeployment(o: Options): K8sObject {
  const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });
  const optionalSecret = (name: string, secretName: string) => ({ name, secret: { secretName, optional: true } });
  const podLabels = { ...SEL, ...REV, 'sidecar.istio.io/inject': 'false', 'istio.io/dataplane-mode': 'none' };
  return obj('apps/v1', 'Deployment', NAME, NS, {
    spec: {
      replicas: o.replicas,
      strategy: { rollingUpdate: { maxSurge: '100%', maxUnavailable: '25%' } },
      selector: { matchLabels: { istio: 'pilot' } },
      template: podTemplate(podLabels, {
        serviceAccountName: NAME,
        tolerations: [{ key: 'cni.istio.io/not-ready', operator: 'Exists' }],
        containers: [
          {
            name: 'discovery',
            image: PILOT_IMAGE,
            imagePullPolicy: 'IfNotPresent',
            args: ['discovery', '--monitoringAddr=:15014', '--log_output_level=default:info', '--domain', 'cluster.local', '--keepaliveMaxServerConnectionAge', '30m'],
            ports: [
              { containerPort: 8080, protocol: 'TCP', name: 'http-debug' },
              { containerPort: 15010, protocol: 'TCP', name: 'grpc-xds' },
              { containerPort: 15012, protocol: 'TCP', name: 'tls-xds' },
              { containerPort: 15017, protocol: 'TCP', name: 'https-webhooks' },
              { containerPort: 15014, protocol: 'TCP', name: 'http-monitoring' },
            ],
            readinessProbe: { httpGet: { path: '/ready', port: 8080 }, initialDelaySeconds: 1, periodSeconds: 3, timeoutSeconds: 5 },
            env: [
              { name: 'REVISION', value: 'default' },
              { name: 'PILOT_CERT_PROVIDER', value: 'istiod' },
              { name: 'POD_NAME', ...field('metadata.name') },
              { name: 'POD_NAMESPACE', ...field('metadata.namespace') },
              { name: 'SERVICE_ACCOUNT', ...field('spec.serviceAccountName') },
              { name: 'KUBECONFIG', value: '/var/run/secrets/remote/config' },
              { name: 'CA_TRUSTED_NODE_ACCOUNTS', value: `${NS}/ztunnel` },
              { name: 'PILOT_TRACE_SAMPLING', value: '1' },
              { name: 'PILOT_ENABLE_ANALYSIS', value: 'false' },
              { name: 'CLUSTER_ID', value: 'Kubernetes' },
              { name: 'GOMAXPROCS', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1' } } },
            ],
            // Sized for a local cluster (the chart's production default requests 2 GiB).
            resources: { requests: { cpu: '100m', memory: '256Mi' } },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [
              { name: 'istio-token', mountPath: '/var/run/secrets/tokens', readOnly: true },
              { name: 'local-certs', mountPath: '/var/run/secrets/istio-dns' },
              { name: 'cacerts', mountPath: '/etc/cacerts', readOnly: true },
              { name: 'istio-kubeconfig', mountPath: '/var/run/secrets/remote', readOnly: true },
              { name: 'istio-csr-dns-cert', mountPath: '/var/run/secrets/istiod/tls', readOnly: true },
              { name: 'istio-csr-ca-configmap', mountPath: '/var/run/secrets/istiod/ca', readOnly: true },
            ],
          },
        ],
        volumes: [
          { name: 'local-certs', emptyDir: { medium: 'Memory' } },
          { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
          optionalSecret('cacerts', 'cacerts'),
          optionalSecret('istio-kubeconfig', 'istio-kubeconfig'),
          optionalSecret('istio-csr-dns-cert', 'istiod-tls'),
          { name: 'istio-csr-ca-configmap', configMap: { name: 'istio-ca-root-cert', defaultMode: 420, optional: true } },
        ],
      }, { 'prometheus.io/port': '15014', 'prometheus.io/scrape': 'true', 'sidecar.istio.io/inject': 'false' }),
    },
  }, { ...SEL, ...REV });
}

export const istio: CatalogAddon = {
  name: 'istio',
  version: VERSION,
  source: 'fetched',
  description: 'Istio service mesh: istiod with sidecar injection (label a namespace istio-injection=enabled).',
  images: { pilot: PILOT_IMAGE, proxyv2: PROXY_IMAGE },
  dependsOn: [],
  verified: API_ACCEPTS,
  optionsSchema,
  fetched: {
    baseUrl: `https://raw.githubusercontent.com/istio/istio/${VERSION}`,
    files: {
      crds: { path: 'manifests/charts/base/files/crd-all.gen.yaml', sha256: 'dcb43ff6b9af2f629b80b6a82597f5a91db259c757e66cc5353ac007da28351a' },
      sidecarTemplate: { path: 'manifests/charts/istio-control/istio-discovery/files/injection-template.yaml', sha256: '3c0fedcfea11beb467613914306c1dc11fad57ceabb3b96390064368f5a77404' },
      gatewayTemplate: { path: 'manifests/charts/istio-control/istio-discovery/files/gateway-injection-template.yaml', sha256: '79417fa7747079495dbc56e48cc01faff2b4c72476eaefd3fdabc9b7fad18d2b' },
      values: { path: 'manifests/charts/istio-control/istio-discovery/values.yaml', sha256: 'd6b9d64100f695973a1b87a2cedfce597669807d77fd14d00149d56538dd43a1' },
    },
  },
  render(options, _cluster, _env, files): K8sObject[] {
    if (!files) throw new CatalogError('istio renders from its release files; they were not fetched');
    const o = withDefaults<Options>(optionsSchema, options);
    const sa = { name: NAME, namespace: NS };
    const labels = { app: NAME, ...REV };
    const crds = parseManifests(files.crds ?? '', 'istio crd-all.gen.yaml');
    if (crds.length === 0 || crds.some((c) => c.kind !== 'CustomResourceDefinition')) throw new CatalogError(`the release's crd-all.gen.yaml does not hold only CustomResourceDefinitions${RELEASE_HINT}`);
    const injection: K8sObject[] = o.injection
      ? [
          configMap('istio-sidecar-injector', NS, { values: JSON.stringify(injectorValues(files.values ?? ''), null, 2), config: injectorConfig(files) }, labels),
          obj('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', 'istio-sidecar-injector', undefined, { webhooks: injectionWebhooks() }, { ...labels, app: 'sidecar-injector' }),
        ]
      : [];
    return [
      namespace(NS),
      ...crds,
      serviceAccount(NAME, NS, labels),
      clusterRole(`istiod-clusterrole-${NS}`, [
        rule(['admissionregistration.k8s.io'], ['mutatingwebhookconfigurations'], ['get', 'list', 'watch', 'update', 'patch']),
        rule(['admissionregistration.k8s.io'], ['validatingwebhookconfigurations'], ['get', 'list', 'watch', 'update']),
        rule(['config.istio.io', 'security.istio.io', 'networking.istio.io', 'authentication.istio.io', 'rbac.istio.io', 'telemetry.istio.io', 'extensions.istio.io'], ['*'], READ),
        rule(['networking.istio.io'], ['workloadentries', 'workloadentries/status', 'serviceentries/status'], ALL_VERBS),
        rule(['security.istio.io'], ['authorizationpolicies/status'], ALL_VERBS),
        rule([''], ['services/status'], ALL_VERBS),
        rule(['apiextensions.k8s.io'], ['customresourcedefinitions'], READ),
        rule([''], ['pods', 'nodes', 'services', 'namespaces', 'endpoints'], READ),
        rule(['discovery.k8s.io'], ['endpointslices'], READ),
        rule(['networking.k8s.io'], ['ingresses', 'ingressclasses'], READ),
        rule(['networking.k8s.io'], ['ingresses/status'], ['*']),
        rule([''], ['configmaps'], ['create', 'get', 'list', 'watch', 'update']),
        rule(['authentication.k8s.io'], ['tokenreviews'], ['create']),
        rule(['authorization.k8s.io'], ['subjectaccessreviews'], ['create']),
        rule(['gateway.networking.k8s.io', 'gateway.networking.x-k8s.io'], ['*'], READ),
        rule(['gateway.networking.k8s.io'], ['backendtlspolicies/status', 'gatewayclasses/status', 'gateways/status', 'grpcroutes/status', 'httproutes/status', 'referencegrants/status', 'tcproutes/status', 'tlsroutes/status', 'udproutes/status', 'listenersets/status'], ['update', 'patch']),
        rule(['gateway.networking.k8s.io'], ['gatewayclasses'], ['create', 'update', 'patch', 'delete']),
        rule([''], ['secrets'], READ),
        rule(['multicluster.x-k8s.io'], ['serviceexports'], ['get', 'watch', 'list', 'create', 'delete']),
        rule(['multicluster.x-k8s.io'], ['serviceimports'], READ),
      ], labels),
      clusterRole(`istiod-gateway-controller-${NS}`, [
        rule(['apps'], ['deployments'], ALL_VERBS),
        rule(['autoscaling'], ['horizontalpodautoscalers'], ALL_VERBS),
        rule(['policy'], ['poddisruptionbudgets'], ALL_VERBS),
        rule([''], ['services', 'serviceaccounts'], ALL_VERBS),
      ], labels),
      clusterRoleBinding(`istiod-clusterrole-${NS}`, `istiod-clusterrole-${NS}`, sa, labels),
      clusterRoleBinding(`istiod-gateway-controller-${NS}`, `istiod-gateway-controller-${NS}`, sa, labels),
      role(NAME, NS, [
        rule(['networking.istio.io'], ['gateways'], ['create']),
        rule([''], ['secrets'], ['create', 'get', 'watch', 'list', 'update', 'delete']),
        rule([''], ['configmaps'], ['delete']),
        rule(['coordination.k8s.io'], ['leases'], ['get', 'update', 'patch', 'create']),
      ], labels),
      roleBinding(NAME, NS, { kind: 'Role', name: NAME }, sa, labels),
      configMap('istio', NS, { mesh: meshConfig(o), meshNetworks: 'networks: {}' }, labels),
      ...injection,
      istiodDeployment(o),
      service(NAME, NS, SEL, [
        { name: 'grpc-xds', port: 15010, targetPort: 15010 },
        { name: 'https-dns', port: 15012, targetPort: 15012 },
        { name: 'https-webhook', port: 443, targetPort: 15017 },
        { name: 'http-monitoring', port: 15014, targetPort: 15014 },
      ], {}, { ...SEL, ...REV }),
    ];
  },
};
