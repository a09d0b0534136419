// ingress-dns: a DNS server on the control-plane nodes (UDP 53, host network) that answers every
// Ingress host name with the node's address, so *.test names reach the ingress from the host
// (point a resolver for your test domain at a control-plane node's address).
// Written for mk from the facts of minikube's ingress-dns image: port, environment, RBAC.
import type { K8sObject } from '../../manifests/types.js';
import type { CatalogAddon } from '../types.js';
import { API_ACCEPTS } from '../verified.js';
import { READ, clusterRole, clusterRoleBinding, daemonSet, rule, serviceAccount } from '../build.js';

const VERSION = '0.0.3';
const IMAGE = `gcr.io/k8s-minikube/minikube-ingress-dns:${VERSION}@sha256:4211a1de532376c881851542238121b26792225faa36a7b02dccad88fd05797c`;
const NS = 'kube-system';
const NAME = 'mk-ingress-dns';

export const ingressDns: CatalogAddon = {
  name: 'ingress-dns',
  version: VERSION,
  source: 'written-for-mk',
  description: 'DNS for Ingress host names, served from the control-plane nodes.',
  images: { 'ingress-dns': IMAGE },
  dependsOn: [],
  verified: API_ACCEPTS,
  optionsSchema: {},
  render(): K8sObject[] {
    const sel = { app: NAME };
    return [
      serviceAccount(NAME, NS, sel),
      clusterRole(NAME, [rule(['networking.k8s.io'], ['ingresses'], READ)], sel),
      clusterRoleBinding(NAME, NAME, { name: NAME, namespace: NS }, sel),
      daemonSet(NAME, NS, sel, {
        serviceAccountName: NAME,
        hostNetwork: true,
        nodeSelector: { 'node-role.kubernetes.io/control-plane': '' },
        tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
        containers: [
          {
            name: 'ingress-dns',
            image: IMAGE,
            imagePullPolicy: 'IfNotPresent',
            ports: [{ containerPort: 53, hostPort: 53, protocol: 'UDP' }],
            env: [
              { name: 'DNS_PORT', value: '53' },
              { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            ],
          },
        ],
      }),
    ];
  },
};
