// volumesnapshots: the snapshot.storage.k8s.io CRDs and the snapshot controller (external-snapshotter).
// Written for mk from the upstream project's facts: CRD names, scopes and fields, image, RBAC.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon } from '../types.js';
import { API_ACCEPTS } from '../verified.js';
import { READ, clusterRole, clusterRoleBinding, crd, deployment, role, roleBinding, rule, serviceAccount } from '../build.js';

const VERSION = 'v8.2.0';
const IMAGE = `registry.k8s.io/sig-storage/snapshot-controller:${VERSION}`;
const NS = 'kube-system';
const NAME = 'snapshot-controller';
const SEL = { app: NAME };
export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';

export function snapshotCrds(): K8sObject[] {
  return [
    crd(SNAPSHOT_GROUP, 'VolumeSnapshotClass', 'volumesnapshotclasses', 'Cluster', [{ name: 'v1', status: false, columns: [['Driver', 'string', '.driver'], ['DeletionPolicy', 'string', '.deletionPolicy']] }], {
      shortNames: ['vsclass', 'vsclasses'],
      required: ['driver', 'deletionPolicy'],
      properties: {
        driver: { type: 'string' },
        deletionPolicy: { type: 'string', enum: ['Delete', 'Retain'] },
        parameters: { type: 'object', additionalProperties: { type: 'string' } },
      },
    }),
    crd(SNAPSHOT_GROUP, 'VolumeSnapshotContent', 'volumesnapshotcontents', 'Cluster', [{ name: 'v1', columns: [['ReadyToUse', 'boolean', '.status.readyToUse'], ['Driver', 'string', '.spec.driver']] }], {
      shortNames: ['vsc', 'vscs'],
      required: ['spec'],
    }),
    crd(SNAPSHOT_GROUP, 'VolumeSnapshot', 'volumesnapshots', 'Namespaced', [{ name: 'v1', columns: [['ReadyToUse', 'boolean', '.status.readyToUse'], ['SourcePVC', 'string', '.spec.source.persistentVolumeClaimName']] }], {
      shortNames: ['vs'],
      required: ['spec'],
    }),
  ];
}

export const volumeSnapshots: CatalogAddon = {
  name: 'volumesnapshots',
  version: VERSION,
  source: 'written-for-mk',
  description: 'VolumeSnapshot CRDs and the snapshot controller.',
  images: { 'snapshot-controller': IMAGE },
  dependsOn: [],
  verified: API_ACCEPTS,
  optionsSchema: {},
  render(): K8sObject[] {
    const sa = { name: NAME, namespace: NS };
    return [
      ...snapshotCrds(),
      serviceAccount(NAME, NS),
      clusterRole('snapshot-controller-runner', [
        rule([''], ['persistentvolumes'], READ),
        rule([''], ['persistentvolumeclaims'], ['get', 'list', 'watch', 'update']),
        rule(['storage.k8s.io'], ['storageclasses'], READ),
        rule([''], ['events'], ['list', 'watch', 'create', 'update', 'patch']),
        rule([SNAPSHOT_GROUP], ['volumesnapshotclasses'], READ),
        rule([SNAPSHOT_GROUP], ['volumesnapshotcontents'], ['create', 'get', 'list', 'watch', 'update', 'delete', 'patch']),
        rule([SNAPSHOT_GROUP], ['volumesnapshotcontents/status'], ['patch']),
        rule([SNAPSHOT_GROUP], ['volumesnapshots'], ['get', 'list', 'watch', 'update', 'patch', 'delete']),
        rule([SNAPSHOT_GROUP], ['volumesnapshots/status'], ['update', 'patch']),
      ]),
      clusterRoleBinding('snapshot-controller-role', 'snapshot-controller-runner', sa),
      role('snapshot-controller-leaderelection', NS, [rule(['coordination.k8s.io'], ['leases'], ['get', 'watch', 'list', 'delete', 'update', 'create'])]),
      roleBinding('snapshot-controller-leaderelection', NS, { kind: 'Role', name: 'snapshot-controller-leaderelection' }, sa),
      deployment(NAME, NS, SEL, {
        serviceAccountName: NAME,
        priorityClassName: 'system-cluster-critical',
        containers: [{ name: NAME, image: IMAGE, imagePullPolicy: 'IfNotPresent', args: ['--v=2', '--leader-election=true'] }],
      }, { replicas: 1, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } } }),
    ];
  },
};
