// Tier 2: a real kubeadm, built from source, without a node: config validation, the image
// list, and the certs/kubeconfig phases writing real PKI into a temp dir.
import { KubeConfig } from '@kubernetes/client-node';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { K8S_DIR, binariesGate, builtVersions, k8sVersion } from '../k8s/binaries.js';
import yaml from 'js-yaml';
import { editKubeadmConfig, kubeadmImagesList, kubeadmInitDryRun, kubeadmInitPki, kubeadmValidate, runKubeadm, type KubeadmPki } from '../k8s/kubeadm.js';

const gate = binariesGate(['kubeadm']);
const FIXTURE = path.join(K8S_DIR, 'fixtures', 'kubeadm-v1beta4.yaml');

/** The fixture with kubernetesVersion set to the pinned version. */
async function fixture(): Promise<string> {
  return editKubeadmConfig(await readFile(FIXTURE, 'utf8'), 'ClusterConfiguration', (d) => {
    d.kubernetesVersion = k8sVersion();
  });
}

describe.skipIf(gate.skip)(`tier 2: kubeadm ${k8sVersion()} without a node`, () => {
  let config: string;
  beforeAll(async () => {
    config = await fixture();
  });

  it('is the pinned version', async () => {
    const r = await runKubeadm(['version', '-o', 'short']);
    expect(r.ok).toBe(true);
    expect(r.stdout.trim()).toBe(k8sVersion());
  });

  it('accepts the representative v1beta4 config (Init + Cluster + Kubelet + KubeProxy)', async () => {
    const r = await kubeadmValidate(config);
    expect(r.output).not.toMatch(/error/i);
    expect(r.ok).toBe(true);
  });

  it.each([
    ['an invalid pod subnet', 'ClusterConfiguration', 'podSubnet', (d: Record<string, unknown>) => {
      d.networking = { ...(d.networking as object), podSubnet: '10.244.0.0/33' };
    }],
    ['an unknown field (strict decoding)', 'ClusterConfiguration', 'notAKubeadmField', (d: Record<string, unknown>) => {
      d.notAKubeadmField = true;
    }],
    ['a malformed bootstrap token', 'InitConfiguration', 'not-a-token', (d: Record<string, unknown>) => {
      d.bootstrapTokens = [{ token: 'not-a-token' }];
    }],
    ['a kubelet field of the wrong type', 'KubeletConfiguration', 'failSwapOn', (d: Record<string, unknown>) => {
      d.failSwapOn = 'sometimes';
    }],
  ])('rejects %s', async (_what, kind, culprit, edit) => {
    const r = await kubeadmValidate(editKubeadmConfig(config, kind, edit));
    expect(r.ok).toBe(false);
    // kubeadm names the offending field or value (asserted, never branched on).
    expect(r.output).toContain(culprit);
  });

  it('rejects an unknown kubeadm API version', async () => {
    const r = await kubeadmValidate(config.replaceAll('kubeadm.k8s.io/v1beta4', 'kubeadm.k8s.io/v1beta9'));
    expect(r.ok).toBe(false);
  });

  it('lists the images of the pinned version, with the etcd that build.sh built', async () => {
    const images = await kubeadmImagesList(config);
    const v = k8sVersion();
    for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy']) {
      expect(images).toContain(`registry.k8s.io/${c}:${v}`);
    }
    expect(images.some((i) => i.startsWith('registry.k8s.io/coredns/coredns:v1.'))).toBe(true);
    expect(images.some((i) => /^registry\.k8s\.io\/pause:3\.\d+(\.\d+)?$/.test(i))).toBe(true);
    const etcd = images.find((i) => i.startsWith('registry.k8s.io/etcd:'));
    expect(etcd).toBeDefined();
    // registry.k8s.io/etcd:3.6.x-0 <-> etcd v3.6.x from build.sh
    expect(`v${etcd!.split(':')[1]!.replace(/-\d+$/, '')}`).toBe(builtVersions().etcd);
  });

  describe('init phase certs all + kubeconfig all', () => {
    let pki: KubeadmPki;
    beforeAll(async () => {
      pki = await kubeadmInitPki(config);
    });
    afterAll(async () => {
      await pki?.cleanup();
      if (pki) expect(existsSync(pki.dir)).toBe(false);
    });

    const cert = async (name: string) => new X509Certificate(await readFile(path.join(pki.certDir, `${name}.crt`)));

    it('writes the full control-plane PKI', () => {
      const expected = [
        'ca.crt', 'ca.key', 'apiserver.crt', 'apiserver.key', 'apiserver-kubelet-client.crt', 'apiserver-kubelet-client.key',
        'front-proxy-ca.crt', 'front-proxy-ca.key', 'front-proxy-client.crt', 'front-proxy-client.key',
        'etcd/ca.crt', 'etcd/ca.key', 'etcd/server.crt', 'etcd/server.key', 'etcd/peer.crt', 'etcd/peer.key',
        'etcd/healthcheck-client.crt', 'etcd/healthcheck-client.key', 'apiserver-etcd-client.crt', 'apiserver-etcd-client.key',
        'sa.key', 'sa.pub',
      ];
      expect(expected.filter((f) => !existsSync(path.join(pki.certDir, f)))).toEqual([]);
    });

    it('issues an apiserver certificate for the endpoint, the SANs and the first service IP, signed by the CA', async () => {
      const ca = await cert('ca');
      const apiserver = await cert('apiserver');
      expect(ca.ca).toBe(true);
      expect(apiserver.ca).toBe(false);
      expect(apiserver.checkIssued(ca)).toBe(true);
      expect(apiserver.verify(ca.publicKey)).toBe(true);
      const sans = apiserver.subjectAltName ?? '';
      for (const san of ['DNS:demo-control-plane-1', 'DNS:demo.mk.internal', 'DNS:kubernetes.default.svc.cluster.local', 'DNS:localhost', 'IP Address:10.96.0.1', 'IP Address:172.30.0.2', 'IP Address:127.0.0.1']) {
        expect(sans).toContain(san);
      }
      // The etcd tree has its own CA.
      const etcdCa = await cert('etcd/ca');
      expect((await cert('etcd/server')).verify(etcdCa.publicKey)).toBe(true);
      expect((await cert('apiserver-etcd-client')).verify(etcdCa.publicKey)).toBe(true);
      expect((await cert('etcd/server')).verify(ca.publicKey)).toBe(false);
    });

    it('writes a matching service-account key pair', async () => {
      const priv = createPrivateKey(await readFile(path.join(pki.certDir, 'sa.key')));
      const pub = createPublicKey(await readFile(path.join(pki.certDir, 'sa.pub')));
      expect(createPublicKey(priv).export({ type: 'spki', format: 'pem' })).toBe(pub.export({ type: 'spki', format: 'pem' }));
    });

    it('writes kubeconfigs that point at the control-plane endpoint and carry CA-signed client certs', async () => {
      const ca = await cert('ca');
      // admin/super-admin use the controlPlaneEndpoint; kubelet and components the local endpoint.
      const endpoint = 'https://demo-control-plane-1:6443';
      const local = 'https://172.30.0.2:6443';
      const expectations: [string, RegExp, string][] = [
        ['admin.conf', /O=kubeadm:cluster-admins/, endpoint],
        ['super-admin.conf', /O=system:masters/, endpoint],
        ['controller-manager.conf', /CN=system:kube-controller-manager/, local],
        ['scheduler.conf', /CN=system:kube-scheduler/, local],
        ['kubelet.conf', /CN=system:node:demo-control-plane-1/, local],
      ];
      for (const [file, subject, server] of expectations) {
        const kc = new KubeConfig();
        kc.loadFromFile(path.join(pki.kubeconfigDir, file));
        const cluster = kc.getCurrentCluster();
        expect(cluster?.name, file).toBe('demo');
        expect(cluster?.server, file).toBe(server);
        expect(Buffer.from(cluster?.caData ?? '', 'base64').toString()).toBe(ca.toString());
        const user = kc.getCurrentUser();
        const client = new X509Certificate(Buffer.from(user?.certData ?? '', 'base64'));
        expect(client.subject.replaceAll('\n', ','), file).toMatch(subject);
        expect(client.verify(ca.publicKey), file).toBe(true);
      }
    });
  });

  it('init --dry-run renders the static Pod manifests without touching /etc', async () => {
    const etcBefore = existsSync('/etc/kubernetes');
    const dry = await kubeadmInitDryRun(config);
    try {
      interface Pod { metadata: { name: string }; spec: { containers: { image: string; command: string[] }[] } }
      const manifest = async (name: string) => yaml.load(await readFile(path.join(dry.dir, `${name}.yaml`), 'utf8')) as Pod;
      const apiserver = await manifest('kube-apiserver');
      expect(apiserver.spec.containers[0]!.image).toBe(`registry.k8s.io/kube-apiserver:${k8sVersion()}`);
      const args = apiserver.spec.containers[0]!.command;
      expect(args[0]).toBe('kube-apiserver');
      expect(args).toContain('--service-cluster-ip-range=10.96.0.0/16');
      expect(args).toContain('--advertise-address=172.30.0.2');
      expect(args).toContain('--service-node-port-range=30000-32767'); // from apiServer.extraArgs
      const etcd = await manifest('etcd');
      expect(etcd.spec.containers[0]!.command).toContain('--unsafe-no-fsync=true'); // from etcd.local.extraArgs
      const kcm = await manifest('kube-controller-manager');
      expect(kcm.spec.containers[0]!.command).toContain('--cluster-cidr=10.244.0.0/16');
      expect(existsSync(path.join(dry.dir, 'kube-scheduler.yaml'))).toBe(true);
      expect(existsSync('/etc/kubernetes')).toBe(etcBefore);
    } finally {
      await dry.cleanup();
    }
    expect(existsSync(dry.dir)).toBe(false);
  });
});
