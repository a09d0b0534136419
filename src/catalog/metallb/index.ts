// metallb: LoadBalancer addresses in L2 mode (ARP). CRDs, controller, speaker, and the address pool
// from spec.loadBalancer.addressPool (auto: carved from the cluster's Docker network, see pool.ts).
// Written for mk from the upstream project's facts: images, flags, ports, CRD kinds, RBAC.
// The validating webhook is not installed (--webhook-mode=disabled): pools are rendered by mk.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon, RenderCluster, RenderEnv } from '../types.js';
import { RUNS } from '../verified.js';
import { READ, clusterRole, clusterRoleBinding, crd, daemonSet, deployment, namespace, obj, role, roleBinding, rule, serviceAccount } from '../build.js';
import { PoolError } from '../errors.js';
import { autoAddressPool } from './pool.js';

const VERSION = 'v0.14.9';
const CONTROLLER = `quay.io/metallb/controller:${VERSION}`;
const SPEAKER = `quay.io/metallb/speaker:${VERSION}`;
export const METALLB_NS = 'metallb-system';
const NS = METALLB_NS;
const G = 'metallb.io';
export const POOL_NAME = 'mk-pool';

export function metallbCrds(): K8sObject[] {
  const cols = (c: [string, string, string][]) => c;
  return [
    crd(G, 'IPAddressPool', 'ipaddresspools', 'Namespaced', [{ name: 'v1beta1', columns: cols([['Auto Assign', 'boolean', '.spec.autoAssign'], ['Addresses', 'string', '.spec.addresses']]) }], { required: ['spec'] }),
    crd(G, 'L2Advertisement', 'l2advertisements', 'Namespaced', [{ name: 'v1beta1', columns: cols([['IPAddressPools', 'string', '.spec.ipAddressPools']]) }]),
    // v1beta1 is still served upstream, and the controller looks BGPPeer up by it at start.
    crd(G, 'BGPPeer', 'bgppeers', 'Namespaced', [{ name: 'v1beta2', columns: cols([['Address', 'string', '.spec.peerAddress'], ['ASN', 'string', '.spec.peerASN']]) }, { name: 'v1beta1', storage: false }]),
    crd(G, 'BGPAdvertisement', 'bgpadvertisements', 'Namespaced', [{ name: 'v1beta1' }]),
    crd(G, 'BFDProfile', 'bfdprofiles', 'Namespaced', [{ name: 'v1beta1' }]),
    crd(G, 'Community', 'communities', 'Namespaced', [{ name: 'v1beta1' }]),
    crd(G, 'ServiceL2Status', 'servicel2statuses', 'Namespaced', [{ name: 'v1beta1', columns: cols([['Allocated Node', 'string', '.status.node']]) }]),
  ];
}

/** The pool's addresses: explicit ranges/CIDRs from the spec, or the auto pool from the network. */
export function poolAddresses(cluster: RenderCluster, env?: RenderEnv): string[] {
  const pool = cluster.spec.loadBalancer.addressPool;
  if (pool !== 'auto') return [...pool];
  if (!env?.network) throw new PoolError('loadBalancer.addressPool is auto, but the cluster network is not known yet');
  return autoAddressPool(env.network);
}

const METALLB_KINDS = ['ipaddresspools', 'bgpadvertisements', 'l2advertisements', 'bgppeers', 'bfdprofiles', 'communities'];

export const metallb: CatalogAddon = {
  name: 'metallb',
  version: VERSION,
  source: 'written-for-mk',
  description: 'LoadBalancer services (MetalLB, L2 mode).',
  images: { controller: CONTROLLER, speaker: SPEAKER },
  dependsOn: [],
  verified: RUNS,
  optionsSchema: {},
  render(_options, cluster, env): K8sObject[] {
    const addresses = poolAddresses(cluster, env);
    const controllerSa = { name: 'controller', namespace: NS };
    const speakerSa = { name: 'speaker', namespace: NS };
    const ctrlSel = { app: 'metallb', component: 'controller' };
    const spkSel = { app: 'metallb', component: 'speaker' };
    const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
    return [
      namespace(NS, { 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/audit': 'privileged', 'pod-security.kubernetes.io/warn': 'privileged' }),
      ...metallbCrds(),
      serviceAccount('controller', NS, { app: 'metallb' }),
      serviceAccount('speaker', NS, { app: 'metallb' }),
      clusterRole('metallb-system:controller', [
        rule([''], ['services', 'namespaces'], READ),
        rule([''], ['nodes'], ['list']),
        rule([''], ['services/status'], ['update']),
        rule([''], ['events'], ['create', 'patch']),
      ]),
      clusterRole('metallb-system:speaker', [
        // The speaker watches every Service's L2 status, cluster-wide; without it, it never announces.
        rule([G], ['servicel2statuses', 'servicel2statuses/status'], ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']),
        rule([''], ['services', 'endpoints', 'nodes', 'namespaces'], READ),
        rule(['discovery.k8s.io'], ['endpointslices'], READ),
        rule([''], ['events'], ['create', 'patch']),
      ]),
      role('controller', NS, [
        rule([''], ['secrets'], ['create', 'get', 'list', 'watch']),
        rule([''], ['secrets'], ['update'], ['memberlist']),
        rule(['apps'], ['deployments'], ['get'], ['controller']),
        rule([G], METALLB_KINDS, READ),
        rule([G], ['ipaddresspools/status'], ['update']),
      ]),
      role('pod-lister', NS, [
        rule([''], ['pods'], ['list', 'get']),
        rule([''], ['secrets', 'configmaps'], READ),
        rule([G], [...METALLB_KINDS, 'servicel2statuses'], READ),
        rule([G], ['servicel2statuses', 'servicel2statuses/status'], ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']),
      ]),
      clusterRoleBinding('metallb-system:controller', 'metallb-system:controller', controllerSa),
      clusterRoleBinding('metallb-system:speaker', 'metallb-system:speaker', speakerSa),
      roleBinding('controller', NS, { kind: 'Role', name: 'controller' }, controllerSa),
      roleBinding('pod-lister', NS, { kind: 'Role', name: 'pod-lister' }, speakerSa),
      deployment('controller', NS, ctrlSel, {
        serviceAccountName: 'controller',
        terminationGracePeriodSeconds: 0,
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        securityContext: { runAsNonRoot: true, runAsUser: 65534, fsGroup: 65534 },
        containers: [
          {
            name: 'controller',
            image: CONTROLLER,
            imagePullPolicy: 'IfNotPresent',
            args: ['--port=7472', '--log-level=info', '--webhook-mode=disabled', '--disable-cert-rotation=true'],
            env: [
              { name: 'METALLB_ML_SECRET_NAME', value: 'memberlist' },
              { name: 'METALLB_DEPLOYMENT', value: 'controller' },
            ],
            ports: [{ name: 'monitoring', containerPort: 7472 }],
            livenessProbe: { httpGet: { path: '/metrics', port: 'monitoring' }, initialDelaySeconds: 10, periodSeconds: 10 },
            readinessProbe: { httpGet: { path: '/metrics', port: 'monitoring' }, initialDelaySeconds: 10, periodSeconds: 10 },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          },
        ],
      }, { strategy: { type: 'RollingUpdate' } }),
      daemonSet('speaker', NS, spkSel, {
        serviceAccountName: 'speaker',
        hostNetwork: true,
        terminationGracePeriodSeconds: 2,
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [
          { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
          { key: 'node-role.kubernetes.io/master', operator: 'Exists', effect: 'NoSchedule' },
        ],
        containers: [
          {
            name: 'speaker',
            image: SPEAKER,
            imagePullPolicy: 'IfNotPresent',
            // kubeadm labels control planes exclude-from-external-load-balancers; on a local cluster
            // they are often the only nodes, and announcing from them is what a user expects.
            args: ['--port=7472', '--log-level=info', '--ignore-exclude-lb'],
            env: [
              fieldEnv('METALLB_NODE_NAME', 'spec.nodeName'),
              fieldEnv('METALLB_POD_NAME', 'metadata.name'),
              fieldEnv('METALLB_HOST', 'status.hostIP'),
              fieldEnv('METALLB_ML_BIND_ADDR', 'status.podIP'),
              { name: 'METALLB_ML_LABELS', value: 'app=metallb,component=speaker' },
              { name: 'METALLB_ML_SECRET_KEY_PATH', value: '/etc/ml_secret_key' },
            ],
            ports: [
              { name: 'monitoring', containerPort: 7472 },
              { name: 'memberlist-tcp', containerPort: 7946, protocol: 'TCP' },
              { name: 'memberlist-udp', containerPort: 7946, protocol: 'UDP' },
            ],
            livenessProbe: { httpGet: { path: '/metrics', port: 'monitoring' }, initialDelaySeconds: 10, periodSeconds: 10 },
            readinessProbe: { httpGet: { path: '/metrics', port: 'monitoring' }, initialDelaySeconds: 10, periodSeconds: 10 },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['NET_RAW'] } },
            volumeMounts: [{ name: 'memberlist', mountPath: '/etc/ml_secret_key', readOnly: true }],
          },
        ],
        volumes: [{ name: 'memberlist', secret: { secretName: 'memberlist', defaultMode: 0o420, optional: true } }],
      }),
      obj(`${G}/v1beta1`, 'IPAddressPool', POOL_NAME, NS, { spec: { addresses, autoAssign: true } }),
      obj(`${G}/v1beta1`, 'L2Advertisement', 'mk-l2', NS, { spec: { ipAddressPools: [POOL_NAME] } }),
    ];
  },
};
