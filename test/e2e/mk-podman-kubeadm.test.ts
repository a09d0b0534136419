// mk apply with kubeadm on podman nodes (driver: podman, podman's Docker-compatible API service,
// `bash scripts/start-podman.sh`): 1 control plane + 1 worker from the tier-3 node image (copied from
// the Docker engine into podman's store), a pod on the worker, DNS answering, a no-op re-apply, delete.
//
// What cannot run here: on a cgroup v1 host (this project's machines) podman 4.3's Docker API leaves
// node containers in the host's cgroup namespace and at the host's root in the hugetlb, perf_event and
// net_cls,net_prio controllers, where no kubelet of a node can have a cgroup root of its own. There this
// file checks that mk refuses such a node before kubeadm runs, naming the controllers, and skips the
// cluster tests (named below); they run on a cgroup v2 host.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/kube/index.js';
import { k8sVersion } from '../k8s/binaries.js';
import { ensureNodeImage, tier3Skip } from '../k8s/cluster.js';
import { buildCli, expectSuccess, mk, mkJson } from '../helpers/cli.js';
import { ensurePodmanImage, onPodman, podmanReachable, removeFromPodman } from '../helpers/podman.js';
import { clusterYaml, controlPlanes, podmanDriver, workers } from '../helpers/spec.js';
import { dnsProbe, mkClient, readyNodes } from './helpers.js';

const skip = (await tier3Skip()) || !(await podmanReachable());
const cgroupV2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
const name = `podk${process.pid % 10000}`;
const cp = `${name}-cp-1`;
const worker = `${name}-w-1`;

describe.skipIf(skip)(`mk apply with kubeadm on podman nodes (${k8sVersion()})`, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let specFile: string;
  const client = (): KubeClient => mkClient(env.KUBECONFIG!, name);

  beforeAll(async () => {
    const image = await ensureNodeImage();
    const t0 = Date.now();
    await ensurePodmanImage(image);
    console.log(`[mk-podman-kubeadm] node image in podman's store after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), 'mk-e2e-podman-'));
    specFile = join(dir, 'cluster.yaml');
    env = { ...process.env, MK_HOME: join(dir, 'mk-home'), KUBECONFIG: join(dir, 'kubeconfig'), NO_COLOR: '1' };
    await writeFile(specFile, clusterYaml({ name, kubernetesVersion: k8sVersion(), driver: podmanDriver(image), nodes: [controlPlanes(1), workers(1)] }));
  }, 1_800_000);

  afterAll(async () => {
    await removeFromPodman(name);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(cgroupV2)('cgroup v1: mk refuses the nodes before kubeadm runs, naming the controllers podman left them out of', async () => {
    const r = await mk(['apply', '-f', specFile], env);
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toMatch(new RegExp(`node ${cp} has no cgroup of its own for [a-z_, ]*hugetlb`));
    // Refused once the node booted, not after kubeadm's own timeout (minutes).
    expect(r.output).not.toMatch(/wait-control-plane/);
    console.log(`[mk-podman-kubeadm] cgroup v1: refused in ${(r.ms / 1000).toFixed(1)} s`);
  }, 300_000);

  it.skipIf(!cgroupV2)('cgroup v2: apply makes 1 control plane + 1 worker, both Ready', async () => {
    const r = await mkJson(['apply', '-f', specFile], env);
    expectSuccess(r);
    console.log(`[mk-podman-kubeadm] apply ${(r.ms / 1000).toFixed(1)} s`);
    const nodes = await readyNodes(client(), [cp, worker], 300_000);
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual([cp, worker]);
  }, 900_000);

  it.skipIf(!cgroupV2)('cgroup v2: a pod runs on the worker and resolves a Service name through CoreDNS', async () => {
    const kc = client();
    const { phase, log } = await dnsProbe(kc, worker, 180_000);
    expect(phase, log).toBe('Succeeded');
    expect(log).toMatch(/^10\.96\.0\.1\s+kubernetes\.default\.svc\.cluster\.local/);
  }, 300_000);

  it.skipIf(!cgroupV2)('cgroup v2: a re-apply plans nothing', async () => {
    const r = await mkJson(['apply', '-f', specFile], env);
    expect(r.code, r.output).toBe(0);
    expect(r.events.find((e) => e.type === 'plan')?.plan?.steps).toEqual([]);
  }, 300_000);

  it('delete leaves nothing on podman', async () => {
    const r = await mk(['delete', name], env);
    expect(r.code, r.output).toBe(0);
    expect(await onPodman(name)).toEqual({ containers: [], volumes: [], networks: [] });
  }, 300_000);
});
