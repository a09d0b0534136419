// Small Kubernetes helpers shared by the e2e tests (not a test file: vitest only collects *.test.ts).
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { ApiException } from '@kubernetes/client-node';
import { KubeClient, kubeconfigCredentials } from '../../src/kube/index.js';
import { eventually } from '../helpers/wait.js';
import { k8sVersion } from '../k8s/binaries.js';
import { isNodeReady, type KubeNode } from '../../src/kubeadm/api.js';
import type { ObjectRef } from '../../src/addons/index.js';
import { catalogAddon } from '../../src/catalog/index.js';
import { localBuildFor } from '../../src/catalog/local-builds.js';

/** Awaits `p` and returns the ApiException's HTTP code; fails if `p` resolves or throws anything else. */
export async function apiErrorCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
  throw new Error('expected the Kubernetes API call to fail, but it succeeded');
}

/** mk's client for the kubeconfig at `path`, on `context` (default: the current one). */
export function kubeClient(path: string, context?: string): KubeClient {
  return new KubeClient(kubeconfigCredentials(readFileSync(path, 'utf8'), { ...(context ? { context } : {}), where: path }));
}

/** The kubeconfig mk wrote, on its context for `cluster`. */
export function mkClient(path: string, cluster: string): KubeClient {
  return kubeClient(path, `mk-${cluster}`);
}

/** Waits until the cluster has exactly the `expected` nodes, all Ready; returns them. */
export function readyNodes<T extends KubeNode = KubeNode>(client: KubeClient, expected: readonly string[], timeoutMs = 120_000): Promise<T[]> {
  const want = JSON.stringify([...expected].sort());
  return eventually(
    `nodes ${expected.join(', ')} Ready (and no others)`,
    async () => {
      const nodes = (await client.json<{ items: T[] }>('GET', '/api/v1/nodes')).items;
      return JSON.stringify(nodes.map((n) => n.metadata.name).sort()) === want && nodes.every(isNodeReady) ? nodes : undefined;
    },
    timeoutMs,
    2000,
  );
}

/** addons[].images: every image of the catalog addon, the one `npm run addon-images` builds in its place. */
export function localImages(addon: string): Record<string, string> {
  return Object.fromEntries(Object.entries(catalogAddon(addon)!.images).map(([key, ref]) => [key, localBuildFor(ref)!]));
}

export const ref = (kind: string, namespace: string | undefined, n: string, apiVersion = 'v1'): ObjectRef => ({ apiVersion, kind, name: n, ...(namespace ? { namespace } : {}) });

/** The API path of an object (of its collection, with `collection`), its plural made from its kind. */
export function urlOf(r: ObjectRef, collection = false): string {
  const [group, version] = r.apiVersion.includes('/') ? r.apiVersion.split('/') : ['', r.apiVersion];
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const plural = `${r.kind.toLowerCase()}${r.kind.endsWith('s') ? 'es' : 's'}`.replace(/([^aeiou])ys$/, '$1ies');
  return `${base}${r.namespace ? `/namespaces/${r.namespace}` : ''}/${plural}${collection ? '' : `/${r.name}`}`;
}

/** What mk's inventory of an addon lists (undefined: no inventory, the addon is not installed). */
export async function addonInventory(client: KubeClient, addon: string): Promise<ObjectRef[] | undefined> {
  const cm = await client.json<{ data?: { objects?: string } }>('GET', urlOf(ref('ConfigMap', 'kube-system', `mk-addon-${addon}`)), { allow404: true });
  return cm ? (JSON.parse(cm.data?.objects ?? '[]') as ObjectRef[]) : undefined;
}

/**
 * A pod on `node` resolves kubernetes.default's name (getent in the kube-proxy image, a Debian rootfs
 * every node holds: nothing is pulled); its phase and log, once it ended.
 */
export async function dnsProbe(kc: KubeClient, node: string, timeoutMs: number): Promise<{ phase: string; log: string }> {
  await kc.json('POST', '/api/v1/namespaces/default/pods', {
    body: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'dns-probe' },
      spec: {
        nodeName: node,
        restartPolicy: 'Never',
        containers: [{ name: 'probe', image: `registry.k8s.io/kube-proxy:${k8sVersion()}`, imagePullPolicy: 'Never', command: ['getent', 'hosts', 'kubernetes.default.svc.cluster.local'] }],
      },
    },
  });
  const phase = await eventually(
    'DNS probe finished',
    async () => {
      const p = await kc.json<{ status?: { phase?: string } }>('GET', '/api/v1/namespaces/default/pods/dns-probe');
      return p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed' ? p.status.phase : undefined;
    },
    timeoutMs,
    1000,
  );
  return { phase, log: (await kc.request('GET', '/api/v1/namespaces/default/pods/dns-probe/log')).body };
}

/** GET http://<address>:<port><path> with a Host header: status and body (fetch does not let a Host header through). */
export function httpGet(address: string, port: number, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, headers: { host }, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** What a DNS server answered: the response code's name, and the answer section's records (A records' data as addresses). */
export interface DnsAnswer {
  rcode: string;
  answers: { name: string; type: number; ttl: number; data: string }[];
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
export const DNS_TYPES = { A: 1, AAAA: 28 } as const;

/** A name in a DNS message at `at`, following compression pointers; and where the record goes on. */
function dnsName(msg: Buffer, at: number): { name: string; next: number } {
  const labels: string[] = [];
  let next: number | undefined;
  for (let i = at, hops = 0; hops < 64; hops++) {
    const len = msg[i]!;
    if (len === 0) return { name: labels.join('.'), next: next ?? i + 1 };
    if ((len & 0xc0) === 0xc0) {
      next ??= i + 2;
      i = ((len & 0x3f) << 8) | msg[i + 1]!;
      continue;
    }
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  throw new Error('a DNS name with too many compression pointers');
}

/**
 * One DNS question (class IN) to `server` port 53 over UDP or TCP (RFC 1035 framing), written here
 * so that the test sees exactly what the server answered, from this host, with nothing cached.
 */
export function dnsQuery(server: string, name: string, type: number, transport: 'udp' | 'tcp', timeoutMs = 2000): Promise<DnsAnswer> {
  const id = Math.floor(Math.random() * 0xffff);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // recursion desired
  header.writeUInt16BE(1, 4);
  const qname = Buffer.concat([...name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  const query = Buffer.concat([header, qname, tail]);
  const parse = (msg: Buffer): DnsAnswer => {
    if (msg.readUInt16BE(0) !== id) throw new Error('a DNS answer to another question');
    const rcode = RCODES[msg.readUInt16BE(2) & 0x0f] ?? String(msg.readUInt16BE(2) & 0x0f);
    const count = msg.readUInt16BE(6);
    let at = dnsName(msg, 12).next + 4;
    const answers: DnsAnswer['answers'] = [];
    for (let i = 0; i < count; i++) {
      const { name: owner, next } = dnsName(msg, at);
      const rtype = msg.readUInt16BE(next);
      const ttl = msg.readUInt32BE(next + 4);
      const len = msg.readUInt16BE(next + 8);
      const rdata = msg.subarray(next + 10, next + 10 + len);
      answers.push({ name: owner, type: rtype, ttl, data: rtype === DNS_TYPES.A ? [...rdata].join('.') : rdata.toString('hex') });
      at = next + 10 + len;
    }
    return { rcode, answers };
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no DNS answer from ${server} over ${transport} within ${timeoutMs} ms`)), timeoutMs);
    let close = () => {};
    const finish = (err: Error | undefined, msg?: Buffer) => {
      clearTimeout(timer);
      close();
      if (err) reject(err);
      else {
        try {
          resolve(parse(msg!));
        } catch (e) {
          reject(e as Error);
        }
      }
    };
    if (transport === 'udp') {
      const socket = createSocket('udp4');
      close = () => socket.close();
      socket.on('message', (msg) => finish(undefined, msg));
      socket.on('error', (err) => finish(err));
      socket.send(query, 53, server);
    } else {
      const socket = connect({ host: server, port: 53 });
      close = () => socket.destroy();
      let got = Buffer.alloc(0);
      socket.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length, 0);
        socket.write(Buffer.concat([len, query]));
      });
      socket.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) finish(undefined, got.subarray(2, 2 + got.readUInt16BE(0)));
      });
      socket.on('error', (err) => finish(err));
    }
  });
}
