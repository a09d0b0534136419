// gateway-api: the Gateway API's CustomResourceDefinitions (sigs.k8s.io/gateway-api), standard
// channel, exactly as the release ships them: taken at render time from the module's zip on the Go
// module proxy (the one upstream source this machine and CI can reach), pinned by SHA-256 and
// cached. The ingress addon (Traefik) depends on it; any other Gateway API implementation can too.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon, OptionsSchema } from '../types.js';
import { parseManifests } from '../../manifests/load.js';
import { CatalogError } from '../errors.js';
import { ROUTES_FROM_HOST } from '../verified.js';

const VERSION = 'v1.4.0';
const MODULE = 'sigs.k8s.io/gateway-api';
const GROUP = 'gateway.networking.k8s.io';
/** The standard channel's CRDs, as the release's standard-install.yaml lists them. */
const KINDS = ['backendtlspolicies', 'gatewayclasses', 'gateways', 'grpcroutes', 'httproutes', 'referencegrants'];

const optionsSchema: OptionsSchema = {
  releaseMirror: { type: 'string', description: `An https:// Go module proxy path for ${MODULE} (like https://proxy.golang.org/${MODULE}/@v) serving ${VERSION}.zip, for networks without proxy.golang.org; the pinned sha256 still applies.` },
};

export const gatewayApi: CatalogAddon = {
  name: 'gateway-api',
  version: VERSION,
  source: 'fetched',
  description: 'Gateway API CRDs (standard channel): GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant, BackendTLSPolicy.',
  images: {},
  dependsOn: [],
  verified: ROUTES_FROM_HOST,
  optionsSchema,
  fetched: {
    baseUrl: `https://proxy.golang.org/${MODULE}/@v`,
    files: {
      crds: {
        path: `${VERSION}.zip`,
        sha256: '209e17fd8aa93b9444cf358240060e7435668ed7ca80793be160c59a74c4d5bc',
        members: KINDS.map((k) => `${MODULE}@${VERSION}/config/crd/standard/${GROUP}_${k}.yaml`),
      },
    },
  },
  render(_options, _cluster, _env, files): K8sObject[] {
    if (!files?.crds) throw new CatalogError(`gateway-api renders from the ${MODULE} ${VERSION} module's CRDs; they were not fetched`);
    const crds = parseManifests(files.crds, `${MODULE}@${VERSION} config/crd/standard`);
    const names = crds.map((c) => (c.kind === 'CustomResourceDefinition' ? c.metadata.name : `${c.kind} ${c.metadata.name}`));
    const expected = KINDS.map((k) => `${k}.${GROUP}`);
    if (JSON.stringify(names) !== JSON.stringify(expected)) throw new CatalogError(`the ${MODULE} files hold ${names.join(', ')}, not the CustomResourceDefinitions ${expected.join(', ')}`);
    return crds;
  },
};
