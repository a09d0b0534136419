// mk apply with kubeadm on qemu VMs (driver: qemu): 1 control plane + 1 worker booted from the VM
// node image (npm run vm-image: the tier-3 node image's content with a kernel), under software
// emulation (TCG: this machine's /dev/kvm hangs guests, see test/helpers/spec.ts), so every wait is
// generous and the log gives the times. A pod on the worker resolves a Service name through
// CoreDNS, a re-apply plans nothing, the API answers on the 127.0.0.1 forward of the kubeconfig,
// delete leaves no VM.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/kube/index.js';
import { k8sVersion } from '../k8s/binaries.js';
import { tier3Skip } from '../k8s/cluster.js';
import { buildCli, expectSuccess, mk, mkJson } from '../helpers/cli.js';
import { qemuProcesses, testVmImage } from '../helpers/qemu.js';
import { clusterYaml, controlPlanes, qemuDriver, workers } from '../helpers/spec.js';
import { dnsProbe, mkClient, readyNodes } from './helpers.js';

const image = (await tier3Skip()) ? undefined : await testVmImage();
const name = `vmk${process.pid % 10000}`;
const cp = `${name}-cp-1`;
const worker = `${name}-w-1`;
const log = (msg: string): void => console.log(`[mk-qemu-kubeadm] ${msg}`);

describe.skipIf(!image)(`mk apply with kubeadm on qemu VMs (${k8sVersion()}, TCG)`, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let specFile: string;
  const client = (): KubeClient => mkClient(env.KUBECONFIG!, name);

  beforeAll(async () => {
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), 'mk-e2e-qemu-'));
    specFile = join(dir, 'cluster.yaml');
    env = { ...process.env, MK_HOME: join(dir, 'mk-home'), KUBECONFIG: join(dir, 'kubeconfig'), NO_COLOR: '1', MK_ADDON_WAIT: '0' };
    await writeFile(specFile, clusterYaml({ name, kubernetesVersion: k8sVersion(), driver: qemuDriver(image!), nodes: [controlPlanes(1), workers(1)] }));
  }, 600_000);

  afterAll(async () => {
    if (!env) return;
    await mk(['delete', name], env);
    for (const pid of await qemuProcesses(join(dir, 'mk-home'))) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('apply makes 1 control plane + 1 worker, both Ready', async () => {
    const r = await mkJson(['apply', '-f', specFile], env);
    expectSuccess(r);
    for (const e of r.events) if (e.type === 'step.finished' && e.durationMs !== undefined && e.durationMs > 5000) log(`${e.step?.id}: ${(e.durationMs / 1000).toFixed(1)} s`);
    log(`apply ${(r.ms / 1000).toFixed(1)} s`);
    const t0 = Date.now();
    const nodes = await readyNodes(client(), [cp, worker], 600_000);
    log(`both nodes Ready ${((Date.now() - t0) / 1000).toFixed(1)} s after apply`);
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual([cp, worker]);
    // The node's address is its address on the VMs' network, not the user-mode NIC every VM has.
    const addresses = nodes.map((n) => (n.status as { addresses?: Array<{ type: string; address: string }> } | undefined)?.addresses?.find((a) => a.type === 'InternalIP')?.address);
    for (const a of addresses) expect(a).toMatch(/^10\.213\.\d+\.\d+$/);
  }, 1_800_000);

  it('a pod runs on the worker and resolves a Service name through CoreDNS', async () => {
    const t0 = Date.now();
    const { phase, log: out } = await dnsProbe(client(), worker, 600_000);
    log(`DNS probe on the worker: ${phase} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(phase, out).toBe('Succeeded');
    expect(out).toMatch(/^10\.96\.0\.1\s+kubernetes\.default\.svc\.cluster\.local/);
  }, 900_000);

  it('a re-apply plans nothing', async () => {
    const r = await mkJson(['apply', '-f', specFile], env);
    expect(r.code, r.output).toBe(0);
    expect(r.events.find((e) => e.type === 'plan')?.plan?.steps).toEqual([]);
    log(`no-op apply ${(r.ms / 1000).toFixed(1)} s`);
  }, 600_000);

  it('delete leaves no VM', async () => {
    const r = await mk(['delete', name], env);
    expect(r.code, r.output).toBe(0);
    log(`delete ${(r.ms / 1000).toFixed(1)} s`);
    expect(await qemuProcesses(join(dir, 'mk-home'))).toEqual([]);
  }, 600_000);
});
