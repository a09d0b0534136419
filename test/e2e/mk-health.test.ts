// Health on a real cluster made by mk apply (tier 3: Kubernetes built from source in Docker nodes):
// a first apply whose worker is killed during its join fails at once with the cause, and status and
// kubeconfig still work; a worker that loses mk's CNI config, and a worker whose kubelet is stopped,
// are seen by plan and status and repaired by apply; then mk logs of that cluster. Needs the
// test-bed binaries and Docker;
// MK_E2E_TIER3=0 skips.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeNode } from '../../src/kubeadm/api.js';
import { CNI_CONFLIST } from '../../src/kubeadm/network.js';
import { k8sVersion } from '../k8s/binaries.js';
import { ensureNodeImage, tier3Skip } from '../k8s/cluster.js';
import { Background, buildCli, expectSuccess, mk as runMk, mkJson, timingLine, type JsonRun, type Run } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, dockerDriver, workers } from '../helpers/spec.js';
import { eventually } from '../helpers/wait.js';
import { mkClient, readyNodes } from './helpers.js';

const execFileP = promisify(execFile);
const skip = await tier3Skip();
const name = `h${process.pid % 10000}`;
const worker = `${name}-w-1`;

describe.skipIf(skip)(`health: seen by plan and status, repaired by apply (${k8sVersion()})`, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let specFile: string;
  const timings: string[] = [];
  const mk = (...args: string[]): Promise<Run> => runMk(args, env);
  const mkj = (...args: string[]): Promise<JsonRun> => mkJson(args, env);
  const onWorker = (...argv: string[]) => execFileP('docker', ['exec', worker, ...argv]);
  const ready = (nodes = [`${name}-cp-1`, worker]) => readyNodes<KubeNode>(mkClient(env.KUBECONFIG!, name), nodes);
  let image: string;

  beforeAll(async () => {
    image = await ensureNodeImage();
    await buildCli();
    dir = await mkdtemp(join(tmpdir(), 'mk-e2e-health-'));
    specFile = join(dir, 'cluster.yaml');
    env = { ...process.env, MK_HOME: join(dir, 'mk-home'), KUBECONFIG: join(dir, 'kubeconfig'), NO_COLOR: '1' };
    await writeFile(specFile, clusterYaml({ name, kubernetesVersion: k8sVersion(), driver: dockerDriver(image), nodes: [controlPlanes(1), workers(1)] }));
  });

  afterAll(async () => {
    if (!dir) return;
    console.log(`[mk-health] timings\n  ${timings.join('\n  ')}`);
    expect((await mk('delete', name)).code).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('a first apply whose worker is killed during its join fails within seconds naming it; status says where, kubeconfig works; the next apply converges', async () => {
    const run = new Background(['-o', 'json', 'apply', '-f', specFile], env);
    // kubeadm join has started on the worker once its CA file is there (before the sentinel).
    await eventually('kubeadm join under way on the worker', () => onWorker('test', '-e', '/etc/kubernetes/pki/ca.crt').then(() => true, () => false), 300_000, 200);
    await execFileP('docker', ['kill', worker]);
    const killedAt = Date.now();
    const { code } = await run.exited;
    const failedAfterMs = Date.now() - killedAt;
    timings.push(`first apply: the join of a killed node failed ${(failedAfterMs / 1000).toFixed(1)} s after the kill`);
    expect(code, run.output).toBe(1);
    expect(failedAfterMs).toBeLessThan(30_000);
    const failed = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; step?: { id: string }; error?: string }).find((e) => e.type === 'step.failed');
    expect(failed?.step?.id).toBe(`kubeadm.join:${worker}`);
    expect(failed?.error).toMatch(new RegExp(worker));
    // No apply finished, yet mk knows the cluster: status names the failed step, kubeconfig reads the control plane.
    const status = await mk('status', name);
    expect(status.stdout).toMatch(new RegExp(`^ {2}last apply: failed at \\S+ in step kubeadm\\.join:${worker}`, 'm'));
    expect(status.stdout).toContain(`node ${worker}: stopped`);
    const kubeconfig = await mk('kubeconfig', name);
    expect(kubeconfig.code, kubeconfig.output).toBe(0);
    expect(kubeconfig.stdout).toContain(`current-context: mk-${name}`);
    const again = await mkj('apply', '-f', specFile);
    expectSuccess(again);
    timings.push(timingLine('apply after the killed join', again));
    await ready();
  });

  it('a healthy cluster: plan is in sync, status says health ok and exits 0', async () => {
    const plan = await mk('plan', '-f', specFile);
    expect(plan.code, plan.output).toBe(0);
    const status = await mk('status', name);
    expect(status.code, status.output).toBe(0);
    expect(status.stdout).toContain('  health: ok');
    expect(status.stdout).toMatch(new RegExp(`${worker}\\s+worker\\s+running\\s+Ready\\s+active`));
  });

  it("a worker's CNI config removed: plan exits 2 naming it, apply puts it back, the worker is Ready", async () => {
    await onWorker('rm', '-f', CNI_CONFLIST);
    const plan = await mk('plan', '-f', specFile);
    expect(plan.code, plan.output).toBe(2);
    expect(plan.stdout).toContain(`~ cluster network: API endpoint name, mk CNI  (repair: no mk CNI config on ${worker}`);
    const r = await mkj('apply', '-f', specFile);
    expectSuccess(r);
    timings.push(timingLine('repair of a CNI config', r));
    expect(r.events.filter((e) => e.type === 'step.finished').map((e) => e.step!.id)).toEqual([`cni.apply:${name}`, `cluster.wait:${name}`]);
    await onWorker('test', '-f', CNI_CONFLIST);
    await ready();
    const after = await mk('plan', '-f', specFile);
    expect(after.code, after.output).toBe(0);
  });

  it('a stopped kubelet: status exits 5 naming it, apply restarts it, status is ok again', async () => {
    await onWorker('systemctl', 'stop', 'kubelet');
    const status = await mk('status', name);
    expect(status.code, status.output).toBe(5);
    expect(status.stdout).toContain('  health: NOT OK');
    expect(status.stdout).toMatch(new RegExp(`^ {4}node ${worker}: kubelet inactive`, 'm'));
    const r = await mkj('apply', '-f', specFile);
    expectSuccess(r);
    timings.push(timingLine('restart of a stopped kubelet', r));
    const restart = r.events.find((e) => e.type === 'step.finished' && e.step!.id === `kubelet.restart:${worker}`);
    expect(restart?.detail).toMatch(/^kubelet was inactive; active again after \d+\.\d s$/);
    await ready();
    const after = await mk('status', name);
    expect(after.code, after.output).toBe(0);
  });

  it('mk logs: each node\'s journals, files and container, the API\'s Nodes, Pods and Events, mk\'s run logs; no key of the cluster', async () => {
    const out = join(dir, 'report');
    const r = await mk('logs', name, '--output-dir', out);
    expect(r.code, r.output).toBe(0);
    timings.push(`mk logs (2 nodes): ${(r.ms / 1000).toFixed(1)} s`);
    expect(r.stdout).toContain(`written to ${out}: attach it to the bug report`);
    const files = (await readdir(out, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(out, join(e.parentPath, e.name)));
    const read = (f: string) => readFile(join(out, f), 'utf8');
    for (const node of [`${name}-cp-1`, worker]) {
      const at = (f: string) => `nodes/${node}/${f}`;
      expect(files).toEqual(expect.arrayContaining(['kubelet.log', 'containerd.log', 'journal.log', 'inspect.json', 'container.log', 'ip-route.txt', 'files/etc/mk/kubeadm.json', `files${CNI_CONFLIST}`].map(at)));
      expect(await read(at('kubelet.log'))).toMatch(/ kubelet\[\d+\]: /);
      expect(JSON.parse(await read(at('inspect.json')))).toMatchObject({ Name: `/${node}`, State: { Running: true } });
      expect(JSON.parse(await read(at('files/etc/mk/kubeadm.json')))).toMatchObject({ cluster: name });
    }
    expect(await read('cluster/nodes.txt')).toMatch(new RegExp(`^${worker} +Ready +<none> `, 'm'));
    expect(await read('cluster/pods.txt')).toMatch(/^kube-system +coredns-\S+ +1\/1 +Running /m);
    expect(await read('cluster/events.txt')).toMatch(/^NAMESPACE +LAST SEEN +TYPE +REASON +OBJECT/);
    // The four applies of this file (the first one killed), each with its debug lines.
    const runs = files.filter((f) => f.startsWith('mk/runs/'));
    expect(runs.filter((f) => /-apply-\d+\.log$/.test(f))).toHaveLength(4);
    expect(await read(runs[0]!)).toMatch(/"type":"debug".*\n[\s\S]*"type":"step.finished"/);
    // No key of the cluster and no admin credential in any file: the control plane's own are read to compare.
    const onCp = async (path: string) => (await execFileP('docker', ['exec', `${name}-cp-1`, 'cat', path])).stdout;
    const caKey = (await onCp('/etc/kubernetes/pki/ca.key')).split('\n').filter((l) => l.length > 40);
    const adminKey = /client-key-data: (\S+)/.exec(await onCp('/etc/kubernetes/admin.conf'))![1]!;
    for (const f of files) {
      const text = await read(f);
      for (const secret of [...caKey, adminKey]) expect(text.includes(secret), `${f} holds a key`).toBe(false);
    }
  });

  it('an image built here, kept on every node by spec.images: a pod of it runs on each node with imagePullPolicy IfNotPresent', async () => {
    // A tiny program built here (no registry anywhere): it says which node it runs on, then waits.
    const src = join(dir, 'hello');
    await mkdir(join(src, 'root'), { recursive: true });
    await writeFile(join(src, 'go.mod'), 'module hello\n\ngo 1.22\n');
    await writeFile(join(src, 'main.go'), 'package main\n\nimport (\n\t"fmt"\n\t"os"\n\t"time"\n)\n\nfunc main() {\n\tfmt.Println("hello from", os.Getenv("NODE_NAME"))\n\tfor {\n\t\ttime.Sleep(time.Hour)\n\t}\n}\n');
    await execFileP('go', ['build', '-o', join(src, 'root', 'hello'), '.'], { cwd: src, env: { ...process.env, CGO_ENABLED: '0' } });
    const tag = `mk.local/e2e-hello:${name}`;
    const archive = await execFileP('tar', ['-C', join(src, 'root'), '-c', '.'], { encoding: 'buffer', maxBuffer: 64 << 20 });
    await new Promise<void>((resolve, reject) => {
      const p = spawn('docker', ['import', '-c', 'ENTRYPOINT ["/hello"]', '-', tag], { stdio: ['pipe', 'ignore', 'inherit'] });
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`docker import exited ${code}`))));
      p.stdin.end(archive.stdout);
    });
    try {
      await writeFile(specFile, clusterYaml({ name, kubernetesVersion: k8sVersion(), driver: dockerDriver(image), nodes: [controlPlanes(1), workers(1)], images: [tag] }));
      const plan = await mk('plan', '-f', specFile);
      expect(plan.code, plan.output).toBe(2);
      expect(plan.stdout).toContain(`+ load image ${tag} on node ${worker}`);
      const r = await mkj('apply', '-f', specFile);
      expectSuccess(r);
      timings.push(timingLine('spec.images: a locally built image onto both nodes', r));
      // Every node, the control plane included (its taint tolerated), runs a pod of the image.
      const client = mkClient(env.KUBECONFIG!, name);
      const ds = {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'hello', namespace: 'default' },
        spec: {
          selector: { matchLabels: { app: 'hello' } },
          template: {
            metadata: { labels: { app: 'hello' } },
            spec: {
              tolerations: [{ operator: 'Exists' }],
              containers: [{ name: 'hello', image: tag, imagePullPolicy: 'IfNotPresent', env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }] }],
            },
          },
        },
      };
      await client.json('POST', '/apis/apps/v1/namespaces/default/daemonsets', { body: ds });
      const pods = await eventually(
        'a running hello pod on every node',
        async () => {
          const list = await client.json<{ items: Array<{ metadata: { name: string }; spec: { nodeName?: string }; status: { phase?: string } }> }>('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dhello');
          const running = list.items.filter((p) => p.status.phase === 'Running');
          return running.length === 2 ? running : undefined;
        },
        120_000,
        1000,
      );
      expect(pods.map((p) => p.spec.nodeName).sort()).toEqual([`${name}-cp-1`, worker]);
      for (const p of pods) {
        const log = await eventually(`${p.metadata.name} says hello`, async () => {
          const res = await client.request('GET', `/api/v1/namespaces/default/pods/${p.metadata.name}/log`);
          return res.status === 200 && res.body.includes('hello from') ? res.body : undefined;
        });
        expect(log).toContain(`hello from ${p.spec.nodeName}`);
      }
      expect((await mk('plan', '-f', specFile)).code).toBe(0);
    } finally {
      await execFileP('docker', ['rmi', '-f', tag]).catch(() => undefined);
    }
  });
});
