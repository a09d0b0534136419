// Which control plane mk talks to and at which URL, and whether the user's kubeconfig already has
// mk's context pointing there (what observe uses to decide on kubeconfig.export). Pure.
import { describe, expect, it } from 'vitest';
import type { ObservedNode } from '../../src/drivers/types.js';
import { MkError } from '../../src/errors.js';
import { controlPlaneOrder, serverUrl } from '../../src/kubeadm/endpoint.js';
import { hasEntry, mergeEntry, type KubeconfigDoc } from '../../src/kubeadm/kubeconfig.js';
import { aCluster } from './builders.js';

const node = (name: string, extra: Partial<ObservedNode> = {}): ObservedNode => ({
  name,
  pool: 'control-plane',
  ordinal: 1,
  role: 'control-plane',
  id: `id-${name}`,
  state: 'running',
  image: 'mk/node:v1.31.0',
  configHash: 'h',
  ...extra,
});

describe('serverUrl', () => {
  const docker = aCluster('dev').build();
  const ssh = aCluster('dev').overSsh().build();

  it('docker: the API server port published on 127.0.0.1, not the node address', () => {
    expect(serverUrl(docker, node('dev-control-plane-1', { apiServerPort: 32771, address: '172.18.0.2' }))).toBe('https://127.0.0.1:32771');
  });

  it('docker: a control plane without a published port is an error naming it', () => {
    expect(() => serverUrl(docker, node('dev-control-plane-1', { address: '172.18.0.2' }))).toThrow(MkError);
    expect(() => serverUrl(docker, node('dev-control-plane-1', { address: '172.18.0.2' }))).toThrow(/dev-control-plane-1 publishes no API server port/);
  });

  it('ssh: the host address on 6443, IPv6 in brackets', () => {
    expect(serverUrl(ssh, node('cp1', { address: '192.168.1.10', apiServerPort: 32771 }))).toBe('https://192.168.1.10:6443');
    expect(serverUrl(ssh, node('cp1', { address: 'fd00::10' }))).toBe('https://[fd00::10]:6443');
    expect(serverUrl(ssh, node('cp1', { address: 'cp1.lan' }))).toBe('https://cp1.lan:6443');
  });

  it('ssh: a control plane without an address is an error naming it', () => {
    expect(() => serverUrl(ssh, node('cp1'))).toThrow(/control plane cp1 has no address/);
  });
});

describe('controlPlaneOrder', () => {
  it('running control planes the spec keeps come first in numeric name order, then those being removed; workers and stopped nodes are left out', () => {
    const cluster = aCluster('dev').withControlPlanes(10).withWorkers(2).build();
    const nodes = [
      node('dev-old-1'),
      node('dev-control-plane-10'),
      node('dev-worker-1', { role: 'worker', pool: 'worker' }),
      node('dev-control-plane-2'),
      node('dev-control-plane-3', { state: 'stopped' }),
      node('dev-control-plane-1'),
      node('dev-aaa-1'),
    ];
    expect(controlPlaneOrder(cluster, nodes).map((n) => n.name)).toEqual(['dev-control-plane-1', 'dev-control-plane-2', 'dev-control-plane-10', 'dev-aaa-1', 'dev-old-1']);
  });

  it('does not reorder the caller\'s list and gives nothing when no control plane runs', () => {
    const cluster = aCluster('dev').withControlPlanes(2).build();
    const nodes = [node('dev-control-plane-2'), node('dev-control-plane-1')];
    expect(controlPlaneOrder(cluster, nodes).map((n) => n.name)).toEqual(['dev-control-plane-1', 'dev-control-plane-2']);
    expect(nodes.map((n) => n.name)).toEqual(['dev-control-plane-2', 'dev-control-plane-1']);
    expect(controlPlaneOrder(cluster, [node('dev-control-plane-1', { state: 'unreachable' }), node('dev-worker-1', { role: 'worker' })])).toEqual([]);
  });
});

describe('kubeconfig hasEntry', () => {
  const entry = { name: 'mk-dev', server: 'https://127.0.0.1:32771', certificateAuthorityData: 'Q0E=', clientCertificateData: 'Q0VSVA==', clientKeyData: 'S0VZ' };
  const doc = mergeEntry(undefined, entry, { setCurrent: false });

  it('true for mk\'s context pointing at the server', () => {
    expect(hasEntry(doc, 'mk-dev', 'https://127.0.0.1:32771')).toBe(true);
  });

  it('false when the server moved (a recreated control plane got another port)', () => {
    expect(hasEntry(doc, 'mk-dev', 'https://127.0.0.1:32772')).toBe(false);
  });

  it('false without the file, the context, or another cluster\'s name', () => {
    expect(hasEntry(undefined, 'mk-dev', entry.server)).toBe(false);
    expect(hasEntry({ ...doc, contexts: [] }, 'mk-dev', entry.server)).toBe(false);
    expect(hasEntry(doc, 'mk-prod', entry.server)).toBe(false);
  });

  it('false when the context names another cluster or user, or mk\'s user entry is gone', () => {
    const withContext = (context: Record<string, unknown>): KubeconfigDoc => ({ ...doc, contexts: [{ name: 'mk-dev', context }] });
    expect(hasEntry(withContext({ cluster: 'other', user: 'mk-dev' }), 'mk-dev', entry.server)).toBe(false);
    expect(hasEntry(withContext({ cluster: 'mk-dev', user: 'admin' }), 'mk-dev', entry.server)).toBe(false);
    expect(hasEntry({ ...doc, users: [] }, 'mk-dev', entry.server)).toBe(false);
    expect(hasEntry({ ...doc, clusters: [] }, 'mk-dev', entry.server)).toBe(false);
  });
});
