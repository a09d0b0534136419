// mk's addon catalog: one folder per addon. Every entry renders objects written for mk (istio and
// gateway-api also render pinned upstream release files). A new entry, or a changed option, also goes into
// schema/cluster.v1alpha1.json (addons[].name and the entry's options): test/unit/spec-schema.test.ts
// fails until the schema says the same as the catalog.
import type { CatalogAddon } from './types.js';
import { csiHostpathDriver } from './csi-hostpath-driver/index.js';
import { dashboard } from './dashboard/index.js';
import { gatewayApi } from './gateway-api/index.js';
import { defaultStorageClass } from './default-storageclass/index.js';
import { ingress } from './ingress/index.js';
import { ingressDns } from './ingress-dns/index.js';
import { istio } from './istio/index.js';
import { metallb } from './metallb/index.js';
import { metricsServer } from './metrics-server/index.js';
import { registry } from './registry/index.js';
import { storage } from './storage/index.js';
import { volumeSnapshots } from './volumesnapshots/index.js';

export const CATALOG: ReadonlyMap<string, CatalogAddon> = new Map(
  [metricsServer, storage, defaultStorageClass, volumeSnapshots, csiHostpathDriver, metallb, registry, gatewayApi, ingress, ingressDns, dashboard, istio].map((a) => [a.name, a]),
);

export function catalogAddon(name: string): CatalogAddon | undefined {
  return CATALOG.get(name);
}
