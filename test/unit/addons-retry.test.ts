// Transient API errors (429, 5xx, refused connections) are retried with backoff; others are not.
// A fake API server on 127.0.0.1 answers just enough of the API for applyAddon.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { AddonError, applyAddon } from '../../src/addons/apply.js';

type Handler = (req: IncomingMessage, body: string) => { status: number; body?: unknown } | undefined;

async function fakeApi(handler: Handler): Promise<{ server: Server; kc: KubeConfig; log: string[] }> {
  const log: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      log.push(`${req.method} ${req.url}`);
      const custom = handler(req, body);
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (custom) return send(custom.status, custom.body ?? { kind: 'Status', code: custom.status });
      if (req.method === 'GET' && req.url === '/api/v1') {
        return send(200, { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'configmaps', namespaced: true, kind: 'ConfigMap', verbs: ['get', 'patch'] }] });
      }
      if (req.method === 'GET') return send(404, { kind: 'Status', code: 404 });
      if (req.method === 'PATCH') return send(200, JSON.parse(body) as unknown);
      return send(405, {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
    currentContext: 'c',
  });
  return { server, kc, log };
}

const CM = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default' }, data: { a: '1' } };

describe('applyAddon retries', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await new Promise((r) => server!.close(r));
    server = undefined;
  });

  it('retries 503 and 429 on apply, then succeeds', async () => {
    let failures = 0;
    const fake = await fakeApi((req) => {
      if (req.method === 'PATCH' && req.url?.includes('/configmaps/x?') && failures < 2) {
        failures++;
        return { status: failures === 1 ? 503 : 429 };
      }
      return undefined;
    });
    server = fake.server;
    const messages: string[] = [];
    const res = await applyAddon(fake.kc, 'dev', { name: 'a' }, [CM], { log: (m) => messages.push(m) });
    expect(res.objects).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name: 'x' }]);
    expect(fake.log.filter((l) => l.startsWith('PATCH /api/v1/namespaces/default/configmaps/x?'))).toHaveLength(3);
    expect(messages.filter((m) => /retrying/.test(m))).toHaveLength(2);
    expect(fake.log.find((l) => l.startsWith('PATCH /api/v1/namespaces/default/configmaps/x?'))).toContain('fieldManager=mk');
  });

  it('does not retry a 422 (the object is invalid): reports it once', async () => {
    const fake = await fakeApi((req) => (req.method === 'PATCH' && req.url?.includes('/configmaps/x?') ? { status: 422, body: { kind: 'Status', code: 422, message: 'ConfigMap "x" is invalid: data: too long' } } : undefined));
    server = fake.server;
    await expect(applyAddon(fake.kc, 'dev', { name: 'a' }, [CM])).rejects.toThrow(new AddonError('a', 'applying ConfigMap default/x failed: ConfigMap "x" is invalid: data: too long'));
    expect(fake.log.filter((l) => l.startsWith('PATCH /api/v1/namespaces/default/configmaps/x?'))).toHaveLength(1);
  });

  it('gives up after the retry budget on a server that keeps failing', async () => {
    const fake = await fakeApi((req) => (req.method === 'GET' && req.url?.includes('/configmaps/') ? { status: 500 } : undefined));
    server = fake.server;
    await expect(applyAddon(fake.kc, 'dev', { name: 'a' }, [CM], { retries: 2 })).rejects.toMatchObject({ code: 500 });
    expect(fake.log.filter((l) => l.startsWith('GET /api/v1/namespaces/kube-system/configmaps/mk-addon-a'))).toHaveLength(3);
  });
});
