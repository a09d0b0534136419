// What mk does inside a node around kubeadm, against a fake node (no node container or host can run
// in the unit tier): the fake records every argv and file write and answers from a small script.
// The few sh -c scripts whose logic lives in the shell are also run by a real sh on temp files.
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandError } from '../../src/errors.js';
import type { ExecOptions, ExecResult, NodeHandle } from '../../src/drivers/types.js';
import {
  CNI_CONFLIST,
  HOSTS_FILE,
  NETWORK_SCRIPT,
  NETWORK_UNIT,
  ROUTES_FILE,
  SERVICES_FILE,
  applyNodeNetwork,
  networkScript,
  networkUnit,
  removeNodeNetwork,
  renderConflist,
  renderHosts,
  renderRoutes,
} from '../../src/kubeadm/network.js';
import { NodePrepareError } from '../../src/kubeadm/errors.js';
import {
  checkKubeadmVersion,
  hasKubeadmTraces,
  missingBinaries,
  prepareNode,
  PREPARE_TIMEOUTS,
  readSentinel,
  RUNTIMES,
  runtimeCgroupDriver,
  SENTINEL,
  socketPath,
  writeSentinel,
  waitForKubeadmExit,
  type Sentinel,
} from '../../src/kubeadm/node.js';
import type { Cri } from '../../src/spec/types.js';

const sh = promisify(execFile);

type Call = { kind: 'exec' | 'run'; argv: string[] } | { kind: 'write'; path: string; mode: number; content: string };
type Answer = Partial<ExecResult> | undefined;

/**
 * A fake NodeHandle: records calls, keeps written files in memory (`cat PATH` reads them back) and
 * the units `systemctl enable|disable UNIT` left enabled (`systemctl is-enabled UNIT` says), and
 * answers other argv through `answer` (default: exit 0, no output). run() throws CommandError on a
 * non-zero exit like the real handles do.
 */
class FakeNode implements NodeHandle {
  readonly calls: Call[] = [];
  readonly files = new Map<string, { content: string; mode: number }>();
  readonly enabled = new Set<string>();
  constructor(
    readonly name = 'dev-worker-1',
    private readonly answer: (argv: readonly string[], node: FakeNode) => Answer = () => undefined,
  ) {}

  private respond(argv: readonly string[]): ExecResult {
    const a = this.answer(argv, this);
    if (a) return { stdout: '', stderr: '', exitCode: 0, ...a };
    if (argv[0] === 'systemctl' && argv[1] === 'enable' && argv.length === 3) this.enabled.add(argv[2]!);
    if (argv[0] === 'systemctl' && argv[1] === 'disable' && argv.length === 3) this.enabled.delete(argv[2]!);
    if (argv[0] === 'systemctl' && argv[1] === 'is-enabled') {
      const on = this.enabled.has(argv[2]!);
      return { stdout: on ? 'enabled\n' : 'disabled\n', stderr: '', exitCode: on ? 0 : 1 };
    }
    if (argv[0] === 'cat' && argv.length === 2) {
      const f = this.files.get(argv[1]!);
      return f ? { stdout: f.content, stderr: '', exitCode: 0 } : { stdout: '', stderr: `cat: ${argv[1]}: No such file or directory`, exitCode: 1 };
    }
    return { stdout: '', stderr: '', exitCode: 0 };
  }
  async exec(argv: readonly string[], _opts?: ExecOptions): Promise<ExecResult> {
    this.calls.push({ kind: 'exec', argv: [...argv] });
    return this.respond(argv);
  }
  async run(argv: readonly string[], _opts?: ExecOptions): Promise<ExecResult> {
    this.calls.push({ kind: 'run', argv: [...argv] });
    const r = this.respond(argv);
    if (r.exitCode !== 0) throw new CommandError(argv, r.exitCode, r.stdout, r.stderr, this.name);
    return r;
  }
  async writeFile(path: string, content: string | Buffer, mode: number): Promise<void> {
    this.calls.push({ kind: 'write', path, mode, content: content.toString() });
    this.files.set(path, { content: content.toString(), mode });
  }

  /** argv of exec and run calls, in order. */
  get commands(): string[][] {
    return this.calls.flatMap((c) => (c.kind === 'write' ? [] : [c.argv]));
  }
  get writes(): Array<{ path: string; mode: number; content: string }> {
    return this.calls.flatMap((c) => (c.kind === 'write' ? [{ path: c.path, mode: c.mode, content: c.content }] : []));
  }
  /** Drops what was recorded so far (files stay). */
  reset(): void {
    this.calls.length = 0;
  }
}

/** The sh -c script missingBinaries runs: argv ['sh', '-c', script, 'sh', ...names]. */
const isMissingCheck = (argv: readonly string[]): boolean => argv[0] === 'sh' && argv[1] === '-c' && argv[2]!.includes('command -v');

interface NodeScript {
  /** Binaries on the node; missingBinaries answers with the others it is asked about. */
  present?: Iterable<string>;
  /** Successive answers of systemctl is-system-running (the last one repeats). */
  systemd?: string[];
  /** How many `test -S socket` calls fail before the socket exists (Infinity: never). */
  socketAfter?: number;
}

/** A node that boots, has binaries and gets its runtime socket as scripted. */
function preparableNode(s: NodeScript = {}, name = 'dev-worker-1'): FakeNode {
  const present = new Set(s.present ?? ['kubeadm', 'kubelet', 'containerd', 'crio', 'dockerd', 'cri-dockerd']);
  const states = [...(s.systemd ?? ['running'])];
  let socketLooks = 0;
  return new FakeNode(name, (argv) => {
    if (argv[0] === 'systemctl' && argv[1] === 'is-system-running') {
      const state = states.length > 1 ? states.shift()! : states[0]!;
      return { stdout: `${state}\n`, exitCode: state === 'running' ? 0 : 1 };
    }
    if (isMissingCheck(argv)) return { stdout: argv.slice(4).filter((b) => !present.has(b)).map((b) => `${b}\n`).join('') };
    if (argv[0] === 'test' && argv[1] === '-S') return { exitCode: socketLooks++ < (s.socketAfter ?? 0) ? 1 : 0 };
    return undefined;
  });
}

const fast = { systemdMs: 40, socketMs: 40, intervalMs: 2 };

describe('prepareNode (fake node)', () => {
  it('fake node: names every missing binary at once, with the image and spec.bootstrap: none, and starts nothing', async () => {
    const node = preparableNode({ present: [] });
    const err = await prepareNode(node, 'containerd', { image: 'kindest/node:v1.31.0', timeouts: fast }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodePrepareError);
    const msg = (err as Error).message;
    expect(msg).toContain('node dev-worker-1');
    expect(msg).toContain('the node image kindest/node:v1.31.0 lacks kubeadm, kubelet, containerd,');
    expect(msg).toContain('cri: containerd');
    expect(msg).toContain('spec.bootstrap: none');
    expect(node.commands.filter((a) => a[0] === 'systemctl' && a[1] !== 'is-system-running')).toEqual([]);
  });

  it('fake node: docker needs dockerd and cri-dockerd; only the missing ones are named', async () => {
    const node = preparableNode({ present: ['kubeadm', 'kubelet', 'containerd', 'dockerd'] });
    await expect(prepareNode(node, 'docker', { image: 'img', timeouts: fast })).rejects.toThrow(/the node image img lacks cri-dockerd, needed to run Kubernetes with cri: docker\./);
  });

  it('fake node: on a host (no image) it asks to install them, not to change the image', async () => {
    const node = preparableNode({ present: ['containerd'] }, 'host-a');
    const err = (await prepareNode(node, 'cri-o', { timeouts: fast }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(NodePrepareError);
    expect(err.message).toMatch(/^node host-a: the host lacks kubeadm, kubelet, crio, needed to run Kubernetes with cri: cri-o\. Install them on the host first\.$/);
  });

  it.each(['containerd', 'cri-o', 'docker'] as const)('fake node: cri %s stops the other runtimes, then enables its own units, then waits for its socket', async (cri: Cri) => {
    const node = preparableNode();
    await expect(prepareNode(node, cri, { timeouts: fast })).resolves.toEqual([]);
    const cmds = node.commands.filter((a) => a[0] !== 'sh' && !(a[0] === 'systemctl' && a[1] === 'is-system-running'));
    const { others, units } = RUNTIMES[cri];
    expect(cmds).toEqual([...others.map((u) => ['systemctl', 'disable', '--now', u]), ['systemctl', 'enable', '--now', ...units], ['test', '-S', socketPath(cri)]]);
    // Stopping an absent unit is fine (exec); failing to start the chosen one is not (run).
    for (const c of node.calls) if (c.kind !== 'write' && c.argv[1] === 'disable') expect(c.kind).toBe('exec');
    expect(node.calls.find((c) => c.kind !== 'write' && c.argv[1] === 'enable')?.kind).toBe('run');
  });

  it('fake node: containerd in detail: cri-o and docker (with their sockets and shim) stopped, containerd started', async () => {
    const node = preparableNode();
    await prepareNode(node, 'containerd', { timeouts: fast });
    const disabled = node.commands.filter((a) => a[1] === 'disable').map((a) => a[3]);
    expect(disabled).toEqual(['crio', 'cri-docker.socket', 'cri-docker', 'docker.socket', 'docker']);
    expect(node.commands).toContainEqual(['systemctl', 'enable', '--now', 'containerd']);
  });

  it('fake node: a chosen runtime that fails to start is an error carrying the command', async () => {
    const node = new FakeNode('dev-worker-1', (argv) => {
      if (argv[1] === 'is-system-running') return { stdout: 'running\n' };
      if (argv[1] === 'enable') return { exitCode: 1, stderr: 'Failed to enable unit: Unit file crio.service does not exist.' };
      return undefined;
    });
    const err = (await prepareNode(node, 'cri-o', { timeouts: fast }).catch((e: unknown) => e)) as CommandError;
    expect(err).toBeInstanceOf(CommandError);
    expect(err.argv).toEqual(['systemctl', 'enable', '--now', 'crio']);
    expect(err.message).toMatch(/crio\.service does not exist/);
  });

  it('fake node: waits for systemd to finish booting (degraded counts as booted)', async () => {
    const node = preparableNode({ systemd: ['initializing', 'starting', 'degraded'] });
    await prepareNode(node, 'containerd', { timeouts: fast });
    expect(node.commands.filter((a) => a[1] === 'is-system-running')).toHaveLength(3);
    const firstOther = node.commands.findIndex((a) => a[1] !== 'is-system-running');
    expect(node.commands.slice(firstOther).some((a) => a[1] === 'is-system-running')).toBe(false);
  });

  it('fake node: systemd never boots: a clear error with its last state, nothing else tried', async () => {
    const node = preparableNode({ systemd: ['starting'] });
    const t0 = Date.now();
    const err = (await prepareNode(node, 'containerd', { timeouts: fast }).catch((e: unknown) => e)) as Error;
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(NodePrepareError);
    expect(err.message).toBe('node dev-worker-1: systemd did not finish booting in 0.04 s (state: starting)');
    expect(node.commands.every((a) => a[1] === 'is-system-running')).toBe(true);
    expect(node.commands.length).toBeGreaterThan(1);
  });

  it('fake node: waits until the runtime socket answers', async () => {
    const node = preparableNode({ socketAfter: 3 });
    await prepareNode(node, 'cri-o', { timeouts: { ...fast, socketMs: 5_000 } });
    expect(node.commands.filter((a) => a[0] === 'test')).toEqual(Array.from({ length: 4 }, () => ['test', '-S', '/var/run/crio/crio.sock']));
  });

  it('fake node: the socket never appears: a clear error naming node, runtime, socket and the time waited', async () => {
    const node = preparableNode({ socketAfter: Infinity }, 'dev-control-plane-1');
    const t0 = Date.now();
    const err = (await prepareNode(node, 'docker', { timeouts: fast }).catch((e: unknown) => e)) as Error;
    const took = Date.now() - t0;
    expect(err).toBeInstanceOf(NodePrepareError);
    expect(err.message).toBe('node dev-control-plane-1: the docker socket /var/run/cri-dockerd.sock did not appear within 0.04 s');
    expect(took).toBeGreaterThanOrEqual(40);
    expect(took).toBeLessThan(2_000);
  });

  it('the defaults are the documented waits: 180 s for systemd, 60 s for the socket, a look every 500 ms', () => {
    expect(PREPARE_TIMEOUTS).toEqual({ systemdMs: 180_000, socketMs: 60_000, intervalMs: 500 });
  });

  it('fake node: an abort stops the wait at once', async () => {
    const node = preparableNode({ systemd: ['starting'] });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('Ctrl-C')), 20);
    const t0 = Date.now();
    await expect(prepareNode(node, 'containerd', { signal: ac.signal })).rejects.toThrow('Ctrl-C');
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('fake node: with the runtime present but not Kubernetes, installs the release binaries, then checks again', async () => {
    const present = new Set(['containerd']);
    const node = new FakeNode('dev-worker-1', (argv) => {
      if (argv[1] === 'is-system-running') return { stdout: 'running\n' };
      if (isMissingCheck(argv)) return { stdout: argv.slice(4).filter((b) => !present.has(b)).join('\n') };
      return undefined;
    });
    const installed = await prepareNode(node, 'containerd', {
      timeouts: fast,
      installKubernetes: async () => {
        present.add('kubeadm').add('kubelet');
        return ['kubeadm', 'kubelet'];
      },
    });
    expect(installed).toEqual(['kubeadm', 'kubelet']);
    expect(node.commands).toContainEqual(['systemctl', 'enable', '--now', 'containerd']);
  });

  it('fake node: without the runtime it installs nothing and names the runtime binary', async () => {
    let asked = false;
    const node = preparableNode({ present: [] });
    const p = prepareNode(node, 'containerd', {
      image: 'img',
      timeouts: fast,
      installKubernetes: async () => {
        asked = true;
        return [];
      },
    });
    await expect(p).rejects.toThrow(/lacks kubeadm, kubelet, containerd,/);
    expect(asked).toBe(false);
  });
});

describe('missingBinaries', () => {
  it('fake node: one command for all names, the answer split per line', async () => {
    const node = preparableNode({ present: ['kubelet'] });
    expect(await missingBinaries(node, ['kubeadm', 'kubelet', 'crio'])).toEqual(['kubeadm', 'crio']);
    expect(node.commands).toHaveLength(1);
    expect(node.commands[0]!.slice(3)).toEqual(['sh', 'kubeadm', 'kubelet', 'crio']);
  });

  it('its script, run by a real sh here, prints exactly the names not found (names are arguments, never code)', async () => {
    const node = new FakeNode();
    await missingBinaries(node, ['x']);
    const script = node.commands[0]![2]!;
    const names = ['sh', 'mk-no-such-binary-1', 'cat', 'mk  no-such; binary'];
    const { stdout } = await sh('sh', ['-c', script, 'sh', ...names]);
    expect(stdout).toBe('mk-no-such-binary-1\nmk  no-such; binary\n');
  });
});

describe('runtimeCgroupDriver (fake node)', () => {
  const answering = (stdout: string) => new FakeNode('n', () => ({ stdout }));

  it('fake node: containerd: systemd when its config dump has SystemdCgroup = true, else cgroupfs', async () => {
    const dump = (v: string) => `version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  BinaryName = ""\n  SystemdCgroup = ${v}\n`;
    const on = answering(dump('true'));
    expect(await runtimeCgroupDriver(on, 'containerd')).toBe('systemd');
    expect(on.commands).toEqual([['containerd', 'config', 'dump']]);
    expect(await runtimeCgroupDriver(answering(dump('false')), 'containerd')).toBe('cgroupfs');
    expect(await runtimeCgroupDriver(answering(''), 'containerd')).toBe('cgroupfs');
  });

  it('fake node: cri-o: systemd by default; the last cgroup_manager line wins; comments do not count', async () => {
    expect(await runtimeCgroupDriver(answering(''), 'cri-o')).toBe('systemd');
    expect(await runtimeCgroupDriver(answering('[crio.runtime]\ncgroup_manager = "cgroupfs"\n'), 'cri-o')).toBe('cgroupfs');
    expect(await runtimeCgroupDriver(answering('[crio.runtime]\ncgroup_manager = "cgroupfs"\n[crio.runtime]\n  cgroup_manager = "systemd"\n'), 'cri-o')).toBe('systemd');
    expect(await runtimeCgroupDriver(answering('[crio.runtime]\ncgroup_manager = "systemd"\n[crio.runtime]\ncgroup_manager="cgroupfs"\n'), 'cri-o')).toBe('cgroupfs');
    expect(await runtimeCgroupDriver(answering('# cgroup_manager = "cgroupfs"\n'), 'cri-o')).toBe('systemd');
  });

  it('fake node: docker: what docker info reports', async () => {
    const sd = answering('systemd\n');
    expect(await runtimeCgroupDriver(sd, 'docker')).toBe('systemd');
    expect(sd.commands).toEqual([['docker', 'info', '--format', '{{.CgroupDriver}}']]);
    expect(await runtimeCgroupDriver(answering('cgroupfs\n'), 'docker')).toBe('cgroupfs');
  });

  it('fake node: docker: a failing docker info is an error, not a guess', async () => {
    const node = new FakeNode('n', () => ({ exitCode: 1, stderr: 'Cannot connect to the Docker daemon' }));
    await expect(runtimeCgroupDriver(node, 'docker')).rejects.toBeInstanceOf(CommandError);
  });
});

describe('sentinel and kubeadm traces (fake node)', () => {
  const sentinel: Sentinel = { cluster: 'dev', role: 'worker', at: '2025-03-01T10:00:00.000Z', kubernetesVersion: 'v1.31.0' };

  it('fake node: no sentinel file: kubeadm has not finished here', async () => {
    expect(await readSentinel(new FakeNode())).toBeUndefined();
  });

  it('fake node: written with mode 0644 at /etc/mk/kubeadm.json and read back', async () => {
    const node = new FakeNode();
    await writeSentinel(node, sentinel);
    expect(node.writes).toEqual([{ path: SENTINEL, mode: 0o644, content: JSON.stringify(sentinel) + '\n' }]);
    expect(SENTINEL).toBe('/etc/mk/kubeadm.json');
    expect(await readSentinel(node)).toEqual(sentinel);
  });

  it('fake node: a truncated sentinel (a write cut short) counts as absent', async () => {
    const node = new FakeNode();
    node.files.set(SENTINEL, { content: '{"cluster":"dev","ro', mode: 0o644 });
    expect(await readSentinel(node)).toBeUndefined();
  });

  it('fake node: traces are asked about kubeadm\'s own files in one command, and the exit code decides', async () => {
    const found = new FakeNode('n', (argv) => (argv[0] === 'sh' ? { exitCode: 0 } : undefined));
    expect(await hasKubeadmTraces(found)).toBe(true);
    const args = found.commands[0]!.slice(3);
    expect(args[0]).toBe('sh');
    expect(args.slice(1)).toEqual(expect.arrayContaining(['/etc/kubernetes/kubelet.conf', '/etc/kubernetes/admin.conf', '/etc/kubernetes/manifests/kube-apiserver.yaml', '/etc/kubernetes/pki/ca.crt']));
    expect(args).not.toContain(SENTINEL);
    expect(await hasKubeadmTraces(new FakeNode('n', (argv) => (argv[0] === 'sh' ? { exitCode: 1 } : undefined)))).toBe(false);
  });

  describe('its script, run by a real sh on temp files', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'mk-traces-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('exits 0 when any one of the files exists, 1 when none does', async () => {
      const node = new FakeNode();
      await hasKubeadmTraces(node);
      const script = node.commands[0]![2]!;
      const paths = ['a.conf', 'b.conf', 'c.crt'].map((f) => join(dir, f));
      await expect(sh('sh', ['-c', script, 'sh', ...paths])).rejects.toMatchObject({ code: 1 });
      await writeFile(paths[2]!, '');
      await expect(sh('sh', ['-c', script, 'sh', ...paths])).resolves.toBeDefined();
    });
  });
});

describe('waitForKubeadmExit (a kubeadm left running by a killed mk)', () => {
  /** A node whose kubeadm process is seen by the first `looks` checks, then gone. */
  const kubeadmFor = (looks: number) => {
    let n = 0;
    return new FakeNode('dev-worker-2', (argv) => (argv[0] === 'sh' ? { exitCode: n++ < looks ? 0 : 1 } : undefined));
  };

  it('fake node: none running: returns false after one look', async () => {
    const node = kubeadmFor(0);
    expect(await waitForKubeadmExit(node)).toBe(false);
    expect(node.commands).toHaveLength(1);
  });

  it('fake node: one running: waits until it is gone, then returns true', async () => {
    const node = kubeadmFor(1);
    expect(await waitForKubeadmExit(node)).toBe(true);
    expect(node.commands).toHaveLength(2);
  });

  it('fake node: one that never exits: a clear error after the timeout', async () => {
    const node = kubeadmFor(Infinity);
    await expect(waitForKubeadmExit(node, undefined, 0)).rejects.toThrow(/^node dev-worker-2: a kubeadm left by an interrupted run is still running after 0 s$/);
  });

  describe('its script, run by a real sh here', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'mk-kubeadm-proc-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('finds a process whose name is kubeadm (a copy of sleep named kubeadm)', async () => {
      const node = kubeadmFor(0);
      await waitForKubeadmExit(node);
      const script = node.commands[0]![2]!;
      const fakeKubeadm = join(dir, 'kubeadm');
      await copyFile((await sh('sh', ['-c', 'command -v sleep'])).stdout.trim(), fakeKubeadm);
      await sh('chmod', ['+x', fakeKubeadm]);
      const child = spawn(fakeKubeadm, ['30'], { stdio: 'ignore' });
      try {
        await new Promise((r) => child.once('spawn', r));
        await expect(sh('sh', ['-c', script])).resolves.toBeDefined();
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});

describe('applyNodeNetwork (fake node)', () => {
  const files = { apiAddress: '172.18.0.2', routes: [{ podCidr: '10.244.2.0/24', via: '172.18.0.4' }, { podCidr: '10.244.1.0/24', via: '172.18.0.3' }], podCidr: '10.244.0.0/24' };
  const reloads = (node: FakeNode) => node.commands.filter((a) => a[0] === 'systemctl' && a[1] !== 'is-enabled');

  it('fake node: first time: writes script 0755, unit, hosts, routes and conflist 0644 with the rendered texts, reloads systemd, enables the unit, runs the script last', async () => {
    const node = new FakeNode();
    await applyNodeNetwork(node, 'dev', files);
    expect(node.writes).toEqual([
      { path: NETWORK_SCRIPT, mode: 0o755, content: networkScript },
      { path: NETWORK_UNIT, mode: 0o644, content: networkUnit },
      { path: HOSTS_FILE, mode: 0o644, content: renderHosts('dev', '172.18.0.2') },
      { path: ROUTES_FILE, mode: 0o644, content: renderRoutes(files.routes) },
      { path: CNI_CONFLIST, mode: 0o644, content: renderConflist('10.244.0.0/24') },
    ]);
    expect(reloads(node)).toEqual([
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', 'mk-node-network.service'],
    ]);
    expect(node.calls.at(-1)).toEqual({ kind: 'run', argv: [NETWORK_SCRIPT] });
  });

  it('fake node: again with the unit unchanged: no unit write, no daemon-reload, no enable; the rest is rewritten and applied', async () => {
    const node = new FakeNode();
    await applyNodeNetwork(node, 'dev', files);
    node.reset();
    await applyNodeNetwork(node, 'dev', { ...files, apiAddress: '172.18.0.9' });
    expect(reloads(node)).toEqual([]);
    expect(node.writes.map((w) => w.path)).toEqual([NETWORK_SCRIPT, HOSTS_FILE, ROUTES_FILE, CNI_CONFLIST]);
    expect(node.files.get(HOSTS_FILE)?.content).toBe('172.18.0.9 dev-api.mk.internal # mk\n');
    expect(node.calls.at(-1)).toEqual({ kind: 'run', argv: [NETWORK_SCRIPT] });
  });

  it('fake node: a unit from an older mk is replaced and systemd reloaded', async () => {
    const node = new FakeNode();
    node.files.set(NETWORK_UNIT, { content: networkUnit.replace('Before=kubelet.service\n', ''), mode: 0o644 });
    await applyNodeNetwork(node, 'dev', files);
    expect(node.files.get(NETWORK_UNIT)?.content).toBe(networkUnit);
    expect(reloads(node)).toEqual([
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', 'mk-node-network.service'],
    ]);
  });

  it('fake node: a run killed between writing the unit and enabling it: the next run enables it, without reloading systemd', async () => {
    const node = new FakeNode();
    node.files.set(NETWORK_UNIT, { content: networkUnit, mode: 0o644 });
    await applyNodeNetwork(node, 'dev', files);
    expect(reloads(node)).toEqual([['systemctl', 'enable', 'mk-node-network.service']]);
    expect(node.enabled.has('mk-node-network.service')).toBe(true);
  });

  it('fake node: without the built-in CNI only the endpoint name is written: no routes, no conflist', async () => {
    const node = new FakeNode();
    await applyNodeNetwork(node, 'dev', { apiAddress: '172.18.0.2' });
    expect(node.writes.map((w) => w.path)).toEqual([NETWORK_SCRIPT, NETWORK_UNIT, HOSTS_FILE]);
  });

  it('fake node: a failing script is an error (run, not exec)', async () => {
    const node = new FakeNode('dev-worker-3', (argv) => (argv[0] === NETWORK_SCRIPT ? { exitCode: 2, stderr: 'RTNETLINK answers: Network is unreachable' } : undefined));
    await expect(applyNodeNetwork(node, 'dev', files)).rejects.toThrow(/dev-worker-3.*\n.*Network is unreachable/);
  });

  it('fake node: removal disables the unit, flushes mk\'s routes, drops mk\'s hosts line and every file mk wrote', async () => {
    const node = new FakeNode();
    await removeNodeNetwork(node);
    const cmds = node.commands;
    expect(cmds[0]).toEqual(['systemctl', 'disable', 'mk-node-network.service']);
    expect(cmds).toContainEqual(['ip', 'route', 'flush', 'proto', '211']);
    expect(cmds.at(-1)).toEqual(['rm', '-f', ROUTES_FILE, HOSTS_FILE, SERVICES_FILE, CNI_CONFLIST, NETWORK_UNIT, NETWORK_SCRIPT]);
    expect(cmds.some((c) => c[0] === 'iptables')).toBe(false);
  });

  it('fake node: removal deletes the reject rules of the service CIDR it wrote, in both chains', async () => {
    const node = new FakeNode();
    await applyNodeNetwork(node, 'dev', { ...files, serviceCidr: '10.96.0.0/12' });
    expect(node.files.get(SERVICES_FILE)?.content).toBe('10.96.0.0/12\n');
    await removeNodeNetwork(node);
    const deletes = node.commands.filter((c) => c[0] === 'iptables').map((c) => c.slice(0, 5));
    expect(deletes).toEqual([
      ['iptables', '-D', 'FORWARD', '-d', '10.96.0.0/12'],
      ['iptables', '-D', 'OUTPUT', '-d', '10.96.0.0/12'],
    ]);
  });

  describe('the removal\'s hosts script, run by a real sh on a temp copy of /etc/hosts', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'mk-hosts-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('removes exactly the line renderHosts wrote, not a user\'s line that merely mentions # mk', async () => {
      const node = new FakeNode();
      await removeNodeNetwork(node);
      const script = node.commands.find((a) => a[0] === 'sh')![2]!.replaceAll('/etc/hosts', join(dir, 'hosts')).replaceAll('/run/mk-hosts', join(dir, 'tmp'));
      await writeFile(join(dir, 'hosts'), `127.0.0.1 localhost\n${renderHosts('dev', '172.18.0.2')}10.0.0.7 mkbox # mk lab\n`);
      await sh('sh', ['-c', script]);
      expect(await readFile(join(dir, 'hosts'), 'utf8')).toBe('127.0.0.1 localhost\n10.0.0.7 mkbox # mk lab\n');
    });
  });
});

describe('checkKubeadmVersion (fake node)', () => {
  it('passes when kubeadm prints the spec version, and names both versions and the ways out otherwise', async () => {
    const node = (v: string) => new FakeNode('dev-cp-1', (argv) => (argv[0] === 'kubeadm' && argv[1] === 'version' ? { stdout: `${v}\n` } : undefined));
    await expect(checkKubeadmVersion(node('v1.36.3'), 'v1.36.3')).resolves.toBeUndefined();
    const err = await checkKubeadmVersion(node('v1.35.1'), 'v1.36.3').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodePrepareError);
    expect((err as Error).message).toBe(
      'node dev-cp-1 has kubeadm v1.35.1, but spec.kubernetesVersion is v1.36.3; use a node image (or host packages) of v1.36.3, or set spec.kubernetesVersion: v1.35.1',
    );
  });
});
