// The pure half of src/kubeadm/api.ts: bootstrap tokens and their Secret, the CA hash kubeadm join
// pins (cross-checked against openssl on certificates made by openssl), drain's pod filter, node
// readiness, and the admin kubeconfig pointed at another server.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootstrapTokenSecret,
  adminClient,
  caCertHash,
  evictable,
  isNodeReady,
  newBootstrapToken,
  readyCondition,
  tokenString,
  type KubeNode,
} from '../../src/kubeadm/api.js';

describe('bootstrap tokens', () => {
  it('have kubeadm\'s format [a-z0-9]{6}.[a-z0-9]{16}', () => {
    for (let i = 0; i < 200; i++) {
      const t = newBootstrapToken();
      expect(t.id).toMatch(/^[a-z0-9]{6}$/);
      expect(t.secret).toMatch(/^[a-z0-9]{16}$/);
      expect(tokenString(t)).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
      expect(tokenString(t)).toBe(`${t.id}.${t.secret}`);
    }
  });

  it('are fresh every time and use the whole alphabet', () => {
    const tokens = Array.from({ length: 1000 }, () => newBootstrapToken());
    expect(new Set(tokens.map((t) => t.id)).size).toBe(tokens.length);
    expect(new Set(tokens.map((t) => t.secret)).size).toBe(tokens.length);
    // 22,000 characters drawn from 36: every one shows up (a missing one has odds below 1e-250).
    const seen = new Set(tokens.flatMap((t) => [...t.id, ...t.secret]));
    expect([...seen].sort().join('')).toBe('0123456789abcdefghijklmnopqrstuvwxyz');
  });
});

describe('bootstrapTokenSecret', () => {
  const token = { id: 'abc123', secret: '0123456789abcdef' };
  const now = new Date('2025-03-01T10:00:00.789Z');
  const secret = bootstrapTokenSecret('dev', token, { ttlMs: 15 * 60_000, now, description: 'mk join of dev-worker-1' });

  it('is the Secret kubeadm token create would write, in kube-system', () => {
    expect(secret).toMatchObject({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'bootstrap.kubernetes.io/token',
      metadata: { name: 'bootstrap-token-abc123', namespace: 'kube-system' },
    });
    expect(secret.stringData).toEqual({
      'token-id': 'abc123',
      'token-secret': '0123456789abcdef',
      expiration: '2025-03-01T10:15:00Z',
      'usage-bootstrap-authentication': 'true',
      'usage-bootstrap-signing': 'true',
      'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
      description: 'mk join of dev-worker-1',
    });
  });

  it('expires ttl after now, in RFC 3339 without fractional seconds', () => {
    const in1h = bootstrapTokenSecret('dev', token, { ttlMs: 3_600_000, now: new Date('2025-12-31T23:30:00Z'), description: '' });
    expect(in1h.stringData.expiration).toBe('2026-01-01T00:30:00Z');
    expect(secret.stringData.expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('is labelled as mk\'s and the cluster\'s (deleteKubeadmInitTokens keeps tokens labelled managed-by mk)', () => {
    expect(secret.metadata.labels).toEqual({ 'mk.dev/cluster': 'dev', 'app.kubernetes.io/managed-by': 'mk' });
  });

  it('names the node it is for in a label, so a re-run can find and delete tokens minted for that node', () => {
    const forNode = bootstrapTokenSecret('dev', token, { ttlMs: 60_000, now, description: 'mk: join of dev-worker-2', node: 'dev-worker-2' });
    expect(forNode.metadata.labels).toEqual({ 'mk.dev/cluster': 'dev', 'app.kubernetes.io/managed-by': 'mk', 'mk.dev/node': 'dev-worker-2' });
  });
});

describe('caCertHash against certificates made by openssl', () => {
  let dir: string;
  const certs: Record<'rsa' | 'ec', string> = { rsa: '', ec: '' };

  const openssl = (args: string[], input?: Buffer | string): Buffer => execFileSync('openssl', args, { cwd: dir, ...(input !== undefined ? { input } : {}), stdio: ['pipe', 'pipe', 'pipe'] });

  /** What kubeadm's docs say to run: openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum. */
  const opensslHash = (pem: string): string => {
    const pub = openssl(['x509', '-pubkey', '-noout'], pem);
    const der = openssl(['pkey', '-pubin', '-outform', 'der'], pub);
    const sum = execFileSync('sha256sum', [], { input: der }).toString().split(/\s/)[0]!;
    return `sha256:${sum}`;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mk-ca-'));
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa.key', '-out', 'rsa.crt', '-days', '1', '-subj', '/CN=kubernetes']);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ec.key', '-out', 'ec.crt', '-days', '1', '-subj', '/CN=kubernetes']);
    certs.rsa = readFileSync(join(dir, 'rsa.crt'), 'utf8');
    certs.ec = readFileSync(join(dir, 'ec.crt'), 'utf8');
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['rsa', 'ec'] as const)('%s CA: sha256 of the SubjectPublicKeyInfo, as openssl computes it', (kind) => {
    const h = caCertHash(certs[kind]);
    expect(h).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(h).toBe(opensslHash(certs[kind]));
  });

  it('hashes the public key, not the certificate: a different key gives a different hash', () => {
    expect(caCertHash(certs.rsa)).not.toBe(caCertHash(certs.ec));
    const certDer = openssl(['x509', '-outform', 'der'], certs.rsa);
    const wholeCert = execFileSync('sha256sum', [], { input: certDer }).toString().split(/\s/)[0]!;
    expect(caCertHash(certs.rsa)).not.toBe(`sha256:${wholeCert}`);
  });

  it('the CA read back from an admin kubeconfig hashes the same (adminClient(...).ca)', () => {
    const client = adminClient(adminConf(certs.ec), 'https://127.0.0.1:32768');
    expect(client.ca).toBe(certs.ec);
    expect(caCertHash(client.ca)).toBe(opensslHash(certs.ec));
  });

  it('refuses text that is not a certificate', () => {
    expect(() => caCertHash('not a certificate')).toThrow();
  });
});

/** A kubeadm admin.conf: one cluster (node-local server), one user, one context. */
function adminConf(caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'): string {
  return yaml.dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kubernetes', cluster: { server: 'https://dev-api.mk.internal:6443', 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'kubernetes-admin', user: { 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' } }],
    contexts: [{ name: 'kubernetes-admin@kubernetes', context: { cluster: 'kubernetes', user: 'kubernetes-admin' } }],
    'current-context': 'kubernetes-admin@kubernetes',
  });
}

describe('adminClient', () => {
  it('points at the given server with the admin.conf\'s CA', () => {
    const client = adminClient(adminConf(), 'https://127.0.0.1:40001');
    expect(client.server).toBe('https://127.0.0.1:40001');
    expect(client.ca).toBe('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  });

  it('reads the current context\'s cluster when the file has others', () => {
    const doc = yaml.load(adminConf()) as { clusters: Array<{ name: string; cluster: Record<string, string> }> };
    doc.clusters.unshift({ name: 'other', cluster: { server: 'https://other.example:6443', 'certificate-authority-data': Buffer.from('OTHER CA').toString('base64') } });
    expect(adminClient(yaml.dump(doc), 'https://10.0.0.5:6443').ca).toContain('MIIB');
  });

  it('refuses a kubeconfig without a current context, or without client certificate, naming the way out', () => {
    const doc = yaml.load(adminConf()) as Record<string, unknown>;
    delete doc['current-context'];
    expect(() => adminClient(yaml.dump(doc), 'https://127.0.0.1:1')).toThrow(/admin kubeconfig .* has no current context; `kubeadm init phase kubeconfig admin`/);
    const noKey = yaml.load(adminConf()) as { users: Array<{ user: Record<string, string> }> };
    delete noKey.users[0]!.user['client-key-data'];
    expect(() => adminClient(yaml.dump(noKey), 'https://127.0.0.1:1')).toThrow(/has no client-certificate-data and client-key-data/);
  });
});

describe('evictable (what drain evicts)', () => {
  const pod = (extra: { annotations?: Record<string, string>; owners?: string[]; phase?: string } = {}) => ({
    metadata: {
      name: 'p',
      namespace: 'default',
      ...(extra.annotations ? { annotations: extra.annotations } : {}),
      ...(extra.owners ? { ownerReferences: extra.owners.map((kind) => ({ kind })) } : {}),
    },
    ...(extra.phase ? { status: { phase: extra.phase } } : {}),
  });

  it('evicts running pods of workloads and bare pods', () => {
    expect(evictable(pod({ owners: ['ReplicaSet'], phase: 'Running' }))).toBe(true);
    expect(evictable(pod({ owners: ['StatefulSet'], phase: 'Pending' }))).toBe(true);
    expect(evictable(pod())).toBe(true);
  });

  it('leaves DaemonSet pods, static (mirror) pods and finished pods alone', () => {
    expect(evictable(pod({ owners: ['DaemonSet'], phase: 'Running' }))).toBe(false);
    expect(evictable(pod({ annotations: { 'kubernetes.io/config.mirror': 'abc' }, phase: 'Running' }))).toBe(false);
    expect(evictable(pod({ owners: ['Job'], phase: 'Succeeded' }))).toBe(false);
    expect(evictable(pod({ phase: 'Failed' }))).toBe(false);
  });
});

describe('node readiness', () => {
  const node = (conditions?: KubeNode['status']): KubeNode => ({ metadata: { name: 'dev-worker-1' }, ...(conditions ? { status: conditions } : {}) });

  it('finds the Ready condition among the others', () => {
    const n = node({
      conditions: [
        { type: 'MemoryPressure', status: 'False' },
        { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'container runtime network not ready' },
        { type: 'DiskPressure', status: 'False' },
      ],
    });
    expect(readyCondition(n)).toEqual({ type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'container runtime network not ready' });
    expect(isNodeReady(n)).toBe(false);
  });

  it('is ready only with Ready=True', () => {
    expect(isNodeReady(node({ conditions: [{ type: 'Ready', status: 'True' }] }))).toBe(true);
    expect(isNodeReady(node({ conditions: [{ type: 'Ready', status: 'Unknown' }] }))).toBe(false);
    expect(isNodeReady(node({ conditions: [{ type: 'NetworkUnavailable', status: 'True' }] }))).toBe(false);
    expect(isNodeReady(node())).toBe(false);
    expect(readyCondition(node())).toBeUndefined();
  });
});
