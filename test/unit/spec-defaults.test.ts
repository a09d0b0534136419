import { describe, expect, it } from 'vitest';
import { applyDefaults, defaultNodeImage, KICBASE_IMAGE } from '../../src/spec/defaults.js';
import type { ClusterInput } from '../../src/spec/input.js';
import { parseSpec } from '../../src/spec/load.js';
import { expandNodes } from '../../src/spec/nodes.js';

const minimal: ClusterInput = { apiVersion: 'mk.dev/v1alpha1', kind: 'Cluster', metadata: { name: 'mini' } };

describe('applyDefaults', () => {
  it('fills every default for the minimal spec', () => {
    expect(applyDefaults(minimal)).toEqual({
      apiVersion: 'mk.dev/v1alpha1',
      kind: 'Cluster',
      metadata: { name: 'mini' },
      spec: {
        kubernetesVersion: 'v1.36.3',
        bootstrap: 'kubeadm',
        driver: { name: 'docker', docker: { image: 'kindest/node:v1.36.3', privileged: true } },
        cri: 'containerd',
        nodes: [{ name: 'control-plane', role: 'control-plane', count: 1, labels: {}, taints: [] }],
        networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', apiServerPort: 0, cni: 'auto' },
        loadBalancer: { enabled: false, addressPool: 'auto' },
        addons: [],
        images: [],
      },
    });
  });

  it('expands the default pool to one node named <cluster>-control-plane-1', () => {
    expect(expandNodes(applyDefaults(minimal)).map((n) => n.name)).toEqual(['mini-control-plane-1']);
  });

  it('derives the default image from the version, and keeps an explicit one', () => {
    const withVersion = applyDefaults({ ...minimal, spec: { kubernetesVersion: 'v1.34.2', driver: { docker: { image: '' } } } });
    expect(withVersion.spec.driver).toEqual({ name: 'docker', docker: { image: 'kindest/node:v1.34.2', privileged: true } });
    const explicit = applyDefaults({ ...minimal, spec: { driver: { name: 'docker', docker: { image: 'my/node:1', privileged: false } } } });
    expect(explicit.spec.driver).toEqual({ name: 'docker', docker: { image: 'my/node:1', privileged: false } });
  });

  it('writes a version without its "v" (1.31.2) as v1.31.2, also in the default image', () => {
    const c = parseSpec('apiVersion: mk.dev/v1alpha1\nkind: Cluster\nmetadata: {name: mini}\nspec:\n  kubernetesVersion: 1.31.2\n', 'v.yaml').cluster;
    expect(c.spec.kubernetesVersion).toBe('v1.31.2');
    expect(c.spec.driver).toEqual({ name: 'docker', docker: { image: 'kindest/node:v1.31.2', privileged: true } });
  });

  it('defaultNodeImage: kindest/node:<version> for containerd, the digest-pinned kicbase for cri-o and docker', () => {
    expect(['containerd', 'cri-o', 'docker'].map((cri) => defaultNodeImage('v1.35.1', cri as 'containerd'))).toEqual([
      'kindest/node:v1.35.1',
      KICBASE_IMAGE,
      KICBASE_IMAGE,
    ]);
  });

  it('defaults addons to enabled with empty options, keeping manifests and sha256', () => {
    const c = applyDefaults({
      ...minimal,
      spec: { addons: [{ name: 'ingress' }, { name: 'app', enabled: false, options: { a: 1 }, manifests: 'https://x/y', sha256: 'f'.repeat(64) }] },
    });
    expect(c.spec.addons).toEqual([
      { name: 'ingress', enabled: true, options: {} },
      { name: 'app', enabled: false, options: { a: 1 }, manifests: 'https://x/y', sha256: 'f'.repeat(64) },
    ]);
  });

  it('sets an ssh pool count from its hosts and keeps ssh options as given', () => {
    const c = applyDefaults({
      ...minimal,
      spec: {
        driver: { name: 'ssh', ssh: { user: 'ops', sudo: true } },
        nodes: [{ name: 'cp', role: 'control-plane', hosts: [{ address: '10.0.0.1' }, { address: '10.0.0.2', name: 'x' }] }],
      },
    });
    expect(c.spec.driver).toEqual({ name: 'ssh', ssh: { user: 'ops', sudo: true } });
    expect(c.spec.nodes).toEqual([
      { name: 'cp', role: 'control-plane', count: 2, hosts: [{ address: '10.0.0.1' }, { address: '10.0.0.2', name: 'x' }], labels: {}, taints: [] },
    ]);
  });

  it('does not share objects with its input', () => {
    const input: ClusterInput = {
      ...minimal,
      metadata: { name: 'mini', labels: { a: 'b' } },
      spec: { nodes: [{ name: 'cp', role: 'control-plane', count: 1, labels: { x: 'y' } }], loadBalancer: { addressPool: ['10.0.0.1-10.0.0.2'] } },
    };
    const c = applyDefaults(input);
    c.metadata.labels!.a = 'changed';
    c.spec.nodes[0]!.labels.x = 'changed';
    (c.spec.loadBalancer.addressPool as string[]).push('x');
    expect(input.metadata.labels).toEqual({ a: 'b' });
    expect(input.spec!.nodes![0]!.labels).toEqual({ x: 'y' });
    expect(input.spec!.loadBalancer!.addressPool).toEqual(['10.0.0.1-10.0.0.2']);
  });
});
