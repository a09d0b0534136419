// registry: an in-cluster OCI registry (CNCF Distribution) that pods pull from, and the host pushes to,
// as localhost:<servicePort>/NAME:TAG (kind's and minikube's convention; port 5000 by default).
// - the registry: a Deployment and Service registry.kube-system (a LoadBalancer when
//   spec.loadBalancer.enabled, so `mk tunnel` forwards 127.0.0.1:<port> of the host to it);
// - the nodes: a DaemonSet writes /etc/containerd/certs.d/localhost:<port>/hosts.toml on every node,
//   pointing containerd at the Service's ClusterIP (kube-proxy routes it in the node's network
//   namespace). containerd reads it at each pull (its config needs config_path = that folder, as
//   mk's node images and kind's have);
// - tools (Tilt, ...): the ConfigMap kube-public/local-registry-hosting of KEP-1755.
// Written for mk from the upstream image's facts: port 5000, /var/lib/registry, env configuration
// (the same in distribution v2.8 and v3).
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon } from '../types.js';
import { REGISTRY_PULLED } from '../verified.js';
import { configMap, daemonSet, deployment, service, withDefaults } from '../build.js';

const VERSION = '2.8.3';
const IMAGE = `docker.io/library/registry:${VERSION}@sha256:319881be2ee9e345d5837d15842a04268de6a139e23be42654fc7664fc6eaf52`;
/** The DaemonSet that writes containerd's hosts.toml on each node: a shell and printf. */
const HOSTS_IMAGE = 'docker.io/library/busybox:1.37.0';
const NS = 'kube-system';
const CERTS_D = '/etc/containerd/certs.d';

const optionsSchema = {
  servicePort: { type: 'integer', description: 'Port of the registry Service, and of the name images are pushed and pulled by (localhost:<port>/NAME:TAG).', default: 5000 },
  storage: { type: 'string', description: 'emptyDir (lost with the pod) or hostPath (/var/lib/mk-registry on the node).', default: 'emptyDir', enum: ['emptyDir', 'hostPath'] },
} as const;

/**
 * Writes `dir`/hosts.toml (the folder of `host` in containerd's certs.d, mounted) from the Service's address the kubelet puts in the environment
 * (REGISTRY_SERVICE_HOST: set for Services that exist when the container starts; until then the
 * container exits and is restarted), then stays, so the pod's readiness says the node is configured;
 * stopped, it removes the file.
 */
function hostsScript(host: string, dir: string, port: number): string {
  return [
    'set -eu',
    'if [ -z "${REGISTRY_SERVICE_HOST:-}" ]; then echo "the registry Service is not in the environment yet; exiting to be restarted" >&2; exit 1; fi',
    `d="${dir}"`,
    'mkdir -p "$d"',
    `url="http://$REGISTRY_SERVICE_HOST:${port}"`,
    'printf \'server = "%s"\\n\\n[host."%s"]\\n  capabilities = ["pull", "resolve"]\\n\' "$url" "$url" > "$d/hosts.toml.new"',
    'mv "$d/hosts.toml.new" "$d/hosts.toml"',
    `echo "containerd pulls ${host} from $url"`,
    // Stopped (the addon disabled, the pod replaced): the node's configuration goes with it.
    'trap \'rm -f "$d/hosts.toml"; exit 0\' TERM',
    'while :; do sleep 3600 & wait $!; done',
  ].join('\n');
}

export const registry: CatalogAddon = {
  name: 'registry',
  version: VERSION,
  source: 'written-for-mk',
  description: 'An in-cluster container registry: push to and pull from localhost:5000/NAME:TAG.',
  images: { registry: IMAGE, hosts: HOSTS_IMAGE },
  dependsOn: [],
  verified: REGISTRY_PULLED,
  optionsSchema,
  render(options, cluster): K8sObject[] {
    const o = withDefaults<{ servicePort: number; storage: string }>(optionsSchema, options);
    const host = `localhost:${o.servicePort}`;
    const dir = `/certs.d/${host}`;
    const sel = { app: 'registry' };
    const hostsSel = { app: 'registry-hosts' };
    const hosting = [
      `host: "${host}"`,
      `hostFromContainerRuntime: "${host}"`,
      `hostFromClusterNetwork: "registry.${NS}.svc:${o.servicePort}"`,
      'help: "https://github.com/kubernetes/enhancements/tree/master/keps/sig-cluster-lifecycle/generic/1755-communicating-a-local-registry"',
      '',
    ].join('\n');
    return [
      deployment('registry', NS, sel, {
        // No REGISTRY_SERVICE_HOST, REGISTRY_PORT, ... from the Service named registry: the registry
        // reads REGISTRY_* variables as its configuration.
        enableServiceLinks: false,
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
      service('registry', NS, sel, [{ name: 'http', port: o.servicePort, targetPort: 'registry' }], { type: cluster.spec.loadBalancer.enabled ? 'LoadBalancer' : 'ClusterIP' }, sel),
      daemonSet('registry-hosts', NS, hostsSel, {
        tolerations: [{ operator: 'Exists' }],
        containers: [
          {
            name: 'hosts',
            image: HOSTS_IMAGE,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', hostsScript(host, dir, o.servicePort)],
            readinessProbe: { exec: { command: ['test', '-f', `${dir}/hosts.toml`] }, periodSeconds: 5 },
            resources: { requests: { cpu: '1m', memory: '4Mi' } },
            volumeMounts: [{ name: 'certs-d', mountPath: '/certs.d' }],
          },
        ],
        volumes: [{ name: 'certs-d', hostPath: { path: CERTS_D, type: 'DirectoryOrCreate' } }],
      }),
      configMap('local-registry-hosting', 'kube-public', { 'localRegistryHosting.v1': hosting }),
    ];
  },
};
