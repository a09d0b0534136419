// ingress-dns: a DNS server for the names the ingress addon (Traefik) serves, so that once a resolver
// for a domain (options.domains, default "test") points at it, `curl http://app.test/` on this machine
// reaches the Ingress or HTTPRoute that names app.test. minikube's ingress-dns does this, but its
// image lives in k8s.io/minikube, which cannot be built here; this one is CoreDNS, from kubeadm's own
// image (the one the cluster's DNS runs, on the nodes with the control-plane images), with a Corefile
// written for mk from CoreDNS's documented plugins. Every name under a domain answers with the
// address where Traefik serves ports 80 and 443:
// - spec.loadBalancer.enabled: Traefik's LoadBalancer address, as MetalLB gives it. `k8s_external`
//   answers traefik.traefik.<domain> from the Service's status (the `kubernetes` plugin watches
//   Services for it), and `rewrite` maps every name under the domain onto that name. The server is
//   a LoadBalancer Service itself (53/UDP and 53/TCP): its address is where a resolver points.
// - otherwise: the node Traefik runs on (its hostPorts). The server runs on that node (pod
//   affinity), in the node's network, bound to the node's address (status.hostIP, which the
//   Corefile reads as {$HOST_IP}) on port 53, and answers that address (`template`).
// Every name under a domain resolves, whether or not an Ingress or route names it (Traefik answers
// 404 for those): CoreDNS's plugins cannot read Ingresses or routes.
import { createHash } from 'node:crypto';
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon, RenderEnv } from '../types.js';
import { DNS_FROM_HOST } from '../verified.js';
import { clusterRole, clusterRoleBinding, configMap, deployment, rule, service, serviceAccount, withDefaults } from '../build.js';
import { CatalogError } from '../errors.js';
import { KUBEADM_IMAGES } from '../kubeadm-images.js';
import { TRAEFIK } from '../ingress/index.js';

const NS = 'kube-system';
const NAME = 'mk-ingress-dns';
const SEL = { app: NAME };
const READY_PORT = 8181;
/** Seconds resolvers may keep an answer: Traefik's address can move (a new LoadBalancer address, another node). */
const TTL = 5;
/** What CoreDNS's kubernetes plugin does with the objects it reads (kubeadm's CoreDNS role has the same verbs). */
const WATCH = ['list', 'watch'];
/** The image key (addons[].images) of the DNS server's image. */
const IMAGE_KEY = 'ingress-dns';

/** Where the DNS server runs, for mk status and apply: its Service and Deployment (both NAME in NS), its pods' labels. */
export const INGRESS_DNS = { namespace: NS, name: NAME, podLabels: SEL } as const;

/** A domain: lowercase DNS labels joined by dots, no trailing dot. */
const DOMAIN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$';

const optionsSchema = {
  domains: {
    type: 'string[]',
    description: 'Domains it answers for: every name under each resolves to where Traefik serves ports 80 and 443.',
    default: ['test'],
    pattern: { regex: DOMAIN, means: 'a domain name: lowercase letters, digits and hyphens, in labels joined by dots (like test or dev.example)' },
  },
} as const;

/** The domains of the options, each once, in their order; refused when there are none. */
export function ingressDnsDomains(options: Record<string, unknown>): string[] {
  const o = withDefaults<{ domains: string[] }>(optionsSchema, options);
  const domains = [...new Set(o.domains)];
  if (domains.length === 0) throw new CatalogError('options.domains lists no domain; give at least one (the default is [test])');
  return domains;
}

/** How the server finds Traefik: its LoadBalancer address, or the node it runs on. */
export type IngressDnsMode = 'load-balancer' | 'node';

/** The Corefile for the domains. Pure. */
export function ingressDnsCorefile(domains: readonly string[], mode: IngressDnsMode): string {
  const keys = domains.map((d) => `${d}:53`).join(' ');
  const zones = domains.join(' ');
  const target = (d: string) => `${TRAEFIK.name}.${TRAEFIK.namespace}.${d}.`;
  const body =
    mode === 'load-balancer'
      ? [
          'errors',
          `ready :${READY_PORT}`,
          // Every name under the domain is asked as Traefik's Service name there; answers carry the name asked.
          ...domains.map((d) => `rewrite stop name regex ^(.+\\.)?${d.replaceAll('.', '\\.')}\\.$ ${target(d)} answer auto`),
          // The Services k8s_external answers from: Traefik's namespace only. Its zone is never asked here.
          'kubernetes cluster.local {',
          `    namespaces ${TRAEFIK.namespace}`,
          '}',
          `k8s_external ${zones} {`,
          `    ttl ${TTL}`,
          '}',
        ]
      : [
          'bind {$HOST_IP}',
          'errors',
          `ready {$HOST_IP}:${READY_PORT}`,
          `template IN A ${zones} {`,
          `    answer "{{ .Name }} ${TTL} IN A {$HOST_IP}"`,
          '}',
          // Any other type of a name under the domain: no records, the name exists.
          `template ANY ANY ${zones} {`,
          `    authority "{{ .Zone }} ${TTL} IN SOA ns.{{ .Zone }} hostmaster.{{ .Zone }} 1 7200 1800 86400 ${TTL}"`,
          '}',
        ];
  const what = mode === 'load-balancer' ? "Traefik's LoadBalancer address" : 'the address of the node Traefik runs on';
  return [`# mk's ingress-dns: every name under ${domains.join(', ')} answers with ${what}.`, `${keys} {`, ...body.map((l) => `    ${l}`), '}', ''].join('\n');
}

/** The image the server runs: kubeadm's CoreDNS, as the cluster runs it. */
function imageOf(env: RenderEnv | undefined): string {
  const image = env?.kubeadmImages?.coredns;
  if (image) return image;
  const w = KUBEADM_IMAGES.coredns.workload;
  throw new CatalogError(
    `it runs ${KUBEADM_IMAGES.coredns.what}'s image, read from Deployment ${w.namespace}/${w.name}, which the cluster does not have; ` +
      `restore kubeadm's CoreDNS (kubeadm init phase addon coredns), or name an image in addons[].images.${IMAGE_KEY}`,
  );
}

export const ingressDns: CatalogAddon = {
  name: 'ingress-dns',
  version: 'coredns',
  source: 'written-for-mk',
  description: "DNS for the ingress's host names: every name under options.domains (default test) resolves to where Traefik answers (CoreDNS).",
  images: {},
  kubeadmImages: { [IMAGE_KEY]: 'coredns' },
  dependsOn: ['ingress'],
  verified: DNS_FROM_HOST,
  optionsSchema,
  render(options, cluster, env): K8sObject[] {
    const domains = ingressDnsDomains(options);
    const mode: IngressDnsMode = cluster.spec.loadBalancer.enabled ? 'load-balancer' : 'node';
    const corefile = ingressDnsCorefile(domains, mode);
    const lb = mode === 'load-balancer';
    const ports = [
      { name: 'dns', containerPort: 53, protocol: 'UDP', ...(lb ? {} : { hostPort: 53 }) },
      { name: 'dns-tcp', containerPort: 53, protocol: 'TCP', ...(lb ? {} : { hostPort: 53 }) },
    ];
    const onTraefiksNode = {
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { ...TRAEFIK.podLabels } }, namespaces: [TRAEFIK.namespace], topologyKey: 'kubernetes.io/hostname' }],
      },
    };
    const pod = {
      // Named in both modes: a template that stopped naming it would keep the deprecated serviceAccount field the API server copied from it.
      serviceAccountName: NAME,
      ...(lb ? {} : { automountServiceAccountToken: false, hostNetwork: true, affinity: onTraefiksNode }),
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
      containers: [
        {
          name: 'coredns',
          image: imageOf(env),
          imagePullPolicy: 'IfNotPresent',
          // Only arguments: the image's entrypoint is CoreDNS (kubeadm's Deployment does the same).
          args: ['-conf', '/etc/coredns/Corefile'],
          ...(lb ? {} : { env: [{ name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } }] }),
          ports,
          readinessProbe: { httpGet: { path: '/ready', port: READY_PORT, scheme: 'HTTP' }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 3 },
          resources: { requests: { cpu: '10m', memory: '24Mi' }, limits: { memory: '100Mi' } },
          // As kubeadm runs CoreDNS: port 53 without root's other powers.
          securityContext: { allowPrivilegeEscalation: false, capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] }, readOnlyRootFilesystem: true },
          volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
        },
      ],
      volumes: [{ name: 'config', configMap: { name: NAME, items: [{ key: 'Corefile', path: 'Corefile' }] } }],
    };
    const dep = deployment(NAME, NS, SEL, pod, { strategy: { type: 'Recreate' } });
    // A new Corefile restarts the server (CoreDNS reads it at start).
    const template = (dep.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template;
    template.metadata.annotations = { 'mk.dev/corefile-sha256': createHash('sha256').update(corefile).digest('hex') };
    return [
      serviceAccount(NAME, NS, SEL),
      // The kubernetes plugin behind k8s_external watches Services; without a load balancer nothing reads the API.
      ...(lb
        ? [
            clusterRole(NAME, [rule([''], ['services', 'namespaces'], WATCH), rule(['discovery.k8s.io'], ['endpointslices'], WATCH)], SEL),
            clusterRoleBinding(NAME, NAME, { name: NAME, namespace: NS }, SEL),
          ]
        : []),
      configMap(NAME, NS, { Corefile: corefile }, SEL),
      dep,
      ...(lb
        ? [service(NAME, NS, SEL, [{ name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' }, { name: 'dns-tcp', port: 53, targetPort: 'dns-tcp', protocol: 'TCP' }], { type: 'LoadBalancer', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'] }, SEL)]
        : []),
    ];
  },
};
