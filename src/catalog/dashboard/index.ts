// dashboard: the Kubernetes Dashboard web UI (v2, with its metrics scraper). Reach it with
// `kubectl -n kubernetes-dashboard port-forward svc/kubernetes-dashboard 8443:443`.
// Written for mk from the upstream project's facts: images, flags, ports, the Secrets and
// ConfigMap it manages, RBAC. The Secrets are created empty: the dashboard fills them itself.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon } from '../types.js';
import { API_ACCEPTS } from '../verified.js';
import { READ, clusterRole, clusterRoleBinding, configMap, deployment, namespace, obj, role, roleBinding, rule, service, serviceAccount } from '../build.js';

const VERSION = 'v2.7.0';
const IMAGE = `docker.io/kubernetesui/dashboard:${VERSION}@sha256:2e500d29e9d5f4a086b908eb8dfe7ecac57d2ab09d65b24f588b1d449841ef93`;
const SCRAPER = 'docker.io/kubernetesui/metrics-scraper:v1.0.8@sha256:76049887f07a0476dc93efc2d3569b9529bf982b22d29f356092ce206e98765c';
const NS = 'kubernetes-dashboard';
const NAME = 'kubernetes-dashboard';

export const dashboard: CatalogAddon = {
  name: 'dashboard',
  version: VERSION,
  source: 'written-for-mk',
  description: 'Kubernetes Dashboard web UI.',
  images: { dashboard: IMAGE, 'metrics-scraper': SCRAPER },
  dependsOn: [],
  verified: API_ACCEPTS,
  optionsSchema: {},
  render(): K8sObject[] {
    const sa = { name: NAME, namespace: NS };
    const sel = { 'k8s-app': NAME };
    const scraperSel = { 'k8s-app': 'dashboard-metrics-scraper' };
    const secret = (name: string) => obj('v1', 'Secret', name, NS, { type: 'Opaque' }, sel);
    const hardened = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsUser: 1001, runAsGroup: 2001 };
    return [
      namespace(NS),
      serviceAccount(NAME, NS, sel),
      secret('kubernetes-dashboard-certs'),
      secret('kubernetes-dashboard-csrf'),
      secret('kubernetes-dashboard-key-holder'),
      configMap('kubernetes-dashboard-settings', NS, {}, sel),
      role(NAME, NS, [
        rule([''], ['secrets'], ['get', 'update', 'delete'], ['kubernetes-dashboard-key-holder', 'kubernetes-dashboard-certs', 'kubernetes-dashboard-csrf']),
        rule([''], ['configmaps'], ['get', 'update'], ['kubernetes-dashboard-settings']),
        rule([''], ['services'], ['proxy'], ['heapster', 'dashboard-metrics-scraper']),
        rule([''], ['services/proxy'], ['get'], ['heapster', 'http:heapster:', 'https:heapster:', 'dashboard-metrics-scraper', 'http:dashboard-metrics-scraper']),
      ], sel),
      clusterRole(NAME, [rule(['metrics.k8s.io'], ['pods', 'nodes'], READ)], sel),
      roleBinding(NAME, NS, { kind: 'Role', name: NAME }, sa, sel),
      clusterRoleBinding(NAME, NAME, sa, sel),
      service(NAME, NS, sel, [{ name: 'https', port: 443, targetPort: 8443 }], {}, sel),
      service('dashboard-metrics-scraper', NS, scraperSel, [{ name: 'http', port: 8000, targetPort: 8000 }], {}, scraperSel),
      deployment(NAME, NS, sel, {
        serviceAccountName: NAME,
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
        tolerations: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
        containers: [
          {
            name: NAME,
            image: IMAGE,
            imagePullPolicy: 'IfNotPresent',
            args: ['--auto-generate-certificates', `--namespace=${NS}`],
            ports: [{ containerPort: 8443, protocol: 'TCP' }],
            livenessProbe: { httpGet: { scheme: 'HTTPS', path: '/', port: 8443 }, initialDelaySeconds: 30, timeoutSeconds: 30 },
            securityContext: hardened,
            volumeMounts: [{ name: 'kubernetes-dashboard-certs', mountPath: '/certs' }, { name: 'tmp-volume', mountPath: '/tmp' }],
          },
        ],
        volumes: [{ name: 'kubernetes-dashboard-certs', secret: { secretName: 'kubernetes-dashboard-certs' } }, { name: 'tmp-volume', emptyDir: {} }],
      }, { strategy: { type: 'RollingUpdate' } }),
      deployment('dashboard-metrics-scraper', NS, scraperSel, {
        serviceAccountName: NAME,
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
        tolerations: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
        containers: [
          {
            name: 'dashboard-metrics-scraper',
            image: SCRAPER,
            imagePullPolicy: 'IfNotPresent',
            ports: [{ containerPort: 8000, protocol: 'TCP' }],
            livenessProbe: { httpGet: { scheme: 'HTTP', path: '/', port: 8000 }, initialDelaySeconds: 30, timeoutSeconds: 30 },
            securityContext: hardened,
            volumeMounts: [{ name: 'tmp-volume', mountPath: '/tmp' }],
          },
        ],
        volumes: [{ name: 'tmp-volume', emptyDir: {} }],
      }),
    ];
  },
};
