// default-storageclass: a StorageClass "standard" marked as the cluster default. Its provisioner
// is the storage addon's (local-path, WaitForFirstConsumer) unless options.provisioner says otherwise.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon } from '../types.js';
import { API_ACCEPTS } from '../verified.js';
import { obj, withDefaults } from '../build.js';
import { LOCAL_PATH_PROVISIONER } from '../storage/index.js';

const optionsSchema = {
  name: { type: 'string', description: 'StorageClass name.', default: 'standard' },
  provisioner: { type: 'string', description: 'Provisioner of the class.', default: LOCAL_PATH_PROVISIONER },
  reclaimPolicy: { type: 'string', description: 'Delete or Retain.', default: 'Delete', enum: ['Delete', 'Retain'] },
} as const;

export const defaultStorageClass: CatalogAddon = {
  name: 'default-storageclass',
  version: 'v1',
  source: 'written-for-mk',
  description: 'The default StorageClass ("standard").',
  images: {},
  dependsOn: ['storage'],
  verified: API_ACCEPTS,
  optionsSchema,
  render(options): K8sObject[] {
    const o = withDefaults<{ name: string; provisioner: string; reclaimPolicy: string }>(optionsSchema, options);
    return [
      obj('storage.k8s.io/v1', 'StorageClass', o.name, undefined, {
        provisioner: o.provisioner,
        reclaimPolicy: o.reclaimPolicy,
        volumeBindingMode: 'WaitForFirstConsumer',
      }, {}, { 'storageclass.kubernetes.io/is-default-class': 'true' }),
    ];
  },
};
