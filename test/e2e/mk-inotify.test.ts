// What one node costs in inotify (tier 3: a real kubeadm cluster made by mk apply): the instances and
// watches held by the processes of a control plane after kubeadm init and of a joined worker stay
// within what the preflight budgets per node (src/infrastructure/preflight.ts), and are printed.
// Reads other processes' descriptors: root only (as CI runs). MK_E2E_TIER3=0 skips.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_COST } from '../../src/infrastructure/preflight.js';
import { k8sVersion } from '../k8s/binaries.js';
import { ensureNodeImage, tier3Skip } from '../k8s/cluster.js';
import { buildCli, expectSuccess, mk as runMk, mkJson } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver, workers } from '../helpers/spec.js';
import { mkClient, readyNodes } from './helpers.js';

const execFileP = promisify(execFile);
const skip = (await tier3Skip()) || process.getuid?.() !== 0;
const name = `ino${process.pid % 10000}`;

/**
 * inotify instances and watches held by a node container's processes, the containers its runtime
 * started included (their own pid namespaces, but cgroups under the node's: its id is in their path).
 */
async function inotifyOf(container: string): Promise<{ instances: number; watches: number }> {
  const id = (await execFileP('docker', ['inspect', '-f', '{{.Id}}', container])).stdout.trim();
  let instances = 0;
  let watches = 0;
  for (const p of (await readdir('/proc')).filter((e) => /^\d+$/.test(e))) {
    if (!(await readFile(`/proc/${p}/cgroup`, 'utf8').catch(() => '')).includes(id)) continue;
    for (const fd of await readdir(`/proc/${p}/fd`).catch(() => [] as string[])) {
      if ((await readlink(`/proc/${p}/fd/${fd}`).catch(() => '')) !== 'anon_inode:inotify') continue;
      instances++;
      watches += ((await readFile(`/proc/${p}/fdinfo/${fd}`, 'utf8').catch(() => '')).match(/^inotify wd:/gm) ?? []).length;
    }
  }
  return { instances, watches };
}

describe.skipIf(skip)(`what one kubeadm node costs in inotify (${k8sVersion()})`, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const image = await ensureNodeImage();
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), 'mk-e2e-inotify-'));
    env = { ...process.env, MK_HOME: join(dir, 'mk-home'), KUBECONFIG: join(dir, 'kubeconfig'), NO_COLOR: '1' };
    const spec = join(dir, 'cluster.yaml');
    await writeFile(spec, clusterYaml({ name, kubernetesVersion: k8sVersion(), driver: dockerDriver(image), nodes: [controlPlanes(1), workers(1)] }));
    expectSuccess(await mkJson(['apply', '-f', spec], env));
    await readyNodes(mkClient(env.KUBECONFIG!, name), [`${name}-cp-1`, `${name}-w-1`]);
  });

  afterAll(async () => {
    if (!dir) return;
    expect((await runMk(['delete', name], env)).code).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('a control plane after kubeadm init and a joined worker hold no more than the preflight budgets', async () => {
    const cp = await inotifyOf(`${name}-cp-1`);
    const worker = await inotifyOf(`${name}-w-1`);
    console.log(`[mk-inotify] control plane: ${cp.instances} instances, ${cp.watches} watches; worker: ${worker.instances} instances, ${worker.watches} watches`);
    const budget = NODE_COST.kubeadm;
    expect(cp.instances).toBeGreaterThan(worker.instances);
    expect(worker.instances).toBeGreaterThan(NODE_COST.none.inotifyInstances);
    expect(cp.instances).toBeLessThanOrEqual(budget['control-plane'].inotifyInstances);
    expect(cp.watches).toBeLessThanOrEqual(budget['control-plane'].inotifyWatches);
    expect(worker.instances).toBeLessThanOrEqual(budget.worker.inotifyInstances);
    expect(worker.watches).toBeLessThanOrEqual(budget.worker.inotifyWatches);
  });
});
