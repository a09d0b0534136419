// storage: a dynamic hostPath provisioner (Rancher's local-path-provisioner): each volume is a
// directory on the node its first consumer is scheduled to (WaitForFirstConsumer).
// Written for mk from the upstream project's facts: image, command, config format, RBAC; the
// setup/teardown scripts and helper pod are mk's own.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon } from '../types.js';
import { RUNS } from '../verified.js';
import { READ, clusterRole, clusterRoleBinding, configMap, deployment, namespace, obj, role, roleBinding, rule, serviceAccount, withDefaults } from '../build.js';

const VERSION = 'v0.0.30';
const IMAGE = `docker.io/rancher/local-path-provisioner:${VERSION}`;
const HELPER_IMAGE = 'docker.io/library/busybox:1.37.0';
export const LOCAL_PATH_PROVISIONER = 'rancher.io/local-path';
const NS = 'local-path-storage';
const NAME = 'local-path-provisioner';
const SEL = { app: NAME };

const optionsSchema = {
  path: { type: 'string', description: 'Directory on each node that holds the volumes.', default: '/var/local-path-provisioner' },
  storageClass: { type: 'string', description: 'Name of the StorageClass this addon creates.', default: 'local-path' },
} as const;

const SETUP = `#!/bin/sh
# Called by the provisioner with VOL_DIR set: make the volume's directory.
set -eu
mkdir -m 0777 -p "$VOL_DIR"
`;
const TEARDOWN = `#!/bin/sh
# Called by the provisioner with VOL_DIR set: remove the volume's directory.
set -eu
rm -rf "$VOL_DIR"
`;

export const storage: CatalogAddon = {
  name: 'storage',
  version: VERSION,
  source: 'written-for-mk',
  description: 'Dynamic hostPath volumes (local-path-provisioner), WaitForFirstConsumer.',
  images: { provisioner: IMAGE, helper: HELPER_IMAGE },
  dependsOn: [],
  verified: RUNS,
  optionsSchema,
  render(options): K8sObject[] {
    const o = withDefaults<{ path: string; storageClass: string }>(optionsSchema, options);
    const sa = { name: 'local-path-provisioner-service-account', namespace: NS };
    const config = { nodePathMap: [{ node: 'DEFAULT_PATH_FOR_NON_LISTED_NODES', paths: [o.path] }] };
    const helperPod = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata:',
      '  name: helper-pod',
      'spec:',
      '  priorityClassName: system-node-critical',
      '  tolerations:',
      '    - key: node.kubernetes.io/disk-pressure',
      '      operator: Exists',
      '      effect: NoSchedule',
      '  containers:',
      '    - name: helper-pod',
      `      image: ${HELPER_IMAGE}`,
      '      imagePullPolicy: IfNotPresent',
      '',
    ].join('\n');
    return [
      namespace(NS),
      serviceAccount(sa.name, NS),
      role('local-path-provisioner-role', NS, [rule([''], ['pods'], ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'])]),
      clusterRole('local-path-provisioner-role', [
        rule([''], ['nodes', 'persistentvolumeclaims', 'configmaps', 'pods', 'pods/log'], READ),
        rule([''], ['persistentvolumes'], ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete']),
        rule([''], ['events'], ['create', 'patch']),
        rule(['storage.k8s.io'], ['storageclasses'], READ),
      ]),
      roleBinding('local-path-provisioner-bind', NS, { kind: 'Role', name: 'local-path-provisioner-role' }, sa),
      clusterRoleBinding('local-path-provisioner-bind', 'local-path-provisioner-role', sa),
      configMap('local-path-config', NS, { 'config.json': JSON.stringify(config, null, 2), setup: SETUP, teardown: TEARDOWN, 'helperPod.yaml': helperPod }),
      deployment(NAME, NS, SEL, {
        serviceAccountName: sa.name,
        containers: [
          {
            name: NAME,
            image: IMAGE,
            imagePullPolicy: 'IfNotPresent',
            command: ['local-path-provisioner', '--debug', 'start', '--config', '/etc/config/config.json'],
            env: [
              { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              { name: 'CONFIG_MOUNT_PATH', value: '/etc/config/' },
            ],
            volumeMounts: [{ name: 'config-volume', mountPath: '/etc/config/' }],
          },
        ],
        volumes: [{ name: 'config-volume', configMap: { name: 'local-path-config' } }],
      }),
      obj('storage.k8s.io/v1', 'StorageClass', o.storageClass, undefined, {
        provisioner: LOCAL_PATH_PROVISIONER,
        volumeBindingMode: 'WaitForFirstConsumer',
        reclaimPolicy: 'Delete',
      }),
    ];
  },
};
