// mk's rendered kubeadm configs (src/kubeadm/config.ts) checked by the real kubeadm (tier 2).
import { describe, expect, it } from 'vitest';
import { renderInitConfig, renderJoinConfig, type NodeFacts } from '../../src/kubeadm/config.js';
import { binariesGate, k8sVersion } from '../k8s/binaries.js';
import { kubeadmImagesList, kubeadmValidate } from '../k8s/kubeadm.js';
import { aCluster } from '../unit/builders.js';

const gate = binariesGate(['kubeadm']);

function cluster() {
  const c = aCluster('dev').withWorkers(2).build();
  c.spec.kubernetesVersion = k8sVersion();
  return c;
}
const cp: NodeFacts = { name: 'dev-control-plane-1', role: 'control-plane', address: '172.28.0.2', labels: { tier: 'system' }, taints: [] };
const worker: NodeFacts = { name: 'dev-worker-1', role: 'worker', address: '172.28.0.3', labels: {}, taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] };
const join = { apiServerEndpoint: 'dev-api.mk.internal:6443', token: 'abcdef.0123456789abcdef', caCertHash: `sha256:${'a'.repeat(64)}` };

describe.skipIf(gate.skip)(`mk's kubeadm configs against kubeadm ${k8sVersion()}`, () => {
  it('init config of the first control plane validates and asks for the pinned images', async () => {
    const text = renderInitConfig({ cluster: cluster(), node: cp, kubelet: { cgroupDriver: 'cgroupfs', cgroupRoot: '/kubelet', resolvConf: '/etc/mk/resolv.conf' } });
    const r = await kubeadmValidate(text);
    expect(r.output).not.toMatch(/error|unknown field/i);
    expect(r.ok).toBe(true);
    expect(await kubeadmImagesList(text)).toContain(`registry.k8s.io/kube-apiserver:${k8sVersion()}`);
  });

  it('join configs of a worker and of a control plane validate', async () => {
    for (const text of [
      renderJoinConfig({ cluster: cluster(), node: worker, ...join }),
      renderJoinConfig({ cluster: cluster(), node: { ...cp, name: 'dev-control-plane-2', address: '172.28.0.4' }, ...join, certificateKey: 'b'.repeat(64) }),
    ]) {
      const r = await kubeadmValidate(text);
      expect(r.output).not.toMatch(/error|unknown field/i);
      expect(r.ok).toBe(true);
    }
  });

  it('a broken render is caught: kubeadm refuses a bad pod subnet', async () => {
    const c = cluster();
    c.spec.networking.podSubnet = '10.244.0.0/33';
    const r = await kubeadmValidate(renderInitConfig({ cluster: c, node: cp, kubelet: { cgroupDriver: 'cgroupfs' } }));
    expect(r.ok).toBe(false);
  });
});
