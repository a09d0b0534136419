// Transient API errors (429, 5xx, refused connections) are retried with backoff; others are not.
// A fake API server on 127.0.0.1 answers just enough of the API for applyAddon.
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { applyAddon } from '../../src/manifests/apply.js';
import { AddonError } from '../../src/manifests/errors.js';
import { KubeClient } from '../../src/kube/index.js';
import { fakeApi as fakeServer, type Answer, type FakeApi } from './fake-apiserver.js';

type Handler = (req: IncomingMessage, body: string) => Answer | undefined;

/** Just enough of the API for applyAddon: discovery of v1 ConfigMaps, 404 on reads, PATCH echoes. */
async function fakeApi(handler: Handler): Promise<FakeApi & { client: KubeClient }> {
  const fake = await fakeServer((req, body) => {
    const custom = handler(req, body);
    if (custom) return custom;
    if (req.method === 'GET' && req.url === '/api/v1') {
      return { status: 200, body: { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'configmaps', namespaced: true, kind: 'ConfigMap', verbs: ['get', 'patch'] }] } };
    }
    if (req.method === 'GET') return { status: 404 };
    if (req.method === 'PATCH') return { status: 200, body: JSON.parse(body) as unknown };
    return { status: 405, body: {} };
  });
  return Object.assign(fake, { client: new KubeClient(fake.credentials) });
}

const CM = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'default' }, data: { a: '1' } };

describe('applyAddon retries', () => {
  let fake: FakeApi | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('retries 503 and 429 on apply, then succeeds', async () => {
    let failures = 0;
    const api = await fakeApi((req) => {
      if (req.method === 'PATCH' && req.url?.includes('/configmaps/x?') && failures < 2) {
        failures++;
        return { status: failures === 1 ? 503 : 429 };
      }
      return undefined;
    });
    fake = api;
    const messages: string[] = [];
    const res = await applyAddon(api.client, 'dev', { name: 'a' }, [CM], { log: (m) => messages.push(m) });
    expect(res.objects).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'default', name: 'x' }]);
    expect(api.log.filter((l) => l.startsWith('PATCH /api/v1/namespaces/default/configmaps/x?'))).toHaveLength(3);
    expect(messages.filter((m) => /retrying/.test(m))).toHaveLength(2);
    expect(api.log.find((l) => l.startsWith('PATCH /api/v1/namespaces/default/configmaps/x?'))).toContain('fieldManager=mk');
  });

  it('does not retry a 422 (the object is invalid): reports it once', async () => {
    const api = await fakeApi((req) => (req.method === 'PATCH' && req.url?.includes('/configmaps/x?') ? { status: 422, body: { kind: 'Status', code: 422, message: 'ConfigMap "x" is invalid: data: too long' } } : undefined));
    fake = api;
    await expect(applyAddon(api.client, 'dev', { name: 'a' }, [CM])).rejects.toThrow(new AddonError('a', 'applying ConfigMap default/x failed: ConfigMap "x" is invalid: data: too long'));
    expect(api.log.filter((l) => l.startsWith('PATCH /api/v1/namespaces/default/configmaps/x?'))).toHaveLength(1);
  });

  it('gives up after the retry budget on a server that keeps failing', async () => {
    const api = await fakeApi((req) => (req.method === 'GET' && req.url?.includes('/configmaps/') ? { status: 500 } : undefined));
    fake = api;
    await expect(applyAddon(api.client, 'dev', { name: 'a' }, [CM], { retries: 2 })).rejects.toMatchObject({ status: 500 });
    expect(api.log.filter((l) => l.startsWith('GET /api/v1/namespaces/kube-system/configmaps/mk-addon-a'))).toHaveLength(3);
  });
});
