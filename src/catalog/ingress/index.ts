// ingress: the ingress-nginx controller, IngressClass "nginx" (the default class).
// Written for mk from the upstream project's facts: image, flags, ports, RBAC. Like kind's variant,
// it listens on the node's ports 80/443 (hostPort); the Service is a LoadBalancer when
// spec.loadBalancer.enabled, else NodePort. The admission webhook is not installed.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon } from '../types.js';
import { API_ACCEPTS } from '../verified.js';
import { READ, clusterRole, clusterRoleBinding, configMap, deployment, namespace, obj, role, roleBinding, rule, service, serviceAccount, withDefaults } from '../build.js';

const VERSION = 'v1.11.3';
const IMAGE = `registry.k8s.io/ingress-nginx/controller:${VERSION}@sha256:d56f135b6462cfc476447cfe564b83a45e8bb7da2774963b00d12161112270b7`;
const NS = 'ingress-nginx';
const NAME = 'ingress-nginx-controller';
const SEL = { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' };
const CONTROLLER_CLASS = 'k8s.io/ingress-nginx';
const NET = 'networking.k8s.io';

const optionsSchema = {
  hostPorts: { type: 'boolean', description: 'Listen on ports 80 and 443 of the node.', default: true },
  defaultClass: { type: 'boolean', description: 'Make "nginx" the default IngressClass.', default: true },
} as const;

export const ingress: CatalogAddon = {
  name: 'ingress',
  version: VERSION,
  source: 'written-for-mk',
  description: 'Ingress controller (ingress-nginx), IngressClass nginx.',
  images: { controller: IMAGE },
  dependsOn: [],
  verified: API_ACCEPTS,
  optionsSchema,
  render(options, cluster): K8sObject[] {
    const o = withDefaults<{ hostPorts: boolean; defaultClass: boolean }>(optionsSchema, options);
    const sa = { name: 'ingress-nginx', namespace: NS };
    const lb = cluster.spec.loadBalancer.enabled;
    const port = (name: string, containerPort: number) => ({ name, containerPort, protocol: 'TCP', ...(o.hostPorts ? { hostPort: containerPort } : {}) });
    const probe = { httpGet: { path: '/healthz', port: 10254, scheme: 'HTTP' }, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 5 };
    return [
      namespace(NS, { 'app.kubernetes.io/name': 'ingress-nginx' }),
      serviceAccount(sa.name, NS),
      clusterRole('ingress-nginx', [
        rule([''], ['configmaps', 'endpoints', 'nodes', 'pods', 'secrets', 'namespaces'], ['list', 'watch']),
        rule(['coordination.k8s.io'], ['leases'], ['list', 'watch']),
        rule([''], ['nodes'], ['get']),
        rule([''], ['services'], READ),
        rule([NET], ['ingresses', 'ingressclasses'], READ),
        rule([NET], ['ingresses/status'], ['update']),
        rule([''], ['events'], ['create', 'patch']),
        rule(['discovery.k8s.io'], ['endpointslices'], ['list', 'watch', 'get']),
      ]),
      role('ingress-nginx', NS, [
        rule([''], ['namespaces'], ['get']),
        rule([''], ['configmaps', 'pods', 'secrets', 'endpoints', 'services'], READ),
        rule([NET], ['ingresses', 'ingressclasses'], READ),
        rule([NET], ['ingresses/status'], ['update']),
        rule(['coordination.k8s.io'], ['leases'], ['get', 'update'], ['ingress-nginx-leader']),
        rule(['coordination.k8s.io'], ['leases'], ['create']),
        rule([''], ['events'], ['create', 'patch']),
        rule(['discovery.k8s.io'], ['endpointslices'], ['list', 'watch', 'get']),
      ]),
      clusterRoleBinding('ingress-nginx', 'ingress-nginx', sa),
      roleBinding('ingress-nginx', NS, { kind: 'Role', name: 'ingress-nginx' }, sa),
      configMap(NAME, NS, { 'allow-snippet-annotations': 'false' }),
      service(NAME, NS, SEL, [
        { name: 'http', port: 80, targetPort: 'http' },
        { name: 'https', port: 443, targetPort: 'https' },
      ], { type: lb ? 'LoadBalancer' : 'NodePort', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'] }, SEL),
      deployment(NAME, NS, SEL, {
        serviceAccountName: sa.name,
        dnsPolicy: 'ClusterFirst',
        terminationGracePeriodSeconds: 0,
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
        containers: [
          {
            name: 'controller',
            image: IMAGE,
            imagePullPolicy: 'IfNotPresent',
            args: [
              '/nginx-ingress-controller',
              '--election-id=ingress-nginx-leader',
              `--controller-class=${CONTROLLER_CLASS}`,
              '--ingress-class=nginx',
              `--configmap=$(POD_NAMESPACE)/${NAME}`,
              '--watch-ingress-without-class=true',
              ...(lb ? [`--publish-service=$(POD_NAMESPACE)/${NAME}`] : ['--publish-status-address=localhost']),
            ],
            env: [
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              { name: 'LD_PRELOAD', value: '/usr/local/lib/libmimalloc.so' },
            ],
            ports: [port('http', 80), port('https', 443)],
            livenessProbe: { ...probe, initialDelaySeconds: 10 },
            readinessProbe: { ...probe, initialDelaySeconds: 10, failureThreshold: 3 },
            lifecycle: { preStop: { exec: { command: ['/wait-shutdown'] } } },
            resources: { requests: { cpu: '100m', memory: '90Mi' } },
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 101,
              allowPrivilegeEscalation: false,
              seccompProfile: { type: 'RuntimeDefault' },
              capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
            },
          },
        ],
      }, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } } }),
      obj(`${NET}/v1`, 'IngressClass', 'nginx', undefined, { spec: { controller: CONTROLLER_CLASS } }, SEL, o.defaultClass ? { 'ingressclass.kubernetes.io/is-default-class': 'true' } : undefined),
    ];
  },
};
