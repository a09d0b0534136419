// A real Kubernetes cluster over ssh: the mk CLI (bin/mk.js, driver: ssh, a non-root user with sudo,
// host keys checked against a known_hosts file) turns three "machines you already have" into one control
// plane and two workers, verified through the Kubernetes API with the kubeconfig mk wrote; a second apply
// is a no-op; removing a worker's host drains and resets it and leaves the machine running; mk delete
// resets the rest. One host starts without kubeadm/kubelet/kubectl: mk installs the release binaries. The machines are containers of test/k8s/ssh-host-image.sh (tier-3 node image + sshd).
// Per-phase timings are printed. Needs the test-bed binaries and Docker; MK_E2E_TIER3=0 skips.
import { cp as copy, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/kube/index.js';
import type { KubeNode } from '../../src/kubeadm/api.js';
import { k8sBinDir, k8sVersion } from '../k8s/binaries.js';
import { tier3Skip } from '../k8s/cluster.js';
import { runKubeadm } from '../k8s/kubeadm.js';
import { releaseServer, type ReleaseServer } from '../k8s/release-server.js';
import { ensureSshHostImage, SshK8sHosts, type SshHost } from '../k8s/ssh-hosts.js';
import { buildCli, expectSuccess, mk as runMk, mkJson as runMkJson, ROOT, type CliEvent, type JsonRun, type Run } from '../helpers/cli.js';
import { clusterYaml, controlPlanes, sshDriver, workers } from '../helpers/spec.js';
import { eventually } from '../helpers/wait.js';
import { dnsProbe, mkClient, readyNodes as waitReadyNodes } from './helpers.js';

const skip = await tier3Skip();

/** A Node as this test reads it. */
type Node = KubeNode & { status?: { nodeInfo?: { kubeletVersion?: string }; addresses?: Array<{ type: string; address: string }> } };

const s = (ms: number | undefined): string => `${((ms ?? 0) / 1000).toFixed(1)} s`;

/**
 * A private copy of the built CLI (bin/ + dist/) under node_modules/.cache, so another test file
 * rebuilding dist/ meanwhile cannot pull chunks from under a running mk. Returns its bin/mk.js.
 */
async function privateCli(run: string): Promise<{ bin: string; remove: () => Promise<void> }> {
  await buildCli();
  const dir = join(ROOT, 'node_modules', '.cache', `mk-e2e-ssh-${run}`);
  for (const d of ['bin', 'dist']) await copy(join(ROOT, d), join(dir, d), { recursive: true });
  return { bin: join(dir, 'bin', 'mk.js'), remove: () => rm(dir, { recursive: true, force: true }) };
}

describe.skipIf(skip)(`mk over ssh: a real cluster on three hosts (${k8sVersion()})`, () => {
  const hosts = new SshK8sHosts();
  const name = `e2essh${hosts.run}`;
  const node = { cp: `${name}-cp-1`, w1: `${name}-w-1`, w2: `${name}-w-2` };
  let cp: SshHost;
  let w1: SshHost;
  let w2: SshHost;
  let env: NodeJS.ProcessEnv;
  let cli: { bin: string; remove: () => Promise<void> } | undefined;
  let release: ReleaseServer | undefined;
  let specFile = '';
  /** Everything mk printed over the whole test, for the secrets check. */
  let printed = '';
  const timings: string[] = [];

  /** mk from the private copy; everything it prints is kept for the secrets check. */
  const seen = <R extends Run>(r: R): R => {
    printed += r.output;
    return r;
  };
  const mk = async (args: string[]): Promise<Run> => seen(await runMk(args, env, { bin: cli!.bin }));
  const mkJson = async (args: string[]): Promise<JsonRun> => seen(await runMkJson(args, env, { bin: cli!.bin }));

  /** Per host: how many commands mk ran over ssh, their total and slowest time (from the -v debug events). */
  const sshStats = (r: JsonRun): string => {
    const per = new Map<string, { n: number; ms: number; max: number; slowest: string; files: number; bytes: number; uploadMs: number }>();
    const of = (e: CliEvent) => {
      const host = String(e.context?.node).replace(`${name}-`, '');
      const p = per.get(host) ?? { n: 0, ms: 0, max: 0, slowest: '', files: 0, bytes: 0, uploadMs: 0 };
      per.set(host, p);
      return p;
    };
    for (const e of r.events.filter((x) => x.type === 'debug' && x.message === 'ssh exec')) {
      const p = of(e);
      const ms = Number(e.context?.ms ?? 0);
      p.n++;
      p.ms += ms;
      if (ms > p.max) Object.assign(p, { max: ms, slowest: String(e.context?.command) });
    }
    for (const e of r.events.filter((x) => x.type === 'debug' && x.message === 'ssh writeFile')) {
      const p = of(e);
      p.files++;
      p.bytes += Number(e.context?.bytes ?? 0);
      p.uploadMs += Number(e.context?.ms ?? 0);
    }
    const mb = (b: number) => `${(b / 1e6).toFixed(b < 1e6 ? 3 : 0)} MB`;
    return [...per]
      .map(([h, p]) => `${h} ${p.n} commands ${s(p.ms)} (slowest ${p.slowest} ${s(p.max)}), ${p.files} files ${mb(p.bytes)} uploaded in ${s(p.uploadMs)}`)
      .join('; ');
  };

  const step = (r: JsonRun, id: string): CliEvent | undefined => r.events.find((e) => (e.type === 'step.finished' || e.type === 'step.failed') && e.step?.id === id);

  const spec = (ws: SshHost[]): string =>
    clusterYaml({
      name,
      kubernetesVersion: k8sVersion(),
      bootstrap: 'kubeadm',
      driver: sshDriver({ identityFile: hosts.key, knownHostsFile: hosts.knownHosts }),
      nodes: [controlPlanes([cp.ip]), workers(ws.map((w) => w.ip))],
    });

  const client = (): KubeClient => mkClient(env.KUBECONFIG!, name);

  const readyNodes = (expected: string[]): Promise<Node[]> => waitReadyNodes<Node>(client(), expected);

  /** After kubeadm reset: no kubelet config, no static pods, no pod containers, kubelet stopped, the machine still up. */
  async function expectReset(h: SshHost): Promise<void> {
    expect(await hosts.running(h)).toBe(true);
    expect(await hosts.exists(h, '/etc/kubernetes/kubelet.conf')).toBe(false);
    expect(await hosts.exec(h, ['ls', '-A', '/etc/kubernetes/manifests'])).toBe('');
    expect(await hosts.exec(h, ['sh', '-c', 'systemctl is-active kubelet || true'])).not.toBe('active');
    expect(await hosts.exec(h, ['ctr', '-n', 'k8s.io', 'containers', 'ls', '-q'])).toBe('');
    // mk's marker, sentinel and kubeadm configs are gone; sshd and the runtime stay.
    for (const f of ['/etc/mk/node.json', '/etc/mk/kubeadm.json', '/etc/mk/kubeadm-init.yaml', '/etc/mk/kubeadm-join.yaml']) expect(await hosts.exists(h, f), f).toBe(false);
    expect(await hosts.exec(h, ['systemctl', 'is-active', 'ssh', 'containerd'])).toBe('active\nactive');
    expect(await hosts.exec(h, ['cat', '/etc/hosts'])).not.toContain('.mk.internal');
  }

  beforeAll(async () => {
    const t0 = Date.now();
    const image = await ensureSshHostImage();
    cli = await privateCli(hosts.run);
    const t1 = Date.now();
    await hosts.start(image, ['cp', 'w1', 'w2']);
    [cp, w1, w2] = hosts.hosts as [SshHost, SshHost, SshHost];
    timings.push(`image ${image} + build ${s(t1 - t0)}; 3 hosts booted with sshd ready ${s(Date.now() - t1)}`);
    // The third machine has a runtime but not Kubernetes: mk brings the release binaries (a local stand-in
    // for the release site: this machine has no internet).
    await hosts.withoutKubernetes(w2);
    release = await releaseServer(k8sBinDir(), k8sVersion());
    specFile = join(hosts.dir, 'cluster.yaml');
    await writeFile(specFile, spec([w1, w2]));
    // HOME without ~/.ssh: only the spec's key and known_hosts count; no agent.
    env = {
      ...process.env,
      HOME: join(hosts.dir, 'home'),
      MK_HOME: join(hosts.dir, 'mk-home'),
      KUBECONFIG: join(hosts.dir, 'kubeconfig'),
      MK_KUBERNETES_RELEASE_URL: release.url,
      NO_COLOR: '1',
      CI: 'true',
    };
    delete env.SSH_AUTH_SOCK;
    delete env.MK_SSH_TRUST_ON_FIRST_USE;
  });

  afterAll(async () => {
    console.log(`[ssh-e2e] timings (cluster ${name}, 2 cores)\n  ${timings.join('\n  ')}`);
    await cli?.remove();
    release?.close();
    if (process.env.MK_K8S_KEEP === '1') {
      console.log(`[ssh-e2e] kept hosts (label ${hosts.label}); spec ${specFile}; MK_HOME=${env?.MK_HOME} KUBECONFIG=${env?.KUBECONFIG}`);
      return;
    }
    const leaked = await hosts.cleanup();
    expect(leaked).toEqual([]);
  });

  it('refuses hosts whose resolv.conf has only loopback resolvers, before kubeadm runs', async () => {
    // Docker gives containers its embedded DNS (127.0.0.11): CoreDNS would loop on it.
    expect(await hosts.exec(cp, ['cat', '/etc/resolv.conf'])).toMatch(/^nameserver 127\.0\.0\.11$/m);
    const r = await mk(['apply', '-f', specFile]);
    expect(r.code, r.output).toBe(1);
    expect(r.output).toContain(`node ${node.cp}: /etc/resolv.conf lists only loopback nameservers (127.0.0.11)`);
    expect(r.output).toMatch(/detect a loop/);
    expect(await hosts.exists(cp, '/etc/kubernetes/manifests/kube-apiserver.yaml')).toBe(false);
    expect(await hosts.exists(cp, '/etc/kubernetes/admin.conf')).toBe(false);
    timings.push(`apply refused (loopback-only resolv.conf) after ${s(r.ms)}`);
  });

  it('apply over ssh: kubeadm init + 2 joins; 3 nodes Ready, CoreDNS ready, the API at https://<host>:6443', async () => {
    // What a real machine has: its network's resolvers.
    await hosts.realisticResolvConf();
    const r = await mkJson(['-v', 'apply', '-f', specFile]);
    expectSuccess(r);
    const connects = r.events.filter((e) => e.type === 'debug' && e.message === 'ssh connected').map((e) => `${String(e.context?.node).replace(`${name}-`, '')} ${String(e.context?.ms)} ms`);
    expect(connects).toHaveLength(3);
    const init = step(r, `kubeadm.init:${node.cp}`);
    const joins = [node.w1, node.w2].map((n) => step(r, `kubeadm.join:${n}`));
    expect(init?.outcome).toBe('done');
    for (const j of joins) expect(j?.outcome).toBe('done');
    // Only the host without Kubernetes got the binaries, uploaded over SFTP, with a kubelet unit.
    expect(joins[0]?.detail).not.toMatch(/installed/);
    expect(joins[1]?.detail).toMatch(/installed kubeadm, kubelet, kubectl from the release/);
    expect(release!.requests.filter((u) => !u.endsWith('.sha256')).sort()).toEqual(['kubeadm', 'kubectl', 'kubelet'].map((b) => `/${k8sVersion()}/bin/linux/amd64/${b}`));
    expect(await hosts.exec(w2, ['kubeadm', 'version', '-o', 'short'])).toBe(k8sVersion());
    timings.push(`ssh connect: ${connects.join(', ')}`);
    timings.push(`kubeadm.init step ${s(init?.durationMs)} (${init?.detail})`);
    for (const j of joins) timings.push(`${j?.step?.id} step ${s(j?.durationMs)} (${j?.detail})`);
    for (const id of [`cni.apply:${name}`, `kubeconfig.export:${name}`, `cluster.wait:${name}`]) timings.push(`${id} ${s(step(r, id)?.durationMs)}${step(r, id)?.detail ? ` (${step(r, id)?.detail})` : ''}`);
    timings.push(`first successful apply (resuming after the refused one): ${s(r.ms)} wall`);
    timings.push(`ssh commands per host: ${sshStats(r)}`);

    const kc = client();
    expect(kc.server).toBe(`https://${cp.ip}:6443`);
    const nodes = await readyNodes(Object.values(node));
    for (const n of nodes) expect(n.status?.nodeInfo?.kubeletVersion).toBe(k8sVersion());
    const addresses = Object.fromEntries(nodes.map((n) => [n.metadata.name, n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address]));
    expect(addresses).toEqual({ [node.cp]: cp.ip, [node.w1]: w1.ip, [node.w2]: w2.ip });
    await eventually(
      'both CoreDNS replicas ready',
      async () => {
        const d = await kc.json<{ spec?: { replicas?: number }; status?: { readyReplicas?: number } }>('GET', '/apis/apps/v1/namespaces/kube-system/deployments/coredns');
        return d?.status?.readyReplicas !== undefined && d.status.readyReplicas === d.spec?.replicas ? true : undefined;
      },
      180_000,
      2000,
    );
  });

  it('resolves a Service name from a pod on a worker (mk CNI routes between hosts, CoreDNS, kube-proxy)', async () => {
    const kc = client();
    const { phase, log } = await dnsProbe(kc, node.w1, 120_000);
    expect(phase, log).toBe('Succeeded');
    expect(log).toMatch(/^10\.96\.0\.1\s+kubernetes\.default\.svc\.cluster\.local/);
  });

  it('keeps secrets off the command line, out of mk output and off the hosts', async () => {
    const kc = client();
    // mk deletes kubeadm init's token and each join's own: no bootstrap token is left.
    const secrets = await kc.json<{ items: Array<{ type?: string; metadata: { name: string } }> }>('GET', '/api/v1/namespaces/kube-system/secrets');
    expect(secrets!.items.filter((x) => x.type === 'bootstrap.kubernetes.io/token').map((x) => x.metadata.name)).toEqual([]);
    for (const h of [cp, w1, w2]) {
      expect(await hosts.exists(h, '/etc/mk/kubeadm-join.yaml')).toBe(false);
      expect(await hosts.exec(h, ['sh', '-c', 'ls -A /home/mk | grep -c "^\\.mk-upload-" || true'])).toBe('0');
    }
    expect(await hosts.exec(cp, ['stat', '-c', '%a', '/etc/mk/kubeadm-init.yaml'])).toBe('600');
    const clientKey = /client-key-data:\s*(\S+)/.exec(await hosts.exec(cp, ['cat', '/etc/kubernetes/admin.conf']))?.[1];
    expect(clientKey).toBeTruthy();
    expect(printed).not.toContain(clientKey!);
    expect(printed).not.toMatch(/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/);
    expect(printed).not.toMatch(/PRIVATE KEY/);
    expect(printed).not.toContain('[redacted]');
    expect((await stat(env.KUBECONFIG!)).mode & 0o777).toBe(0o600);
  });

  it('a second apply is a no-op', async () => {
    const r = await mk(['apply', '-f', specFile]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/No changes/);
    expect(r.output).not.toMatch(/✓/);
    const plan = await mk(['plan', '-f', specFile]);
    expect(plan.code, plan.output).toBe(0);
    timings.push(`no-op apply ${s(r.ms)} wall; plan ${s(plan.ms)}`);
  });

  it('mk stop stops the kubelet and the pods on every host, the machines stay up; mk start brings every node back Ready', async () => {
    const stop = await mkJson(['stop', name]);
    expectSuccess(stop);
    for (const h of [cp, w1, w2]) {
      expect(await hosts.running(h)).toBe(true);
      expect(await hosts.exec(h, ['sh', '-c', 'systemctl is-active kubelet || true'])).toBe('inactive');
      expect(await hosts.exec(h, ['sh', '-c', 'ctr -n k8s.io tasks ls | awk \'NR > 1 && $3 == "RUNNING"\' | wc -l'])).toBe('0');
    }
    expect((await mk(['status', name])).stdout).toMatch(/^ {2}stopped by mk stop at /m);
    const start = await mkJson(['start', name]);
    expectSuccess(start);
    const restarted = start.events.filter((e) => e.type === 'step.finished' && e.step!.id.startsWith('kubelet.restart:')).map((e) => e.step!.id);
    expect(restarted.sort()).toEqual([node.cp, node.w1, node.w2].map((n) => `kubelet.restart:${n}`).sort());
    await readyNodes([node.cp, node.w1, node.w2]);
    timings.push(`mk stop ${s(stop.ms)} wall; mk start to every node Ready ${s(start.ms)} wall`);
    const plan = await mk(['plan', '-f', specFile]);
    expect(plan.code, plan.output).toBe(0);
  });

  it('scaling the workers 2 -> 1 drains and resets the removed host, deletes its Node, leaves the machine running', async () => {
    const kc = client();
    // A pod on the host that leaves, so the drain has something to evict.
    await kc.json('POST', '/api/v1/namespaces/default/pods', {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'on-w2' }, spec: { nodeName: node.w2, containers: [{ name: 'c', image: await pauseImage(), imagePullPolicy: 'Never' }] } },
    });
    await eventually(
      'pod on-w2 Running',
      async () => ((await kc.json<{ status?: { phase?: string } }>('GET', '/api/v1/namespaces/default/pods/on-w2'))?.status?.phase === 'Running' ? true : undefined),
      120_000,
      1000,
    );
    await writeFile(specFile, spec([w1]));
    const plan = await mk(['plan', '-f', specFile]);
    expect(plan.code, plan.output).toBe(2);
    expect(plan.output).toContain(`drain ${node.w2}, kubeadm reset, delete its Node`);
    expect(plan.output).toContain(`remove node ${node.w2} (worker)`);

    const r = await mkJson(['-v', 'apply', '-f', specFile]);
    expectSuccess(r);
    const reset = step(r, `kubeadm.reset:${node.w2}`);
    expect(reset?.detail).toMatch(/drained in [\d.]+ s \((\d+) evicted/);
    expect(Number(/\((\d+) evicted/.exec(reset!.detail!)![1])).toBeGreaterThanOrEqual(1);
    expect(reset?.detail).toMatch(/kubeadm reset [\d.]+ s/);
    expect(reset?.detail).toMatch(/Node object deleted/);
    timings.push(`removal: ssh commands per host: ${sshStats(r)}`);
    timings.push(`removal of ${node.w2}: reset step ${s(reset?.durationMs)} (${reset?.detail}); node.remove ${s(step(r, `node.remove:${node.w2}`)?.durationMs)}; apply ${s(r.ms)} wall`);

    await readyNodes([node.cp, node.w1]);
    // Evicted: gone, or (kubelet stopped by the reset before it confirmed) terminating until the pod GC collects it.
    const evicted = await kc.json<{ metadata: { deletionTimestamp?: string }; status?: { phase?: string } }>('GET', '/api/v1/namespaces/default/pods/on-w2', { allow404: true });
    expect(evicted === undefined || evicted.metadata.deletionTimestamp !== undefined).toBe(true);
    if (evicted) timings.push(`note: evicted pod on-w2 still in the API after the removal (phase ${evicted.status?.phase}, terminating): the drain stopped waiting at its terminal phase`);
    await expectReset(w2);
    // mk's node networking is undone on the host that left; the others lost their route to it.
    expect(await hosts.exists(w2, '/etc/cni/net.d/10-mk.conflist')).toBe(false);
    expect(await hosts.exec(w2, ['ip', 'route', 'show', 'proto', '211'])).toBe('');
    expect(await hosts.exec(w1, ['ip', 'route', 'show', 'proto', '211'])).not.toContain(w2.ip);

    const again = await mk(['apply', '-f', specFile]);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toMatch(/No changes/);
  });

  it('mk delete -f resets the remaining hosts and leaves the machines running', async () => {
    const r = await mkJson(['-v', 'delete', '-f', specFile]);
    expectSuccess(r);
    for (const n of [node.cp, node.w1]) expect(step(r, `kubeadm.reset:${n}`)?.outcome).toBe('done');
    // The host removed earlier is not mk's any more: delete does not touch it.
    expect(r.events.some((e) => e.step?.id.endsWith(node.w2))).toBe(false);
    timings.push(`delete: ${[node.cp, node.w1].map((n) => `reset ${n.replace(`${name}-`, '')} ${s(step(r, `kubeadm.reset:${n}`)?.durationMs)}`).join(', ')}; ${s(r.ms)} wall`);
    for (const h of [cp, w1, w2]) await expectReset(h);
    expect(await hosts.exists(cp, '/etc/kubernetes/admin.conf')).toBe(false);
    expect(await hosts.exists(cp, '/var/lib/etcd/member')).toBe(false);
    expect(await readFile(env.KUBECONFIG!, 'utf8')).not.toContain(`mk-${name}`);
    // Nothing of mk's is left: a plan would create every node again.
    const plan = await mk(['plan', '-f', specFile]);
    expect(plan.code, plan.output).toBe(2);
    expect(plan.output).toContain(`create node ${node.cp}`);
  });
});

/** The sandbox image every host has baked in: kubeadm's pause tag for this version. */
async function pauseImage(): Promise<string> {
  const images = await runKubeadm(['config', 'images', 'list', '--kubernetes-version', k8sVersion()]);
  const pause = images.stdout.split('\n').find((i) => i.startsWith('registry.k8s.io/pause:'));
  if (!pause) throw new Error(`kubeadm lists no pause image:\n${images.stdout}${images.stderr}`);
  return pause;
}
