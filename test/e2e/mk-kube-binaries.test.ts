// A node image with a runtime but without Kubernetes (like minikube's kicbase, the default for cri-o and
// docker): mk downloads kubeadm, kubelet and kubectl of the spec's version, checks them against the
// release's sha256, installs them with a kubelet unit, and the cluster comes up. The release site is a
// local HTTP server serving the test bed's binaries (MK_KUBERNETES_RELEASE_URL), since this machine has
// no internet; a binary whose sha256 does not match is refused.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeBinary } from '../../src/kubeadm/binaries.js';
import { k8sBinDir, k8sVersion } from '../k8s/binaries.js';
import { tier3Skip, ensureNodeImage } from '../k8s/cluster.js';
import { releaseServer, type ReleaseServer } from '../k8s/release-server.js';
import { buildCli, mk } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver } from '../helpers/spec.js';

const execFileP = promisify(execFile);
const skip = await tier3Skip();

describe.skipIf(skip)('Kubernetes binaries installed into a node image without them', () => {
  const name = `kb${process.pid % 10000}`;
  let dir: string;
  let image: string;
  let release: ReleaseServer;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const base = await ensureNodeImage();
    image = `mk.test/k8s-node-nokube:${base.split(':').pop()}`;
    const present = await execFileP('docker', ['image', 'inspect', image]).then(() => true, () => false);
    if (!present) {
      // The tier-3 image minus kubeadm, kubelet, kubectl and the kubelet unit.
      const { stdout } = await execFileP('docker', ['run', '-d', '--entrypoint', 'sleep', base, 'infinity']);
      const id = stdout.trim();
      try {
        await execFileP('docker', ['exec', id, 'rm', '-f', '/usr/bin/kubeadm', '/usr/bin/kubelet', '/usr/bin/kubectl', '/etc/systemd/system/kubelet.service', '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf', '/etc/systemd/system/multi-user.target.wants/kubelet.service']);
        await execFileP('docker', ['commit', '-c', 'ENTRYPOINT ["/usr/local/bin/mk-node-entrypoint"]', '-c', 'CMD []', id, image]);
      } finally {
        await execFileP('docker', ['rm', '-f', id]);
      }
    }
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), 'mk-e2e-kubebin-'));
    release = await releaseServer(k8sBinDir(), k8sVersion());
    env = { ...process.env, HOME: dir, MK_HOME: join(dir, 'mk-home'), KUBECONFIG: join(dir, 'kubeconfig'), MK_KUBERNETES_RELEASE_URL: release.url, NO_COLOR: '1' };
  });

  afterAll(async () => {
    if (!dir) return;
    release?.close();
    await mk(['delete', name], env);
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a download whose sha256 differs from the release', async () => {
    const bad = await releaseServer(k8sBinDir(), k8sVersion(), { tamper: 'kubectl' });
    try {
      await expect(kubeBinary(k8sVersion(), 'amd64', 'kubectl', { baseUrl: bad.url, cacheDir: join(dir, 'cache-bad') })).rejects.toThrow(/sha256 mismatch/);
    } finally {
      bad.close();
    }
  });

  it('mk apply installs them, the node joins and is Ready; a second apply downloads nothing', async () => {
    const spec = join(dir, 'cluster.yaml');
    await writeFile(spec, clusterYaml({ name, kubernetesVersion: k8sVersion(), driver: dockerDriver(image), nodes: [controlPlanes(1)] }));
    const { code, stdout, output, ms } = await mk(['apply', '-f', spec], env);
    console.log(`[kube-binaries] apply with download ${ms} ms`);
    expect(code, output).toBe(0);
    expect(stdout).toMatch(/kubeadm init [\d.]+ s, installed kubeadm, kubelet, kubectl from the release/);
    expect(stdout).toMatch(/usable \(1 node Ready, CoreDNS answering\)/);
    const downloads = release.requests.filter((r) => !r.endsWith('.sha256'));
    expect(downloads.sort()).toEqual(['kubeadm', 'kubectl', 'kubelet'].map((b) => `/${k8sVersion()}/bin/linux/amd64/${b}`));
    // The kubelet unit mk wrote is enabled.
    const { stdout: unit } = await execFileP('docker', ['exec', `${name}-cp-1`, 'systemctl', 'is-enabled', 'kubelet']);
    expect(unit.trim()).toBe('enabled');
    const again = await mk(['apply', '-f', spec], env);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toMatch(/No changes/);
    expect(release.requests.filter((r) => !r.endsWith('.sha256'))).toHaveLength(3);
  });
});
