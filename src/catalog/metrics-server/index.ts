// metrics-server: resource metrics (kubectl top, HPA) through the aggregated metrics.k8s.io API.
// Written for mk from the upstream project's facts: image, port 10250, flags, RBAC, APIService.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon } from '../types.js';
import { RUNS } from '../verified.js';
import { READ, clusterRole, clusterRoleBinding, deployment, obj, roleBinding, rule, service, serviceAccount, withDefaults } from '../build.js';

const VERSION = 'v0.7.2';
const IMAGE = `registry.k8s.io/metrics-server/metrics-server:${VERSION}@sha256:ffcb2bf004d6aa0a17d90e0247cf94f2865c8901dcab4427034c341951c239f9`;
const NS = 'kube-system';
const NAME = 'metrics-server';
const SEL = { 'k8s-app': NAME };

const optionsSchema = {
  kubeletInsecureTLS: { type: 'boolean', description: 'Skip verifying kubelet serving certificates (self-signed on local clusters).', default: true },
  metricResolution: { type: 'string', description: 'Scrape interval (a Go duration).', default: '15s' },
  replicas: { type: 'integer', description: 'Replicas of the metrics-server Deployment.', default: 1 },
} as const;

export const metricsServer: CatalogAddon = {
  name: NAME,
  version: VERSION,
  source: 'written-for-mk',
  description: 'Resource metrics API (kubectl top, autoscaling).',
  images: { 'metrics-server': IMAGE },
  dependsOn: [],
  verified: RUNS,
  optionsSchema,
  render(options): K8sObject[] {
    const o = withDefaults<{ kubeletInsecureTLS: boolean; metricResolution: string; replicas: number }>(optionsSchema, options);
    const sa = { name: NAME, namespace: NS };
    const args = [
      '--cert-dir=/tmp',
      '--secure-port=10250',
      '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
      '--kubelet-use-node-status-port',
      `--metric-resolution=${o.metricResolution}`,
      ...(o.kubeletInsecureTLS ? ['--kubelet-insecure-tls'] : []),
    ];
    const probe = (path: string) => ({ httpGet: { path, port: 'https', scheme: 'HTTPS' }, periodSeconds: 10, failureThreshold: 3 });
    return [
      serviceAccount(NAME, NS, SEL),
      clusterRole('system:aggregated-metrics-reader', [rule(['metrics.k8s.io'], ['pods', 'nodes'], READ)], {
        ...SEL,
        'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
        'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
        'rbac.authorization.k8s.io/aggregate-to-view': 'true',
      }),
      clusterRole('system:metrics-server', [rule([''], ['nodes/metrics'], ['get']), rule([''], ['pods', 'nodes'], READ)], SEL),
      roleBinding('metrics-server-auth-reader', NS, { kind: 'Role', name: 'extension-apiserver-authentication-reader' }, sa, SEL),
      clusterRoleBinding('metrics-server:system:auth-delegator', 'system:auth-delegator', sa, SEL),
      clusterRoleBinding('system:metrics-server', 'system:metrics-server', sa, SEL),
      service(NAME, NS, SEL, [{ name: 'https', port: 443, targetPort: 'https' }], {}, SEL),
      deployment(NAME, NS, SEL, {
        serviceAccountName: NAME,
        priorityClassName: 'system-cluster-critical',
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        containers: [
          {
            name: NAME,
            image: IMAGE,
            imagePullPolicy: 'IfNotPresent',
            args,
            ports: [{ name: 'https', containerPort: 10250, protocol: 'TCP' }],
            readinessProbe: { ...probe('/readyz'), initialDelaySeconds: 20 },
            livenessProbe: probe('/livez'),
            resources: { requests: { cpu: '100m', memory: '200Mi' } },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 1000, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
            volumeMounts: [{ name: 'tmp-dir', mountPath: '/tmp' }],
          },
        ],
        volumes: [{ name: 'tmp-dir', emptyDir: {} }],
      }, { replicas: o.replicas, strategy: { rollingUpdate: { maxUnavailable: 0 } } }),
      obj('apiregistration.k8s.io/v1', 'APIService', 'v1beta1.metrics.k8s.io', undefined, {
        spec: { group: 'metrics.k8s.io', version: 'v1beta1', groupPriorityMinimum: 100, versionPriority: 100, insecureSkipTLSVerify: true, service: { name: NAME, namespace: NS, port: 443 } },
      }, SEL),
    ];
  },
};
