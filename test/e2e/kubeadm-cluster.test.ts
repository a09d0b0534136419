// Tier 3: kubeadm init + join of real kubelets in two Docker node containers (no --privileged),
// with containerd 1.6, the locally built control-plane images and a static ptp CNI.
// Runs when the binaries exist and Docker answers; MK_E2E_TIER3=0 skips it.
import { CoreV1Api, KubernetesObjectApi, type V1DaemonSet, type V1Deployment, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { k8sVersion } from '../k8s/binaries.js';
import { createKubeadmCluster, tier3Skip, ensureNodeImage, type KubeadmCluster } from '../k8s/cluster.js';
import { runKubeadm } from '../k8s/kubeadm.js';
import { eventually } from '../helpers/wait.js';

const execFileP = promisify(execFile);
const skip = await tier3Skip();

describe.skipIf(skip)(`tier 3: kubeadm init + join in node containers (${k8sVersion()})`, () => {
  let cluster: KubeadmCluster;
  let core: CoreV1Api;
  let api: KubernetesObjectApi;

  beforeAll(async () => {
    const t0 = Date.now();
    const image = await ensureNodeImage();
    const t1 = Date.now();
    cluster = await createKubeadmCluster(image);
    console.log(`[tier3] node image ${image} in ${t1 - t0} ms; cluster up in ${Date.now() - t1} ms`);
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    api = KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
  });

  afterAll(async () => {
    if (!cluster) return;
    if (process.env.MK_K8S_KEEP === '1') {
      console.log(`[tier3] kept cluster ${cluster.name}; remove with test/k8s/cluster.sh down ${cluster.name}`);
      return;
    }
    const ids = (await execFileP('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=mk.test/k8s-cluster=${cluster.name}`])).stdout.trim().split('\n');
    expect(ids).toHaveLength(2);
    await cluster.delete();
    const { stdout } = await execFileP('docker', ['ps', '-aq', '--filter', `label=mk.test/k8s-cluster=${cluster.name}`]);
    expect(stdout.trim()).toBe('');
    // No cgroups left behind on the host (K8S-FROM-SOURCE.md §7 risk 4).
    const leaked = ids.filter((id) => existsSync(`/sys/fs/cgroup/memory/docker/${id}`) || existsSync(`/sys/fs/cgroup/pids/docker/${id}`));
    expect(leaked).toEqual([]);
  });

  it('has two Ready nodes running the pinned kubelet', async () => {
    const nodes = await eventually(
      'both nodes Ready',
      async () => {
        const list = await core.listNode();
        const ready = list.items.filter((n: V1Node) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        return ready.length === 2 ? list.items : undefined;
      },
      300_000,
      2000,
    );
    expect(nodes.map((n) => n.metadata?.name).sort()).toEqual([...cluster.nodes].sort());
    for (const n of nodes) expect(n.status?.nodeInfo?.kubeletVersion).toBe(k8sVersion());
  });

  it('runs the control plane as static pods and kube-proxy on both nodes', async () => {
    const cp = cluster.nodes[0]!;
    for (const c of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
      const pod = await eventually(`${c} Running`, async () => {
        const p = await core.readNamespacedPod({ name: `${c}-${cp}`, namespace: 'kube-system' });
        return p.status?.phase === 'Running' ? p : undefined;
      }, 120_000, 2000);
      expect(pod.spec?.containers[0]?.image).toMatch(/^registry\.k8s\.io\//);
    }
    await eventually('kube-proxy ready on 2 nodes', async () => {
      const ds = await api.read<V1DaemonSet>({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'kube-proxy', namespace: 'kube-system' } });
      return ds.status?.numberReady === 2 ? true : undefined;
    }, 180_000, 2000);
  });

  it('schedules CoreDNS through the CNI and makes it available', async () => {
    await eventually('coredns available', async () => {
      const d = await api.read<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'coredns', namespace: 'kube-system' } });
      return (d.status?.availableReplicas ?? 0) >= 1 ? true : undefined;
    }, 300_000, 2000);
  });

  it('runs a pod on the worker with an IP from its podCIDR', async () => {
    const worker = cluster.nodes[1]!;
    const node = await core.readNode({ name: worker });
    // The sandbox image is baked into every node: kubeadm's list names it.
    const images = await runKubeadm(['config', 'images', 'list', '--kubernetes-version', k8sVersion()]);
    const pause = images.stdout.split('\n').find((i) => i.startsWith('registry.k8s.io/pause:'));
    expect(pause).toBeDefined();
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'e2e-worker-pod' },
        spec: {
          nodeName: worker,
          containers: [{ name: 'c', image: pause!, imagePullPolicy: 'Never' }],
        },
      },
    });
    const pod = await eventually('worker pod Running', async () => {
      const p: V1Pod = await core.readNamespacedPod({ name: 'e2e-worker-pod', namespace: 'default' });
      return p.status?.phase === 'Running' ? p : undefined;
    }, 120_000, 1000);
    const prefix = node.spec?.podCIDR?.split('.').slice(0, 3).join('.');
    expect(prefix).toBeTruthy();
    expect(pod.status?.podIP?.startsWith(`${prefix}.`)).toBe(true);
  });

  it('resolves a Service name from a worker pod through CoreDNS on the control plane (CNI routes, kube-proxy)', async () => {
    const worker = cluster.nodes[1]!;
    // The kube-proxy image is a Debian rootfs, so it has getent; nothing is pulled.
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'e2e-dns-probe' },
        spec: {
          nodeName: worker,
          restartPolicy: 'Never',
          containers: [{ name: 'probe', image: `registry.k8s.io/kube-proxy:${k8sVersion()}`, imagePullPolicy: 'Never', command: ['getent', 'hosts', 'kubernetes.default.svc.cluster.local'] }],
        },
      },
    });
    const pod = await eventually('DNS probe finished', async () => {
      const p = await core.readNamespacedPod({ name: 'e2e-dns-probe', namespace: 'default' });
      return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
    }, 120_000, 1000);
    const log = await core.readNamespacedPodLog({ name: 'e2e-dns-probe', namespace: 'default' });
    expect(pod.status?.phase, log).toBe('Succeeded');
    expect(log).toMatch(/^10\.96\.0\.1\s+kubernetes\.default\.svc\.cluster\.local/);
  });
});
