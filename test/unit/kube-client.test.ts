// src/kube's client against a local https API server with a throwaway CA: TLS verified both ways,
// errors typed by status, transient failures retried (and nothing else), discovery read once per
// apiVersion, server-side apply as "mk", abort and timeouts, kept-alive connections; and the
// credentials read from a kubeconfig.
import yaml from 'js-yaml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError, KubeClient, KubeConnectionError, KubeconfigError, isTransient, kubeconfigCredentials } from '../../src/kube/index.js';
import { fakeApi, kubeconfigYaml, testPki, type Answer, type FakeApi, type Pki } from './fake-apiserver.js';

const V1 = { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'configmaps', namespaced: true, kind: 'ConfigMap' }, { name: 'pods/status', namespaced: true, kind: 'Pod' }, { name: 'namespaces', namespaced: false, kind: 'Namespace' }] };
const CM = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'ns', name: 'x' };

describe('KubeClient', () => {
  let fake: FakeApi | undefined;
  let pki: Pki;
  const serve = async (handler: (method: string, url: string, body: string) => Answer) => {
    fake = await fakeApi((req, body) => handler(req.method ?? '', req.url ?? '', body));
    return fake;
  };
  beforeAll(async () => {
    pki = await testPki();
  });
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('verifies the server against the CA and presents the client certificate', async () => {
    const api = await serve(() => ({ status: 200, body: { kind: 'Status', status: 'Success' } }));
    const client = new KubeClient(api.credentials);
    expect(await client.json('GET', '/version')).toEqual({ kind: 'Status', status: 'Success' });
    expect(api.clients).toEqual(['mk-test']);
    client.close();
  });

  it('refuses a server its CA did not sign, without retrying (not transient)', async () => {
    const api = await serve(() => ({ status: 200 }));
    const client = new KubeClient({ ...api.credentials, ca: pki.client.cert }, { retries: 3 });
    const err = await client.json('GET', '/version').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeConnectionError);
    expect(isTransient(err)).toBe(false);
    expect(api.log).toEqual([]);
  });

  it('refuses anything but an https:// server, and unusable PEM, as kubeconfig errors', async () => {
    expect(() => new KubeClient({ server: 'http://127.0.0.1:1', ca: pki.ca, cert: pki.client.cert, key: pki.client.key })).toThrow(KubeconfigError);
    const broken = new KubeClient({ server: 'https://127.0.0.1:1', ca: pki.ca, cert: 'not PEM', key: 'SECRET-KEY-TEXT' });
    const err = (await broken.json('GET', '/version').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(KubeconfigError);
    expect(err.message).not.toContain('SECRET-KEY-TEXT');
  });

  it('turns statuses into KubeApiError with status, reason and the API server\'s message; allow404 gives undefined', async () => {
    await serve((method) =>
      method === 'POST'
        ? { status: 409, body: { kind: 'Status', code: 409, reason: 'AlreadyExists', message: 'configmaps "x" already exists' } }
        : { status: 404, body: { kind: 'Status', code: 404, reason: 'NotFound', message: 'configmaps "x" not found' } },
    );
    const client = new KubeClient(fake!.credentials);
    expect(await client.json('GET', '/api/v1/namespaces/ns/configmaps/x', { allow404: true })).toBeUndefined();
    const notFound = await client.json('GET', '/api/v1/namespaces/ns/configmaps/x').catch((e: unknown) => e);
    expect(notFound).toMatchObject({ status: 404, reason: 'NotFound', message: 'configmaps "x" not found', method: 'GET', path: '/api/v1/namespaces/ns/configmaps/x' });
    const conflict = await client.json('POST', '/api/v1/namespaces/ns/configmaps', { body: { data: { token: 'secret' } } }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(KubeApiError);
    expect(conflict).toMatchObject({ status: 409, reason: 'AlreadyExists' });
    expect((conflict as Error).message).not.toContain('secret');
    client.close();
  });

  it('retries 429 and 5xx with backoff, telling onRetry; gives up after the budget with the last error', async () => {
    let calls = 0;
    let failing = false;
    await serve(() => (failing ? (calls++, { status: 503 }) : ++calls <= 2 ? { status: calls === 1 ? 503 : 429 } : { status: 200, body: { ok: true } }));
    const retried: string[] = [];
    const client = new KubeClient(fake!.credentials, { retries: 3, onRetry: (m) => retried.push(m) });
    expect(await client.json('GET', '/api/v1/namespaces')).toEqual({ ok: true });
    expect(calls).toBe(3);
    expect(retried).toEqual(['GET /api/v1/namespaces: HTTP 503; retrying (3 left)', 'GET /api/v1/namespaces: HTTP 429; retrying (2 left)']);

    failing = true;
    await expect(client.json('GET', '/api/v1/namespaces', { retries: 1 })).rejects.toMatchObject({ status: 503 });
    expect(calls).toBe(5);
    client.close();
  });

  it('does not retry other statuses, nor requests of a client without retries', async () => {
    let calls = 0;
    await serve(() => (calls++, { status: calls === 1 ? 422 : 500 }));
    const client = new KubeClient(fake!.credentials, { retries: 5 });
    await expect(client.json('PATCH', '/api/v1/namespaces/ns/configmaps/x', { body: {} })).rejects.toMatchObject({ status: 422 });
    await expect(client.with({ retries: 0 }).json('GET', '/api/v1/namespaces')).rejects.toMatchObject({ status: 500 });
    expect(calls).toBe(2);
    client.close();
  });

  it('retries a refused connection', async () => {
    const api = await serve(() => ({ status: 200 }));
    const credentials = api.credentials;
    await api.close();
    fake = undefined;
    const retried: string[] = [];
    const err = await new KubeClient(credentials, { retries: 2, onRetry: (m) => retried.push(m) }).json('GET', '/version').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeConnectionError);
    expect(err).toMatchObject({ code: 'ECONNREFUSED' });
    expect(retried).toHaveLength(2);
  });

  it('reads discovery once per apiVersion, however many reads start at once; a kind missing from it is asked again', async () => {
    let crdEstablished = false;
    await serve((method, url) => {
      if (url === '/api/v1') return { status: 200, body: V1 };
      if (url === '/apis/example.com/v1') return crdEstablished ? { status: 200, body: { resources: [{ name: 'widgets', namespaced: true, kind: 'Widget' }] } } : { status: 404 };
      if (url.startsWith('/api/v1/namespaces/ns/configmaps/')) return { status: 200, body: { kind: 'ConfigMap', metadata: { name: url.split('/').pop() } } };
      return { status: 404 };
    });
    const client = new KubeClient(fake!.credentials);
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const read = await Promise.all(names.map((name) => client.read({ ...CM, name })));
    expect(read.map((o) => o?.metadata?.name)).toEqual(names);
    expect(await client.resource('v1', 'Namespace')).toEqual({ name: 'namespaces', namespaced: false, kind: 'Namespace' });
    expect(fake!.log.filter((l) => l === 'GET /api/v1')).toHaveLength(1);
    // Subresources are not the kind's resource; a kind the server does not serve has no object path.
    expect(await client.objectPath({ apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'p' })).toBeUndefined();
    expect(await client.read({ apiVersion: 'example.com/v1', kind: 'Widget', namespace: 'ns', name: 'w' })).toBeUndefined();
    crdEstablished = true;
    expect(await client.objectPath({ apiVersion: 'example.com/v1', kind: 'Widget', name: 'w' })).toBe('/apis/example.com/v1/namespaces/default/widgets/w');
    expect(fake!.log.filter((l) => l === 'GET /apis/example.com/v1')).toHaveLength(2);
    // Clients made with with() share the cache.
    await client.with({ retries: 2 }).resource('example.com/v1', 'Widget');
    expect(fake!.log.filter((l) => l === 'GET /apis/example.com/v1')).toHaveLength(2);
    client.close();
  });

  it('server-side applies as field manager mk, with force only when asked; lists with selectors; deletes in the background', async () => {
    const bodies: string[] = [];
    await serve((method, url, body) => {
      if (url === '/api/v1') return { status: 200, body: V1 };
      if (method === 'PATCH') return bodies.push(body), { status: 200, body: JSON.parse(body) as unknown };
      if (method === 'GET') return { status: 200, body: { items: [{ metadata: { name: 'x' } }] } };
      return { status: url.includes('/gone') ? 404 : 200, body: {} };
    });
    const client = new KubeClient(fake!.credentials);
    const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'ns' }, data: { 'x-kubernetes-preserve-unknown-fields': 'kept' } };
    expect(await client.apply(obj)).toEqual(obj);
    await client.apply(obj, { force: true });
    expect(JSON.parse(bodies[0]!)).toEqual(obj);
    expect(await client.list('v1', 'ConfigMap', { namespace: 'ns', labelSelector: 'a=b,c=d' })).toEqual([{ metadata: { name: 'x' } }]);
    expect(await client.delete(CM)).toBe(true);
    expect(await client.delete({ ...CM, name: 'gone' })).toBe(false);
    expect(fake!.log.slice(1)).toEqual([
      'PATCH /api/v1/namespaces/ns/configmaps/x?fieldManager=mk',
      'PATCH /api/v1/namespaces/ns/configmaps/x?fieldManager=mk&force=true',
      'GET /api/v1/namespaces/ns/configmaps?labelSelector=a%3Db%2Cc%3Dd',
      'DELETE /api/v1/namespaces/ns/configmaps/x?propagationPolicy=Background',
      'DELETE /api/v1/namespaces/ns/configmaps/gone?propagationPolicy=Background',
    ]);
    client.close();
  });

  it('keeps connections alive: sequential requests share one', async () => {
    await serve(() => ({ status: 200, body: {} }));
    const client = new KubeClient(fake!.credentials);
    for (let i = 0; i < 5; i++) await client.json('GET', '/version');
    expect(fake!.connections).toBe(1);
    client.close();
  });

  it('stops at once when the signal aborts (with its reason, no retry), and gives up on a silent server after timeoutMs', async () => {
    await serve(() => 'hang');
    const controller = new AbortController();
    const client = new KubeClient(fake!.credentials, { retries: 3, signal: controller.signal });
    const started = Date.now();
    const pending = client.json('GET', '/version').catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('interrupted by SIGINT')), 100);
    expect(await pending).toEqual(new Error('interrupted by SIGINT'));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(fake!.log).toHaveLength(1);

    const timedOut = await new KubeClient(fake!.credentials).json('GET', '/version', { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(KubeConnectionError);
    expect(timedOut).toMatchObject({ code: 'ETIMEDOUT', message: 'no answer within 0.2 s' });
    expect(isTransient(timedOut)).toBe(true);
  });
});

describe('kubeconfigCredentials', () => {
  const creds = { server: 'https://127.0.0.1:6443', ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM' };

  it('reads a context\'s server, CA and client certificate; server can be replaced', () => {
    expect(kubeconfigCredentials(kubeconfigYaml('mk-dev', creds))).toEqual(creds);
    expect(kubeconfigCredentials(kubeconfigYaml('mk-dev', creds), { server: 'https://10.0.0.5:6443' }).server).toBe('https://10.0.0.5:6443');
  });

  it('reads the named context, ignoring entries of other tools it could not use', () => {
    const doc = yaml.load(kubeconfigYaml('mk-dev', creds)) as Record<string, unknown[]>;
    doc.clusters!.push({ name: 'gke', cluster: { server: 'https://gke', 'insecure-skip-tls-verify': true, extensions: [{ weird: 1 }] } }, 'not an entry');
    doc.users!.push({ name: 'gke', user: { exec: { command: 'gke-gcloud-auth-plugin' } } });
    doc.contexts!.push({ name: 'gke', context: { cluster: 'gke', user: 'gke' } });
    (doc as Record<string, unknown>)['current-context'] = 'gke';
    expect(kubeconfigCredentials(doc, { context: 'mk-dev' })).toEqual(creds);
  });

  it('says what is missing, and never quotes the file', () => {
    const where = { where: '/home/u/.kube/config' };
    expect(() => kubeconfigCredentials('- a\n- list', where)).toThrow(new KubeconfigError('/home/u/.kube/config is not a kubeconfig (not a YAML mapping)'));
    expect(() => kubeconfigCredentials('clusters: [', where)).toThrow(/^\/home\/u\/.kube\/config is not valid YAML \(line \d+\)$/);
    expect(() => kubeconfigCredentials('apiVersion: v1\nclient-key-data: "SECRET\n  x: [', where)).toThrow(/^[^S]*$/);
    expect(() => kubeconfigCredentials(kubeconfigYaml('mk-dev', creds), { ...where, context: 'mk-prod' })).toThrow('context mk-prod in /home/u/.kube/config is incomplete');
    const doc = yaml.load(kubeconfigYaml('mk-dev', creds)) as { clusters: Array<{ cluster: Record<string, unknown> }>; users: Array<{ user: Record<string, unknown> }> };
    delete doc.clusters[0]!.cluster['certificate-authority-data'];
    expect(() => kubeconfigCredentials(doc, where)).toThrow(/has no certificate-authority-data/);
    const token = yaml.load(kubeconfigYaml('mk-dev', creds)) as typeof doc;
    token.users[0]!.user = { token: 't' };
    expect(() => kubeconfigCredentials(token, where)).toThrow('context mk-dev in /home/u/.kube/config has no client-certificate-data and client-key-data; mk authenticates with a client certificate');
  });
});
