// The tunnel engine with a fake cluster (listings in memory) and a fake port-forward (answers with
// the pod and port it was asked for): listeners on loopback only, no Kubernetes, no network.
import { once } from 'node:events';
import { connect as netConnect, createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceJson } from '../../src/tunnel/loadbalancers.js';
import type { EndpointSliceJson } from '../../src/tunnel/plan.js';
import { formatTunnelEvent, Tunnel, type Connector, type PodPort, type TunnelEvent, type TunnelSource } from '../../src/tunnel/tunnel.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Connects to 127.0.0.1:port, sends a line, returns everything read until the other side closes. */
async function roundTrip(port: number): Promise<string> {
  const sock = netConnect(port, '127.0.0.1');
  await once(sock, 'connect');
  sock.write('hello\n');
  let data = '';
  sock.on('data', (d: Buffer) => (data += d.toString()));
  await Promise.race([once(sock, 'close'), once(sock, 'error')]);
  return data;
}

async function refused(port: number): Promise<boolean> {
  const sock = netConnect(port, '127.0.0.1');
  try {
    await once(sock, 'connect');
    sock.destroy();
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  }
}

class FakeCluster implements TunnelSource {
  services: ServiceJson[] = [];
  slices = new Map<string, EndpointSliceJson[]>();
  failServices: Error | undefined;
  listServices = async () => {
    if (this.failServices) throw this.failServices;
    return structuredClone(this.services);
  };
  listEndpointSlices = async (namespace: string, name: string) => structuredClone(this.slices.get(`${namespace}/${name}`) ?? []);

  lb(namespace: string, name: string, ports: Array<{ port: number; name?: string; protocol?: string }>, pods: string[], targetPort = 8080): void {
    this.services = this.services.filter((s) => !(s.metadata.namespace === namespace && s.metadata.name === name));
    this.services.push({ metadata: { namespace, name }, spec: { type: 'LoadBalancer', ports } });
    this.slices.set(`${namespace}/${name}`, [
      {
        ports: ports.map((p) => ({ name: p.name ?? '', port: targetPort, protocol: p.protocol ?? 'TCP' })),
        endpoints: pods.map((pod) => ({ addresses: ['10.0.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: pod } })),
      },
    ]);
  }
}

/** Answers "<pod>:<port> <first line>" and closes; pods in `broken` fail to open. */
function fakeForward(calls: PodPort[], broken: Set<string>): Connector {
  return async (target, socket) => {
    calls.push(target);
    if (broken.has(target.pod)) throw new Error(`pods "${target.pod}" not found`);
    socket.once('data', (d: Buffer) => socket.end(`${target.pod}:${target.port} ${d.toString()}`));
  };
}

let tunnels: Tunnel[] = [];
let blockers: Server[] = [];
afterEach(async () => {
  await Promise.all(tunnels.map((t) => t.close()));
  await Promise.all(blockers.map((b) => new Promise((r) => b.close(r))));
  tunnels = [];
  blockers = [];
});

function setup() {
  const cluster = new FakeCluster();
  const calls: PodPort[] = [];
  const broken = new Set<string>();
  const events: TunnelEvent[] = [];
  const tunnel = new Tunnel({ source: cluster, connect: fakeForward(calls, broken), onEvent: (e) => events.push(e), pollMs: 20 });
  tunnels.push(tunnel);
  const lines = () => events.filter((e) => e.type !== 'debug').map(formatTunnelEvent);
  return { cluster, calls, broken, events, tunnel, lines, signal: new AbortController().signal };
}

describe('Tunnel', () => {
  it('listens on the Service port on 127.0.0.1 and carries connections to ready pods, round robin', async () => {
    const { cluster, calls, tunnel, lines, signal } = setup();
    const port = await freePort();
    cluster.lb('default', 'web', [{ port, name: 'http' }], ['web-b', 'web-a']);
    await tunnel.poll(signal);
    expect(lines()).toEqual([`default/web ${port}/TCP -> 127.0.0.1:${port}`]);
    expect(tunnel.forwards()).toEqual(new Map([[`default/web:${port}/TCP`, port]]));
    expect(await roundTrip(port)).toBe('web-a:8080 hello\n');
    expect(await roundTrip(port)).toBe('web-b:8080 hello\n');
    expect(calls).toEqual([
      { namespace: 'default', pod: 'web-a', port: 8080 },
      { namespace: 'default', pod: 'web-b', port: 8080 },
    ]);
  });

  it('picks a free port and says why when the Service port is in use or already forwarded', async () => {
    const { cluster, tunnel, events, signal } = setup();
    const busy = await freePort();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(busy, '127.0.0.1', r));
    blockers.push(blocker);
    const shared = await freePort();
    cluster.lb('default', 'a', [{ port: busy }], ['a-1']);
    cluster.lb('default', 'b', [{ port: shared }], ['b-1']);
    cluster.lb('other', 'b', [{ port: shared }], ['ob-1']);
    await tunnel.poll(signal);
    const forwards = events.filter((e) => e.type === 'tunnel.forward');
    expect(forwards.map((e) => [e.service, e.port, e.note])).toEqual([
      ['default/a', busy, `127.0.0.1:${busy} is in use`],
      ['default/b', shared, undefined],
      ['other/b', shared, `127.0.0.1:${shared} is already forwarded for default/b ${shared}/TCP`],
    ]);
    const local = tunnel.forwards();
    expect(local.get(`default/a:${busy}/TCP`)).not.toBe(busy);
    expect(local.get(`default/b:${shared}/TCP`)).toBe(shared);
    expect(await roundTrip(local.get(`default/a:${busy}/TCP`)!)).toBe('a-1:8080 hello\n');
    expect(await roundTrip(local.get(`other/b:${shared}/TCP`)!)).toBe('ob-1:8080 hello\n');
  });

  it('tries the next pod when one cannot be reached, and drops the connection when none is ready', async () => {
    const { cluster, calls, broken, tunnel, events, signal } = setup();
    const port = await freePort();
    cluster.lb('default', 'web', [{ port }], ['web-a', 'web-b']);
    await tunnel.poll(signal);
    broken.add('web-a');
    expect(await roundTrip(port)).toBe('web-b:8080 hello\n');
    expect(calls.map((c) => c.pod)).toEqual(['web-a', 'web-b']);
    expect(events.filter((e) => e.type === 'warning')).toEqual([]);

    cluster.slices.set('default/web', [{ ports: [{ name: '', port: 8080 }], endpoints: [{ conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'web-a' } }] }]);
    await tunnel.poll(signal);
    expect(await roundTrip(port)).toBe('');
    expect(events.filter((e) => e.type === 'warning').map(formatTunnelEvent)).toEqual([
      expect.stringMatching(new RegExp(`^default/web ${port}/TCP: connection from 127\\.0\\.0\\.1:\\d+ dropped: no ready pod behind the Service$`)),
    ]);
  });

  it('looks the endpoints up again at once when a connection finds none (a pod that just became ready)', async () => {
    const { cluster, tunnel, signal } = setup();
    const port = await freePort();
    cluster.lb('default', 'web', [{ port }], []);
    await tunnel.poll(signal);
    cluster.lb('default', 'web', [{ port }], ['web-new']);
    expect(await roundTrip(port)).toBe('web-new:8080 hello\n');
  });

  it('opens forwards for Services added later, closes them for removed ones, and announces UDP ports once', async () => {
    const { cluster, tunnel, lines, signal } = setup();
    const [p1, p2] = [await freePort(), await freePort()];
    cluster.lb('default', 'one', [{ port: p1 }, { port: 53, protocol: 'UDP', name: 'dns' }], ['one-1']);
    await tunnel.poll(signal);
    await tunnel.poll(signal);
    cluster.lb('default', 'two', [{ port: p2 }], ['two-1']);
    await tunnel.poll(signal);
    expect(await roundTrip(p2)).toBe('two-1:8080 hello\n');
    cluster.services = cluster.services.filter((s) => s.metadata.name !== 'one');
    cluster.services[0]!.spec!.type = 'ClusterIP';
    await tunnel.poll(signal);
    expect(lines()).toEqual([
      'default/one 53/UDP not forwarded (the Kubernetes port-forward carries TCP only)',
      `default/one ${p1}/TCP -> 127.0.0.1:${p1}`,
      `default/two ${p2}/TCP -> 127.0.0.1:${p2}`,
      `default/one ${p1}/TCP -> 127.0.0.1:${p1} closed (Service removed)`,
      `default/two ${p2}/TCP -> 127.0.0.1:${p2} closed (Service is now type ClusterIP)`,
      'no LoadBalancer Service left; waiting for one',
    ]);
    expect(await refused(p1)).toBe(true);
    expect(await refused(p2)).toBe(true);
  });

  it('closes open connections when their forward goes away', async () => {
    const { cluster, tunnel, signal } = setup();
    const port = await freePort();
    cluster.lb('default', 'web', [{ port }], ['web-a']);
    await tunnel.poll(signal);
    const sock = netConnect(port, '127.0.0.1');
    await once(sock, 'connect');
    const closed = once(sock, 'close');
    await new Promise((r) => setTimeout(r, 20));
    cluster.services = [];
    await tunnel.poll(signal);
    await closed;
  });

  it('run: fails on the first listing, reports later failures once and the recovery, and closes everything on abort', async () => {
    const { cluster, tunnel, events } = setup();
    cluster.failServices = new Error('connect ECONNREFUSED 127.0.0.1:6443');
    await expect(tunnel.run(new AbortController().signal)).rejects.toThrow('ECONNREFUSED');

    const again = setup();
    const port = await freePort();
    again.cluster.lb('default', 'web', [{ port }], ['web-a']);
    const ac = new AbortController();
    const running = again.tunnel.run(ac.signal);
    await waitUntil(() => again.tunnel.forwards().size === 1);
    again.cluster.failServices = new Error('connect ECONNREFUSED 127.0.0.1:6443');
    await new Promise((r) => setTimeout(r, 150));
    again.cluster.failServices = undefined;
    await waitUntil(() => again.events.some((e) => e.type === 'info' && e.message === 'the API server answers again'));
    ac.abort();
    await running;
    expect(again.events.filter((e) => e.type === 'warning').map(formatTunnelEvent)).toEqual([
      'listing Services failed: connect ECONNREFUSED 127.0.0.1:6443; retrying every 0.02s',
    ]);
    expect(await refused(port)).toBe(true);
    expect(events.filter((e) => e.type === 'tunnel.forward')).toEqual([]);
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
