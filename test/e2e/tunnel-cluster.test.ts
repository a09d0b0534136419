// Tier 3: `mk tunnel` against a real two-node kubeadm cluster in Docker. The command runs
// in-process with a kubeconfig holding context mk-<cluster> (made from the test bed's admin.conf)
// and carries connections on 127.0.0.1 to CoreDNS pods (the only server image the nodes carry:
// /health on :8080 answers 200 "OK", and a CHAOS TXT query for hostname.bind on TCP :1053 names
// the pod that answered). Runs when the binaries exist and Docker answers; MK_E2E_TIER3=0 skips it.
import { AppsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tunnel } from '../../src/commands/tunnel.js';
import { loadBalancerStatus } from '../../src/tunnel/access.js';
import { formatTunnelEvent, type TunnelEvent } from '../../src/tunnel/tunnel.js';
import { k8sVersion } from '../k8s/binaries.js';
import { createKubeadmCluster, tier3Skip, ensureNodeImage, type KubeadmCluster } from '../k8s/cluster.js';
import { runKubeadm } from '../k8s/kubeadm.js';
import { eventually } from '../helpers/wait.js';
import { testContext } from '../helpers/context.js';
import { writeMkKubeconfig } from './tunnel-helpers.js';

const skip = await tier3Skip();

const APP = 'tunnel-web';
const COREFILE = `.:1053 {
    health :8080
    chaos mk-e2e
    whoami
}
`;

type Printed = TunnelEvent & { ts: string; cluster: string };

function deployment(image: string): V1Deployment {
  return {
    metadata: { name: APP, namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: APP } },
      template: {
        metadata: { labels: { app: APP } },
        spec: {
          terminationGracePeriodSeconds: 1,
          // One pod per node, so connections also go through the worker's kubelet.
          tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
          affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: APP } }, topologyKey: 'kubernetes.io/hostname' }] } },
          containers: [
            {
              name: 'coredns',
              image,
              imagePullPolicy: 'Never',
              args: ['-conf', '/etc/coredns/Corefile'],
              ports: [
                { name: 'http', containerPort: 8080 },
                { name: 'dns-tcp', containerPort: 1053, protocol: 'TCP' },
                { name: 'dns', containerPort: 1053, protocol: 'UDP' },
              ],
              readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 1 },
              volumeMounts: [{ name: 'conf', mountPath: '/etc/coredns' }],
            },
          ],
          volumes: [{ name: 'conf', configMap: { name: APP } }],
        },
      },
    },
  };
}

/** GET over a new TCP connection (no keep-alive); resolves with status, body and milliseconds. */
function get(port: number, agent: http.Agent | false = false): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent, timeout: 15_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** A CHAOS-class TXT query for hostname.bind over DNS/TCP: CoreDNS's chaos plugin answers with its hostname (the pod name). */
async function whoAnswers(port: number): Promise<string> {
  const qname = Buffer.from([8, ...Buffer.from('hostname'), 4, ...Buffer.from('bind'), 0]);
  const msg = Buffer.concat([Buffer.from([0x4d, 0x4b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), qname, Buffer.from([0, 16, 0, 3])]);
  const sock = connect(port, '127.0.0.1');
  await once(sock, 'connect');
  sock.write(Buffer.concat([Buffer.from([msg.length >> 8, msg.length & 0xff]), msg]));
  let buf = Buffer.alloc(0);
  for await (const chunk of sock) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) break;
  }
  sock.destroy();
  const reply = buf.subarray(2, 2 + buf.readUInt16BE(0));
  if (reply.readUInt16BE(6) < 1) throw new Error(`no answer (rcode ${reply[3]! & 0xf})`);
  // header, question (as sent), then the answer: name (a pointer or labels), type, class, ttl, rdlength, rdata = <len><text>
  let o = 12 + qname.length + 4;
  if (reply[o]! >= 0xc0) o += 2;
  else {
    while (reply[o]) o += reply[o]! + 1;
    o += 1;
  }
  o += 2 + 2 + 4 + 2;
  return reply.subarray(o + 1, o + 1 + reply[o]!).toString();
}

async function refused(port: number): Promise<boolean> {
  const sock = connect(port, '127.0.0.1');
  try {
    await once(sock, 'connect');
    sock.destroy();
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

describe.skipIf(skip)(`mk tunnel on a two-node kubeadm cluster (${k8sVersion()})`, () => {
  let cluster: KubeadmCluster;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let dir: string;
  let kubeconfig: string;
  const name = `tun${process.pid}`;
  const stop = new AbortController();
  const ctx = testContext({ output: 'json', signal: stop.signal, verbose: 1 });
  let running: Promise<number>;
  const printed = (): Printed[] => ctx.lines.map((l) => JSON.parse(l) as Printed);
  const forwardOf = (service: string, port: number) =>
    eventually(`forward of ${service} ${port}/TCP`, async () => printed().find((e) => e.type === 'tunnel.forward' && e.service === service && e.port === port), 30_000, 50);
  const localPort = (e: Printed) => Number((e as { local: string }).local.split(':')[1]);
  const podNames = async () => (await core.listNamespacedPod({ namespace: 'default', labelSelector: `app=${APP}` })).items.map((p) => p.metadata!.name!).sort();

  beforeAll(async () => {
    const t0 = Date.now();
    cluster = await createKubeadmCluster(await ensureNodeImage(), name);
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
    dir = await mkdtemp(path.join(tmpdir(), 'mk-tunnel-e2e-'));
    kubeconfig = path.join(dir, 'config');
    await writeMkKubeconfig(cluster.kubeConfig, name, kubeconfig);

    const images = await runKubeadm(['config', 'images', 'list', '--kubernetes-version', k8sVersion()]);
    const coredns = images.stdout.split('\n').find((i) => i.startsWith('registry.k8s.io/coredns/coredns:'));
    if (!coredns) throw new Error(`kubeadm lists no CoreDNS image:\n${images.stdout}`);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: APP }, data: { Corefile: COREFILE } } });
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment(coredns) });
    await eventually(
      'both backend pods ready',
      async () => ((await apps.readNamespacedDeployment({ name: APP, namespace: 'default' })).status?.readyReplicas === 2 ? true : undefined),
      300_000,
      1000,
    );
    const nodes = (await core.listNamespacedPod({ namespace: 'default', labelSelector: `app=${APP}` })).items.map((p) => p.spec?.nodeName).sort();
    expect(nodes).toEqual([...cluster.nodes].sort());
    console.log(`[tunnel] cluster ${name} up with 2 ready backend pods in ${Date.now() - t0} ms`);

    running = tunnel(ctx, name, { kubeconfig });
  });

  afterAll(async () => {
    stop.abort();
    await running?.catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
    if (!cluster) return;
    if (process.env.MK_K8S_KEEP === '1') {
      console.log(`[tunnel] kept cluster ${cluster.name}; remove with test/k8s/cluster.sh down ${cluster.name}`);
      return;
    }
    await cluster.delete();
  });

  it('status lists the Service as a LoadBalancer with <pending> (no load-balancer controller here)', async () => {
    await core.createNamespacedService({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        spec: {
          type: 'LoadBalancer',
          selector: { app: APP },
          ports: [
            { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
            { name: 'dns-tcp', port: 53, targetPort: 'dns-tcp', protocol: 'TCP' },
            { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' },
          ],
        },
      },
    });
    const created = performance.now();
    const listing = await loadBalancerStatus(name, { kubeconfig });
    expect('loadBalancers' in listing && listing.loadBalancers.map((s) => [s.namespace, s.name, s.ports.map((p) => `${p.port}/${p.protocol}`), s.addresses])).toEqual([
      ['default', 'web', ['80/TCP', '53/TCP', '53/UDP'], []],
    ]);

    // The tunnel (polling every 2 s) forwards it; the first byte comes back through a pod.
    const fwd = await forwardOf('default/web', 80);
    const forwardedMs = performance.now() - created;
    const first = await get(localPort(fwd));
    const firstByteMs = performance.now() - created;
    expect(first).toMatchObject({ status: 200, body: 'OK' });
    console.log(`[tunnel] Service created -> forward listening: ${forwardedMs.toFixed(0)} ms; -> first HTTP response: ${firstByteMs.toFixed(0)} ms (that request alone ${first.ms.toFixed(0)} ms)`);
    expect(formatTunnelEvent(fwd)).toMatch(/^default\/web 80\/TCP -> 127\.0\.0\.1:\d+( \(127\.0\.0\.1:80 is in use\))?$/);
    expect(fwd).toMatchObject({ type: 'tunnel.forward', cluster: name, protocol: 'TCP' });
    expect(printed().find((e) => e.type === 'tunnel.skipped')).toMatchObject({ service: 'default/web', port: 53, protocol: 'UDP', reason: 'the Kubernetes port-forward carries TCP only' });
    expect(ctx.reporter.events[0]).toMatchObject({ type: 'info', message: expect.stringContaining(`context mk-${name}`) });
  });

  it('carries every TCP port, and spreads connections over the pods on both nodes', async () => {
    const dns = localPort(await forwardOf('default/web', 53));
    const answered = [];
    for (let i = 0; i < 4; i++) answered.push(await whoAnswers(dns));
    expect([...new Set(answered)].sort()).toEqual(await podNames());
  });

  it('measures per-connection overhead: a new connection per request vs one kept-alive connection', async () => {
    const port = localPort(await forwardOf('default/web', 80));
    const fresh: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await get(port);
      expect(r.status).toBe(200);
      fresh.push(r.ms);
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const kept: number[] = [];
    try {
      for (let i = 0; i < 31; i++) {
        const r = await get(port, agent);
        expect(r.status).toBe(200);
        if (i > 0) kept.push(r.ms); // the first one opens the connection
      }
    } finally {
      agent.destroy();
    }
    console.log(
      `[tunnel] GET /health, 30 each: new connection median ${median(fresh).toFixed(1)} ms (p90 ${p90(fresh).toFixed(1)}); ` +
        `kept-alive median ${median(kept).toFixed(1)} ms (p90 ${p90(kept).toFixed(1)}); per-connection overhead ≈ ${(median(fresh) - median(kept)).toFixed(1)} ms`,
    );
  });

  it('forwards a Service added later on a port in use at another port, and says so', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const busy = (blocker.address() as { port: number }).port;
    try {
      await core.createNamespacedService({
        namespace: 'default',
        body: { metadata: { name: 'busy' }, spec: { type: 'LoadBalancer', selector: { app: APP }, ports: [{ port: busy, targetPort: 'http' }] } },
      });
      const fwd = await forwardOf('default/busy', busy);
      expect(fwd).toMatchObject({ note: `127.0.0.1:${busy} is in use` });
      expect(localPort(fwd)).not.toBe(busy);
      expect(await get(localPort(fwd))).toMatchObject({ status: 200, body: 'OK' });
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('closes a connection whose pod port does not listen, and says what the kubelet reported', async () => {
    await core.createNamespacedService({
      namespace: 'default',
      body: { metadata: { name: 'deaf' }, spec: { type: 'LoadBalancer', selector: { app: APP }, ports: [{ port: 8099, targetPort: 9999 }] } },
    });
    const port = localPort(await forwardOf('default/deaf', 8099));
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write('GET / HTTP/1.0\r\n\r\n');
    let data = '';
    sock.on('data', (d: Buffer) => (data += d.toString()));
    sock.on('error', () => {});
    await once(sock, 'close');
    expect(data).toBe('');
    const warning = await eventually(
      'a warning about port 9999',
      async () => ctx.reporter.events.find((e) => e.type === 'warning' && e.message.startsWith('default/deaf 8099/TCP: pod ')),
      10_000,
      50,
    );
    console.log(`[tunnel] pod port not listening: ${'message' in warning ? warning.message : ''}`);
    expect('message' in warning && warning.message).toMatch(/9999/);
    await core.deleteNamespacedService({ name: 'deaf', namespace: 'default' });
  });

  it('keeps working when the pods are replaced', async () => {
    const dns = localPort(await forwardOf('default/web', 53));
    const before = await podNames();
    await core.deleteCollectionNamespacedPod({ namespace: 'default', labelSelector: `app=${APP}` });
    const after = await eventually(
      'two new ready pods',
      async () => {
        const pods = (await core.listNamespacedPod({ namespace: 'default', labelSelector: `app=${APP}` })).items;
        const ready = pods.filter((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        return pods.length === 2 && ready.length === 2 ? pods.map((p) => p.metadata!.name!).sort() : undefined;
      },
      120_000,
      250,
    );
    expect(after.some((p) => before.includes(p))).toBe(false);
    // Right away: the tunnel's last listing may still name deleted pods (or only one new pod);
    // a pod that is gone is looked up again and another one tried, so every connection is served.
    const debugBefore = ctx.reporter.debugLines.length;
    const right = [];
    for (let i = 0; i < 4; i++) right.push(await whoAnswers(dns));
    expect(right.every((p) => after.includes(p))).toBe(true);
    const retried = ctx.reporter.debugLines.slice(debugBefore).filter((l) => l.includes('trying another'));
    console.log(`[tunnel] right after the replacement: answered by ${[...new Set(right)].join(', ')}; ${retried.length} attempt(s) on a deleted pod retried`);
    // After the next listing (every 2 s) both new pods take connections.
    await new Promise((r) => setTimeout(r, 2500));
    const later = [];
    for (let i = 0; i < 4; i++) later.push(await whoAnswers(dns));
    expect([...new Set(later)].sort()).toEqual(after);
  });

  it('closes the forward when the Service is removed', async () => {
    const port = localPort(await forwardOf('default/busy', (await core.readNamespacedService({ name: 'busy', namespace: 'default' })).spec!.ports![0]!.port));
    await core.deleteNamespacedService({ name: 'busy', namespace: 'default' });
    const closed = await eventually('busy closed', async () => printed().find((e) => e.type === 'tunnel.closed' && e.service === 'default/busy'), 30_000, 50);
    expect(closed).toMatchObject({ reason: 'Service removed' });
    expect(await refused(port)).toBe(true);
  });

  it('stops on abort (Ctrl-C): exit 0, every listener closed, nothing written into the cluster', async () => {
    const ports = printed()
      .filter((e) => e.type === 'tunnel.forward' && e.service === 'default/web')
      .map(localPort);
    const web = await core.readNamespacedService({ name: 'web', namespace: 'default' });
    stop.abort();
    expect(await running).toBe(0);
    expect(ctx.reporter.events.at(-1)).toMatchObject({ type: 'info', message: 'tunnel stopped' });
    for (const p of ports) expect(await refused(p)).toBe(true);
    expect(web.status?.loadBalancer?.ingress ?? []).toEqual([]);
    const warnings = ctx.reporter.events.filter((e) => e.type === 'warning');
    console.log(`[tunnel] warnings during the run: ${warnings.length}${warnings.length ? '\n' + warnings.map((w) => `  ${'message' in w ? w.message : ''}`).join('\n') : ''}`);
  });
});
