// ingress: Traefik v3, serving Ingress (IngressClass "traefik", the default class) and Gateway API
// (GatewayClass "traefik" and a Gateway "traefik" that routes of every namespace attach to), on the
// Gateway API CRDs of the gateway-api addon. It replaced ingress-nginx, retired by SIG Network
// (no releases after March 2026). Written for mk from Traefik's documented facts (flags, ports,
// RBAC of its kubernetesIngress and kubernetesGateway providers). Like kind's ingress, it listens
// on the node's ports 80/443 (hostPort); the Service is a LoadBalancer when
// spec.loadBalancer.enabled, else NodePort.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon } from '../types.js';
import { ROUTES_FROM_HOST } from '../verified.js';
import { READ, RESTRICTED_CONTAINER, clusterRole, clusterRoleBinding, deployment, namespace, obj, rule, service, serviceAccount, withDefaults } from '../build.js';

const VERSION = 'v3.6.12';
const IMAGE = `docker.io/library/traefik:${VERSION}`;
const NS = 'traefik';
const NAME = 'traefik';
const SEL = { 'app.kubernetes.io/name': 'traefik', 'app.kubernetes.io/instance': 'traefik' };
/** Where Traefik runs, for addons that point at it (ingress-dns): its Service and Deployment (both NAME in NS), its pods' labels. */
export const TRAEFIK = { namespace: NS, name: NAME, podLabels: SEL } as const;
const NET = 'networking.k8s.io';
const GATEWAY = 'gateway.networking.k8s.io';
const GATEWAY_RESOURCES = ['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'referencegrants', 'backendtlspolicies'];
/** Traefik's entry points: container port, and the node's port (hostPort) and the Service's. */
const WEB = { name: 'web', containerPort: 8000, port: 80 };
const WEBSECURE = { name: 'websecure', containerPort: 8443, port: 443 };
const PING_PORT = 8080;

const optionsSchema = {
  hostPorts: { type: 'boolean', description: 'Listen on ports 80 and 443 of the node.', default: true },
  defaultClass: { type: 'boolean', description: 'Make "traefik" the default IngressClass.', default: true },
} as const;

function args(lb: boolean): string[] {
  // Where Ingress and Gateway status point: the Service's load balancer address, else the node itself.
  const status = lb
    ? [`--providers.kubernetesIngress.ingressEndpoint.publishedService=${NS}/${NAME}`, `--providers.kubernetesGateway.statusAddress.service.name=${NAME}`, `--providers.kubernetesGateway.statusAddress.service.namespace=${NS}`]
    : ['--providers.kubernetesIngress.ingressEndpoint.hostname=localhost', '--providers.kubernetesGateway.statusAddress.hostname=localhost'];
  return [
    `--entryPoints.${WEB.name}.address=:${WEB.containerPort}/tcp`,
    `--entryPoints.${WEBSECURE.name}.address=:${WEBSECURE.containerPort}/tcp`,
    `--entryPoints.${WEBSECURE.name}.http.tls=true`,
    `--entryPoints.traefik.address=:${PING_PORT}/tcp`,
    '--ping=true',
    '--ping.entryPoint=traefik',
    '--providers.kubernetesIngress=true',
    '--providers.kubernetesGateway=true',
    ...status,
    '--global.checkNewVersion=false',
    '--global.sendAnonymousUsage=false',
  ];
}

export const ingress: CatalogAddon = {
  name: 'ingress',
  version: VERSION,
  source: 'written-for-mk',
  description: 'Ingress and Gateway API controller (Traefik): IngressClass traefik, GatewayClass and Gateway traefik.',
  images: { controller: IMAGE },
  dependsOn: ['gateway-api'],
  verified: ROUTES_FROM_HOST,
  optionsSchema,
  render(options, cluster): K8sObject[] {
    const o = withDefaults<{ hostPorts: boolean; defaultClass: boolean }>(optionsSchema, options);
    const sa = { name: NAME, namespace: NS };
    const lb = cluster.spec.loadBalancer.enabled;
    const port = (p: typeof WEB) => ({ name: p.name, containerPort: p.containerPort, protocol: 'TCP', ...(o.hostPorts ? { hostPort: p.port } : {}) });
    const probe = { httpGet: { path: '/ping', port: PING_PORT, scheme: 'HTTP' }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 };
    return [
      namespace(NS, { 'app.kubernetes.io/name': 'traefik' }),
      serviceAccount(sa.name, NS),
      clusterRole(NAME, [
        rule([''], ['services', 'secrets', 'configmaps', 'nodes', 'namespaces'], READ),
        rule(['discovery.k8s.io'], ['endpointslices'], READ),
        rule(['extensions', NET], ['ingresses', 'ingressclasses'], READ),
        rule(['extensions', NET], ['ingresses/status'], ['update']),
        rule([GATEWAY], GATEWAY_RESOURCES, READ),
        rule([GATEWAY], GATEWAY_RESOURCES.map((r) => `${r}/status`), ['update']),
      ]),
      clusterRoleBinding(NAME, NAME, sa),
      service(NAME, NS, SEL, [
        { name: WEB.name, port: WEB.port, targetPort: WEB.name },
        { name: WEBSECURE.name, port: WEBSECURE.port, targetPort: WEBSECURE.name },
      ], { type: lb ? 'LoadBalancer' : 'NodePort', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'] }, SEL),
      deployment(NAME, NS, SEL, {
        serviceAccountName: sa.name,
        terminationGracePeriodSeconds: 30,
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
        securityContext: { runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true, fsGroup: 65532 },
        containers: [
          {
            name: 'traefik',
            image: IMAGE,
            imagePullPolicy: 'IfNotPresent',
            args: args(lb),
            ports: [port(WEB), port(WEBSECURE), { name: 'traefik', containerPort: PING_PORT, protocol: 'TCP' }],
            livenessProbe: { ...probe, initialDelaySeconds: 2 },
            readinessProbe: { ...probe, initialDelaySeconds: 1, periodSeconds: 2, failureThreshold: 1 },
            resources: { requests: { cpu: '100m', memory: '64Mi' } },
            securityContext: RESTRICTED_CONTAINER,
            volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'tmp', mountPath: '/tmp' }],
          },
        ],
        volumes: [{ name: 'data', emptyDir: {} }, { name: 'tmp', emptyDir: {} }],
      }, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } } }),
      // Not also a class "nginx" for Ingresses written for the ingress-nginx this addon used to
      // install: an IngressClass's controller is immutable, so a cluster upgraded from it could not take one.
      obj(`${NET}/v1`, 'IngressClass', NAME, undefined, { spec: { controller: 'traefik.io/ingress-controller' } }, SEL, o.defaultClass ? { 'ingressclass.kubernetes.io/is-default-class': 'true' } : undefined),
      obj(`${GATEWAY}/v1`, 'GatewayClass', NAME, undefined, { spec: { controllerName: 'traefik.io/gateway-controller' } }, SEL),
      obj(`${GATEWAY}/v1`, 'Gateway', NAME, NS, {
        spec: {
          gatewayClassName: NAME,
          // Traefik binds a listener to the entry point of the same port: the container's, not the Service's.
          listeners: [{ name: WEB.name, port: WEB.containerPort, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }],
        },
      }, SEL),
    ];
  },
};
