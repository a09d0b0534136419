// Golden files for the rendered kubeadm configs, per kubeadm API version and role.
// Regenerate after an intended change with: UPDATE_GOLDEN=1 npx vitest run --project unit test/unit/kubeadm-config.test.ts
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { kubeadmApiVersion, renderInitConfig, renderJoinConfig, type NodeFacts } from '../../src/kubeadm/config.js';
import { WAIT_TIMEOUT_MS, waitTimeoutMs } from '../../src/kubeadm/wait.js';
import type { Cluster } from '../../src/spec/types.js';
import { aCluster } from './builders.js';

const GOLDEN = join(import.meta.dirname, 'golden', 'kubeadm');

async function golden(name: string, actual: string): Promise<void> {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) await writeFile(file, actual);
  expect(existsSync(file), `missing golden file ${file}; run with UPDATE_GOLDEN=1`).toBe(true);
  expect(actual).toBe(await readFile(file, 'utf8'));
}

function clusterAt(version: string): Cluster {
  const c = aCluster('dev').withWorkers(2).build();
  c.spec.kubernetesVersion = version;
  return c;
}

const cp: NodeFacts = { name: 'dev-control-plane-1', role: 'control-plane', address: '172.28.0.2', labels: { tier: 'system' }, taints: [] };
const worker: NodeFacts = { name: 'dev-worker-1', role: 'worker', address: '172.28.0.3', labels: { tier: 'general' }, taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] };
const kubelet = { cgroupDriver: 'cgroupfs' as const, cgroupRoot: '/kubelet', resolvConf: '/etc/mk/resolv.conf' };
const joinBase = { apiServerEndpoint: 'dev-api.mk.internal:6443', token: 'abcdef.0123456789abcdef', caCertHash: `sha256:${'a'.repeat(64)}` };

describe('kubeadm API version', () => {
  it.each([
    ['v1.30.9', 'kubeadm.k8s.io/v1beta3'],
    ['v1.31.0', 'kubeadm.k8s.io/v1beta4'],
    ['v1.36.3', 'kubeadm.k8s.io/v1beta4'],
  ])('%s -> %s', (v, api) => expect(kubeadmApiVersion(v)).toBe(api));
});

describe('rendered kubeadm configs (golden)', () => {
  it('v1beta4 init on the first control plane', async () => {
    await golden('v1beta4-init-control-plane.yaml', renderInitConfig({ cluster: clusterAt('v1.36.3'), node: cp, kubelet }));
  });
  it('v1beta4 join of a worker', async () => {
    await golden('v1beta4-join-worker.yaml', renderJoinConfig({ cluster: clusterAt('v1.36.3'), node: worker, ...joinBase }));
  });
  it('v1beta4 join of a second control plane', async () => {
    const node = { ...cp, name: 'dev-control-plane-2', address: '172.28.0.4' };
    await golden('v1beta4-join-control-plane.yaml', renderJoinConfig({ cluster: clusterAt('v1.36.3'), node, ...joinBase, certificateKey: 'b'.repeat(64) }));
  });
  it('v1beta3 init (maps instead of name/value lists, no failCgroupV1)', async () => {
    const text = renderInitConfig({ cluster: clusterAt('v1.30.9'), node: cp, kubelet });
    await golden('v1beta3-init-control-plane.yaml', text);
    const docs = yaml.loadAll(text) as Array<Record<string, unknown>>;
    expect((docs[0]!.nodeRegistration as { kubeletExtraArgs: unknown }).kubeletExtraArgs).toEqual({ 'node-ip': '172.28.0.2', 'node-labels': 'mk.dev/cluster=dev,tier=system' });
    expect(docs[2]).not.toHaveProperty('failCgroupV1');
  });
});

describe('rendered kubeadm configs (properties)', () => {
  it('is deterministic and covers the SANs mk needs', () => {
    const a = renderInitConfig({ cluster: clusterAt('v1.36.3'), node: cp, kubelet, extraSANs: ['dev.example'] });
    expect(renderInitConfig({ cluster: clusterAt('v1.36.3'), node: cp, kubelet, extraSANs: ['dev.example'] })).toBe(a);
    const cfg = (yaml.loadAll(a) as Array<Record<string, unknown>>).find((d) => d.kind === 'ClusterConfiguration') as { apiServer: { certSANs: string[] } };
    expect(cfg.apiServer.certSANs).toEqual(['localhost', '127.0.0.1', '172.28.0.2', 'dev-api.mk.internal', 'dev.example']);
  });

  it('keeps control planes schedulable when the cluster has no workers', () => {
    const solo = aCluster('dev').build();
    const init = yaml.loadAll(renderInitConfig({ cluster: solo, node: cp, kubelet })) as Array<{ nodeRegistration?: { taints: unknown[] } }>;
    expect(init[0]!.nodeRegistration!.taints).toEqual([]);
  });

  it('uses the CRI socket of the chosen runtime', () => {
    for (const [cri, socket] of [['cri-o', 'unix:///var/run/crio/crio.sock'], ['docker', 'unix:///var/run/cri-dockerd.sock']] as const) {
      const c = clusterAt('v1.36.3');
      c.spec.cri = cri;
      expect(renderJoinConfig({ cluster: c, node: worker, ...joinBase })).toContain(`criSocket: ${socket}`);
    }
  });

  it('stretches kubeadm\'s timeouts and mk\'s wait 3x for VMs that may be emulated (qemu unless accel: kvm), within the join token\'s 15 min', () => {
    const withDriver = (driver: Cluster['spec']['driver'], version = 'v1.36.3'): Cluster => {
      const c = clusterAt(version);
      c.spec.driver = driver;
      return c;
    };
    const at = (driver: Cluster['spec']['driver'], version = 'v1.36.3'): Array<Record<string, unknown> | undefined> => {
      const c = withDriver(driver, version);
      const first = (text: string): Record<string, unknown> | undefined => (yaml.loadAll(text) as Array<{ timeouts?: Record<string, unknown> }>)[0]!.timeouts;
      return [first(renderInitConfig({ cluster: c, node: cp, kubelet })), first(renderJoinConfig({ cluster: c, node: worker, ...joinBase }))];
    };
    const qemu = (accel: 'auto' | 'kvm' | 'tcg'): Cluster['spec']['driver'] => ({ name: 'qemu', qemu: { image: 'vm.qcow2', cpus: 2, memory: 2048, disk: 20, accel } });
    const stretched = { controlPlaneComponentHealthCheck: '12m0s', kubeletHealthCheck: '12m0s', kubernetesAPICall: '3m0s', etcdAPICall: '6m0s', tlsBootstrap: '14m0s', discovery: '14m0s' };
    expect(at(qemu('tcg'))).toEqual([stretched, stretched]);
    expect(at(qemu('auto'))).toEqual([stretched, stretched]);
    expect(at(qemu('kvm'))).toEqual([undefined, undefined]);
    expect(at(clusterAt('v1.36.3').spec.driver)).toEqual([undefined, undefined]);
    // v1beta3 has no timeouts field.
    expect(at(qemu('tcg'), 'v1.30.9')).toEqual([undefined, undefined]);
    // mk's own wait for a usable cluster stretches alike.
    expect([qemu('tcg'), qemu('kvm'), clusterAt('v1.36.3').spec.driver].map((d) => waitTimeoutMs(withDriver(d)))).toEqual([3 * WAIT_TIMEOUT_MS, WAIT_TIMEOUT_MS, WAIT_TIMEOUT_MS]);
  });
});
