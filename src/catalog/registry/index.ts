// registry: an in-cluster OCI registry (CNCF Distribution) reachable as registry.kube-system.svc.
// Written for mk from the upstream image's facts: port 5000, /var/lib/registry, env configuration.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon } from '../types.js';
import { API_ACCEPTS } from '../verified.js';
import { deployment, service, withDefaults } from '../build.js';

const VERSION = '2.8.3';
const IMAGE = `docker.io/library/registry:${VERSION}@sha256:319881be2ee9e345d5837d15842a04268de6a139e23be42654fc7664fc6eaf52`;
const NS = 'kube-system';

const optionsSchema = {
  servicePort: { type: 'integer', description: 'Port of the registry Service.', default: 80 },
  storage: { type: 'string', description: 'emptyDir (lost with the pod) or hostPath (/var/lib/mk-registry on the node).', default: 'emptyDir', enum: ['emptyDir', 'hostPath'] },
} as const;

export const registry: CatalogAddon = {
  name: 'registry',
  version: VERSION,
  source: 'written-for-mk',
  description: 'An in-cluster container registry.',
  images: { registry: IMAGE },
  dependsOn: [],
  verified: API_ACCEPTS,
  optionsSchema,
  render(options): K8sObject[] {
    const o = withDefaults<{ servicePort: number; storage: string }>(optionsSchema, options);
    const sel = { app: 'registry' };
    return [
      deployment('registry', NS, sel, {
        containers: [
          {
            name: 'registry',
            image: IMAGE,
            imagePullPolicy: 'IfNotPresent',
            ports: [{ name: 'registry', containerPort: 5000, protocol: 'TCP' }],
            env: [
              { name: 'REGISTRY_STORAGE_DELETE_ENABLED', value: 'true' },
              { name: 'REGISTRY_HTTP_ADDR', value: ':5000' },
            ],
            readinessProbe: { httpGet: { path: '/v2/', port: 'registry' }, periodSeconds: 5 },
            livenessProbe: { httpGet: { path: '/v2/', port: 'registry' }, periodSeconds: 20 },
            volumeMounts: [{ name: 'data', mountPath: '/var/lib/registry' }],
          },
        ],
        volumes: [o.storage === 'hostPath' ? { name: 'data', hostPath: { path: '/var/lib/mk-registry', type: 'DirectoryOrCreate' } } : { name: 'data', emptyDir: {} }],
      }),
      service('registry', NS, sel, [{ name: 'http', port: o.servicePort, targetPort: 'registry' }], {}, sel),
    ];
  },
};
