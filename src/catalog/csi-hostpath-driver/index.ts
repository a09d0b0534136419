// csi-hostpath-driver: the Kubernetes CSI hostpath driver with its sidecars (provisioner, attacher,
// resizer, snapshotter, node registrar, liveness probe), a StorageClass and a VolumeSnapshotClass.
// For trying CSI features (snapshots, expansion) on one node; not for production data.
// Written for mk from the upstream projects' facts: images, flags, socket paths, RBAC.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon } from '../types.js';
import { API_ACCEPTS } from '../verified.js';
import { READ, clusterRole, clusterRoleBinding, obj, role, roleBinding, rule, serviceAccount, statefulSet } from '../build.js';
import { SNAPSHOT_GROUP } from '../volumesnapshots/index.js';

const VERSION = 'v1.15.0';
const DRIVER = 'hostpath.csi.k8s.io';
const NS = 'kube-system';
const NAME = 'csi-hostpathplugin';
const SA = 'csi-hostpathplugin-sa';
const SIG = 'registry.k8s.io/sig-storage';
const IMAGES = {
  hostpath: `${SIG}/hostpathplugin:${VERSION}`,
  provisioner: `${SIG}/csi-provisioner:v5.1.0`,
  attacher: `${SIG}/csi-attacher:v4.7.0`,
  resizer: `${SIG}/csi-resizer:v1.12.0`,
  snapshotter: `${SIG}/csi-snapshotter:v8.2.0`,
  registrar: `${SIG}/csi-node-driver-registrar:v2.12.0`,
  livenessprobe: `${SIG}/livenessprobe:v2.14.0`,
};
const SOCKET_DIR = '/var/lib/kubelet/plugins/csi-hostpath';
const ALL_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

export const csiHostpathDriver: CatalogAddon = {
  name: 'csi-hostpath-driver',
  version: VERSION,
  source: 'written-for-mk',
  description: 'CSI hostpath driver with snapshots and expansion (StorageClass csi-hostpath-sc).',
  images: IMAGES,
  dependsOn: ['volumesnapshots'],
  verified: API_ACCEPTS,
  optionsSchema: {},
  render(): K8sObject[] {
    const sa = { name: SA, namespace: NS };
    const sel = { 'app.kubernetes.io/name': 'csi-hostpath-driver', 'app.kubernetes.io/component': 'plugin' };
    const socket = { name: 'socket-dir', mountPath: '/csi' };
    const sidecar = (name: string, image: string, args: string[]) => ({ name, image, imagePullPolicy: 'IfNotPresent', args: [...args, '--csi-address=/csi/csi.sock'], volumeMounts: [socket] });
    const nodeName = { name: 'KUBE_NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } };
    const hostDir = (name: string, path: string, type: string) => ({ name, hostPath: { path, type } });
    return [
      serviceAccount(SA, NS),
      clusterRole('mk:csi-hostpath', [
        rule([''], ['persistentvolumes'], ALL_VERBS),
        rule([''], ['persistentvolumeclaims'], ['get', 'list', 'watch', 'update']),
        rule([''], ['persistentvolumeclaims/status'], ['patch']),
        rule([''], ['pods'], READ),
        rule([''], ['nodes'], READ),
        rule([''], ['events'], ['list', 'watch', 'create', 'update', 'patch']),
        rule(['storage.k8s.io'], ['storageclasses', 'csinodes', 'volumeattributesclasses'], READ),
        rule(['storage.k8s.io'], ['volumeattachments'], ['get', 'list', 'watch', 'patch']),
        rule(['storage.k8s.io'], ['volumeattachments/status'], ['patch']),
        rule([SNAPSHOT_GROUP], ['volumesnapshotclasses', 'volumesnapshots'], READ),
        rule([SNAPSHOT_GROUP], ['volumesnapshotcontents'], ['get', 'list', 'watch', 'update', 'patch']),
        rule([SNAPSHOT_GROUP], ['volumesnapshotcontents/status'], ['update', 'patch']),
      ]),
      clusterRoleBinding('mk:csi-hostpath', 'mk:csi-hostpath', sa),
      role('mk:csi-hostpath-leases', NS, [rule(['coordination.k8s.io'], ['leases'], ['get', 'watch', 'list', 'delete', 'update', 'create'])]),
      roleBinding('mk:csi-hostpath-leases', NS, { kind: 'Role', name: 'mk:csi-hostpath-leases' }, sa),
      obj('storage.k8s.io/v1', 'CSIDriver', DRIVER, undefined, {
        spec: { attachRequired: true, podInfoOnMount: true, volumeLifecycleModes: ['Persistent', 'Ephemeral'], fsGroupPolicy: 'File' },
      }),
      statefulSet(NAME, NS, sel, {
        serviceAccountName: SA,
        containers: [
          {
            name: 'hostpath',
            image: IMAGES.hostpath,
            imagePullPolicy: 'IfNotPresent',
            args: [`--drivername=${DRIVER}`, '--v=5', '--endpoint=$(CSI_ENDPOINT)', '--nodeid=$(KUBE_NODE_NAME)'],
            env: [{ name: 'CSI_ENDPOINT', value: 'unix:///csi/csi.sock' }, nodeName],
            securityContext: { privileged: true },
            ports: [{ name: 'healthz', containerPort: 9898, protocol: 'TCP' }],
            livenessProbe: { httpGet: { path: '/healthz', port: 'healthz' }, failureThreshold: 5, initialDelaySeconds: 10, timeoutSeconds: 3, periodSeconds: 2 },
            volumeMounts: [
              socket,
              { name: 'mountpoint-dir', mountPath: '/var/lib/kubelet/pods', mountPropagation: 'Bidirectional' },
              { name: 'plugins-dir', mountPath: '/var/lib/kubelet/plugins', mountPropagation: 'Bidirectional' },
              { name: 'csi-data-dir', mountPath: '/csi-data-dir' },
              { name: 'dev-dir', mountPath: '/dev' },
            ],
          },
          {
            name: 'node-driver-registrar',
            image: IMAGES.registrar,
            imagePullPolicy: 'IfNotPresent',
            args: ['--v=5', '--csi-address=/csi/csi.sock', `--kubelet-registration-path=${SOCKET_DIR}/csi.sock`],
            env: [nodeName],
            securityContext: { privileged: true },
            volumeMounts: [socket, { name: 'registration-dir', mountPath: '/registration' }, { name: 'csi-data-dir', mountPath: '/csi-data-dir' }],
          },
          sidecar('liveness-probe', IMAGES.livenessprobe, ['--health-port=9898']),
          sidecar('csi-attacher', IMAGES.attacher, ['--v=5']),
          sidecar('csi-provisioner', IMAGES.provisioner, ['--v=5', '--feature-gates=Topology=true']),
          sidecar('csi-resizer', IMAGES.resizer, ['--v=5']),
          sidecar('csi-snapshotter', IMAGES.snapshotter, ['--v=5']),
        ],
        volumes: [
          hostDir('socket-dir', SOCKET_DIR, 'DirectoryOrCreate'),
          hostDir('mountpoint-dir', '/var/lib/kubelet/pods', 'DirectoryOrCreate'),
          hostDir('registration-dir', '/var/lib/kubelet/plugins_registry', 'Directory'),
          hostDir('plugins-dir', '/var/lib/kubelet/plugins', 'Directory'),
          hostDir('csi-data-dir', '/var/lib/csi-hostpath-data/', 'DirectoryOrCreate'),
          hostDir('dev-dir', '/dev', 'Directory'),
        ],
      }, { serviceName: NAME }),
      obj('storage.k8s.io/v1', 'StorageClass', 'csi-hostpath-sc', undefined, { provisioner: DRIVER, reclaimPolicy: 'Delete', volumeBindingMode: 'Immediate', allowVolumeExpansion: true }),
      obj(`${SNAPSHOT_GROUP}/v1`, 'VolumeSnapshotClass', 'csi-hostpath-snapclass', undefined, { driver: DRIVER, deletionPolicy: 'Delete' }),
    ];
  },
};
