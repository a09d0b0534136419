// LoadBalancer listing for `mk status`: the pure summary and text, and finding context mk-NAME in a
// kubeconfig without a network call.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatStatus, summarize } from '../../src/commands/status.js';
import { clusterAccess, loadBalancerStatus } from '../../src/tunnel/access.js';
import { formatLoadBalancers, formatPorts, loadBalancerServices, type ServiceJson } from '../../src/tunnel/loadbalancers.js';

const services: ServiceJson[] = [
  {
    metadata: { namespace: 'web', name: 'shop' },
    spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 31380 }, { name: 'https', port: 443, protocol: 'TCP', nodePort: 31443 }] },
    status: { loadBalancer: { ingress: [{ ip: '172.28.0.240' }, { hostname: 'shop.example' }] } },
  },
  { metadata: { namespace: 'default', name: 'kubernetes' }, spec: { type: 'ClusterIP', ports: [{ port: 443 }] } },
  { metadata: { namespace: 'default', name: 'dns' }, spec: { type: 'LoadBalancer', ports: [{ port: 53, protocol: 'UDP' }] }, status: { loadBalancer: {} } },
];

describe('loadBalancerServices', () => {
  it('keeps type LoadBalancer only, sorted, with ports and external addresses (empty while pending)', () => {
    expect(loadBalancerServices(services)).toEqual([
      { namespace: 'default', name: 'dns', ports: [{ port: 53, protocol: 'UDP' }], addresses: [] },
      {
        namespace: 'web',
        name: 'shop',
        ports: [
          { name: 'http', port: 80, protocol: 'TCP', nodePort: 31380 },
          { name: 'https', port: 443, protocol: 'TCP', nodePort: 31443 },
        ],
        addresses: ['172.28.0.240', 'shop.example'],
      },
    ]);
  });

  it('writes ports as kubectl does', () => {
    expect(formatPorts([{ port: 80, protocol: 'TCP', nodePort: 31380 }, { port: 53, protocol: 'UDP' }])).toBe('80:31380/TCP,53/UDP');
    expect(formatPorts([])).toBe('-');
  });
});

describe('status text for load balancers', () => {
  it('prints a table with <pending>, "none", or why they were not listed', () => {
    expect(formatLoadBalancers({ loadBalancers: loadBalancerServices(services) })).toEqual([
      '  load balancers:',
      '    SERVICE      PORTS                       EXTERNAL',
      '    default/dns  53/UDP                      <pending>',
      '    web/shop     80:31380/TCP,443:31443/TCP  172.28.0.240,shop.example',
    ]);
    expect(formatLoadBalancers({ loadBalancers: [] })).toEqual(['  load balancers: none']);
    expect(formatLoadBalancers({ loadBalancersError: 'no context mk-dev in /k' })).toEqual(['  load balancers: not listed (no context mk-dev in /k)']);
  });

  it('is part of a cluster status, after the sync line, and absent when not looked up', () => {
    const observed = {
      name: 'dev',
      nodes: [{ name: 'dev-control-plane-1', pool: 'control-plane', ordinal: 1, role: 'control-plane' as const, id: 'c1', state: 'running' as const, image: 'img', configHash: 'h' }],
      orphanVolumes: [],
    };
    const s = summarize(observed, undefined, 'none');
    expect(formatStatus(s)).not.toContain('load balancers');
    const text = formatStatus({ ...s, loadBalancers: loadBalancerServices(services) }).split('\n');
    expect(text.indexOf('  load balancers:')).toBe(text.findIndex((l) => l.includes('sync:')) + 1);
    expect(formatStatus({ ...s, loadBalancersError: 'API server https://127.0.0.1:1: connect ECONNREFUSED' })).toContain(
      '  load balancers: not listed (API server https://127.0.0.1:1: connect ECONNREFUSED)',
    );
  });
});

describe('clusterAccess', () => {
  let dir: string;
  const kubeconfig = (contexts: string[], server = 'https://127.0.0.1:1') =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      ...contexts.map((c) => `- name: ${c}\n  cluster: {server: '${server}', certificate-authority-data: Q0E=}`),
      'users:',
      ...contexts.map((c) => `- name: ${c}\n  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}`),
      'contexts:',
      ...contexts.map((c) => `- name: ${c}\n  context: {cluster: ${c}, user: ${c}}`),
      `current-context: ${contexts[0] ?? ''}`,
    ].join('\n');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mk-tunnel-access-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says there is no kubeconfig, or no context mk-NAME, without contacting anything', async () => {
    expect(await clusterAccess('dev', path.join(dir, 'missing'))).toEqual({ ok: false, reason: `no kubeconfig at ${path.join(dir, 'missing')}` });
    const file = path.join(dir, 'other');
    await writeFile(file, kubeconfig(['kind-dev', 'mk-prod']));
    const started = Date.now();
    expect(await loadBalancerStatus('dev', { kubeconfig: file })).toEqual({
      loadBalancersError: `no context mk-dev in ${file} (mk apply writes it; mk kubeconfig dev --switch restores it)`,
    });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('selects context mk-NAME even when another one is current', async () => {
    const file = path.join(dir, 'two');
    await writeFile(file, kubeconfig(['kind-dev', 'mk-dev'], 'https://127.0.0.1:6443'));
    const access = await clusterAccess('dev', file);
    expect(access.ok && { context: access.context, server: access.server, client: access.client.server }).toEqual({
      context: 'mk-dev',
      server: 'https://127.0.0.1:6443',
      client: 'https://127.0.0.1:6443',
    });
  });

  it('refuses a context without a client certificate or CA, saying how to get mk\'s back (no network call)', async () => {
    const file = path.join(dir, 'token');
    await writeFile(file, kubeconfig(['mk-dev']).replace(/\{client-certificate-data: .*\}/, '{token: t}'));
    expect(await loadBalancerStatus('dev', { kubeconfig: file })).toEqual({
      loadBalancersError: `context mk-dev in ${file} has no client-certificate-data and client-key-data; mk authenticates with a client certificate (mk apply writes it; mk kubeconfig dev --switch restores it)`,
    });
  });

  it('reports a file that is not a kubeconfig', async () => {
    const file = path.join(dir, 'bad');
    await writeFile(file, '- just\n- a list\n');
    const access = await clusterAccess('dev', file);
    expect(access.ok).toBe(false);
    expect(!access.ok && access.reason).toMatch(/^cannot read .*bad: .*not a kubeconfig/);
  });
});
