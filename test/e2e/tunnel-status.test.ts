// Tier 1: `mk status`'s LoadBalancer listing against a real kube-apiserver (no kubelet): Services
// created through the API, their status set through the /status subresource, read back through a
// kubeconfig context mk-<cluster>; and what status says when the API server is down or silent.
import { CoreV1Api } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatLoadBalancers } from '../../src/tunnel/loadbalancers.js';
import { loadBalancerStatus } from '../../src/tunnel/access.js';
import { binariesGate } from '../k8s/binaries.js';
import { freePorts, startControlPlane, type ControlPlane } from '../k8s/controlplane.js';
import { writeMkKubeconfig } from './tunnel-helpers.js';

const gate = binariesGate(['etcd', 'kube-apiserver']);

describe.skipIf(gate.skip)('mk status: LoadBalancer Services through context mk-NAME (tier 1)', () => {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: false });
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    dir = await mkdtemp(path.join(tmpdir(), 'mk-tunnel-status-'));
    kubeconfig = path.join(dir, 'config');
    await writeMkKubeconfig(cp.kubeConfig, 'lbs', kubeconfig);
  });

  afterAll(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists LoadBalancer Services of every namespace with ports and addresses, <pending> without', async () => {
    await core.createNamespace({ body: { metadata: { name: 'shop' } } });
    await core.createNamespacedService({
      namespace: 'shop',
      body: {
        metadata: { name: 'web' },
        spec: {
          type: 'LoadBalancer',
          selector: { app: 'web' },
          ports: [
            { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
            { name: 'dns', port: 53, targetPort: 1053, protocol: 'UDP' },
          ],
        },
      },
    });
    await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'pending' }, spec: { type: 'LoadBalancer', selector: { app: 'x' }, ports: [{ port: 8443 }] } } });
    await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'inside' }, spec: { selector: { app: 'x' }, ports: [{ port: 9000 }] } } });
    await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'np' }, spec: { type: 'NodePort', selector: { app: 'x' }, ports: [{ port: 9001 }] } } });
    // What MetalLB (or any load-balancer controller) would write.
    const web = await core.readNamespacedService({ name: 'web', namespace: 'shop' });
    web.status = { loadBalancer: { ingress: [{ ip: '172.28.0.240', ipMode: 'VIP' }] } };
    await core.replaceNamespacedServiceStatus({ name: 'web', namespace: 'shop', body: web });

    const started = performance.now();
    const listing = await loadBalancerStatus('lbs', { kubeconfig });
    const ms = performance.now() - started;
    console.log(`[tunnel-status] listing through context mk-lbs: ${ms.toFixed(0)} ms`);
    expect('loadBalancers' in listing).toBe(true);
    if (!('loadBalancers' in listing)) return;
    const nodePorts = listing.loadBalancers.flatMap((s) => s.ports.map((p) => p.nodePort));
    expect(nodePorts.every((p) => typeof p === 'number' && p >= 30000 && p <= 32767)).toBe(true);
    expect(listing.loadBalancers.map((s) => ({ ...s, ports: s.ports.map(({ nodePort: _, ...p }) => p) }))).toEqual([
      { namespace: 'default', name: 'pending', ports: [{ port: 8443, protocol: 'TCP' }], addresses: [] },
      {
        namespace: 'shop',
        name: 'web',
        ports: [
          { name: 'http', port: 80, protocol: 'TCP' },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ],
        addresses: ['172.28.0.240'],
      },
    ]);
    const text = formatLoadBalancers(listing);
    expect(text[0]).toBe('  load balancers:');
    expect(text[2]).toMatch(/^ {4}default\/pending\s+8443:3\d{4}\/TCP\s+<pending>$/);
    expect(text[3]).toMatch(/^ {4}shop\/web\s+80:3\d{4}\/TCP,53:3\d{4}\/UDP\s+172\.28\.0\.240$/);

    // A second listing: what status adds per cluster.
    const again = performance.now();
    await loadBalancerStatus('lbs', { kubeconfig });
    console.log(`[tunnel-status] second listing: ${(performance.now() - again).toFixed(0)} ms`);
  });

  it('says why when the API server refuses connections', async () => {
    const [closedPort] = await freePorts(1);
    const file = path.join(dir, 'down');
    await writeMkKubeconfig(cp.kubeConfig, 'lbs', file, `https://127.0.0.1:${closedPort}`);
    const started = Date.now();
    const listing = await loadBalancerStatus('lbs', { kubeconfig: file });
    expect(listing).toEqual({ loadBalancersError: `API server https://127.0.0.1:${closedPort}: connect ECONNREFUSED 127.0.0.1:${closedPort}` });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('gives up after 3 s when the API server accepts connections but never answers', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const file = path.join(dir, 'silent');
      await writeMkKubeconfig(cp.kubeConfig, 'lbs', file, `https://127.0.0.1:${port}`);
      const started = Date.now();
      const listing = await loadBalancerStatus('lbs', { kubeconfig: file });
      const ms = Date.now() - started;
      console.log(`[tunnel-status] silent API server reported after ${ms} ms`);
      expect(listing).toEqual({ loadBalancersError: `API server https://127.0.0.1:${port}: did not answer within 3s` });
      expect(ms).toBeGreaterThanOrEqual(2900);
      expect(ms).toBeLessThan(4500);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('makes no network call without context mk-NAME', async () => {
    const started = performance.now();
    expect(await loadBalancerStatus('other', { kubeconfig })).toEqual({
      loadBalancersError: `no context mk-other in ${kubeconfig} (mk apply writes it; mk kubeconfig other --switch restores it)`,
    });
    expect(performance.now() - started).toBeLessThan(200);
  });
});
