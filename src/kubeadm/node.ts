// What mk does inside a node before and around kubeadm: wait for systemd, check and start the chosen
// container runtime, read its cgroup driver, and keep the sentinel that says kubeadm finished here.
// Every command is an argv array; the few sh -c scripts are constants that take values as arguments.
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeHandle } from '../drivers/types.js';
import type { Cri, Role } from '../spec/types.js';
import { CRI_SOCKETS } from './config.js';
import { NodePrepareError } from './errors.js';

/** Written last by init and join: its presence means kubeadm finished on the node. */
export const SENTINEL = '/etc/mk/kubeadm.json';
/** kubeadm configs mk writes (0600; join configs hold a token). */
export const INIT_CONFIG = '/etc/mk/kubeadm-init.yaml';
export const JOIN_CONFIG = '/etc/mk/kubeadm-join.yaml';
/** Files kubeadm leaves behind a started init/join: any of them without the sentinel means "half done". */
const KUBEADM_TRACES = ['/etc/kubernetes/kubelet.conf', '/etc/kubernetes/admin.conf', '/etc/kubernetes/manifests/kube-apiserver.yaml', '/etc/kubernetes/pki/ca.crt'];

export interface Sentinel {
  cluster: string;
  role: Role;
  /** ISO time kubeadm finished. */
  at: string;
  kubernetesVersion: string;
  /** `sha256:<hex>` of the cluster CA the node was set up with (sentinels of older mk lack it). */
  caCertHash?: string;
}

interface RuntimeInfo {
  /** systemd units that must run. */
  units: string[];
  /** Binaries that must exist. */
  binaries: string[];
  /** Units of the other runtimes, stopped and disabled when present. */
  others: string[];
}

export const RUNTIMES: Record<Cri, RuntimeInfo> = {
  containerd: { units: ['containerd'], binaries: ['containerd'], others: ['crio', 'cri-docker.socket', 'cri-docker', 'docker.socket', 'docker'] },
  'cri-o': { units: ['crio'], binaries: ['crio'], others: ['cri-docker.socket', 'cri-docker', 'docker.socket', 'docker', 'containerd'] },
  // dockerd runs its containers through containerd: that one stays.
  docker: { units: ['containerd', 'docker', 'cri-docker.socket', 'cri-docker'], binaries: ['dockerd', 'cri-dockerd'], others: ['crio'] },
};

/** The path of a unix:// CRI socket. */
export function socketPath(cri: Cri): string {
  return CRI_SOCKETS[cri].replace(/^unix:\/\//, '');
}

/** Polls check() every intervalMs until it returns a value, or throws onTimeout() after timeoutMs. */
export async function poll<T>(check: () => Promise<T | undefined>, opts: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal; onTimeout: () => Error | Promise<Error> }): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    opts.signal?.throwIfAborted();
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw await opts.onTimeout();
    // An abort ends the wait at once, with the signal's reason (e.g. "interrupted by SIGINT").
    await sleep(opts.intervalMs ?? 500, undefined, opts.signal ? { signal: opts.signal } : {}).catch((err: unknown) => {
      opts.signal?.throwIfAborted();
      throw err;
    });
  }
}

/** Which of `names` are not on the node's PATH (nor in /usr/sbin, /sbin, /usr/local/bin). */
export async function missingBinaries(node: NodeHandle, names: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const script = 'PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"; for b in "$@"; do command -v "$b" >/dev/null 2>&1 || echo "$b"; done';
  const r = await node.run(['sh', '-c', script, 'sh', ...names], signal ? { signal } : {});
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** How long prepareNode waits for systemd and the runtime's socket, and how often it looks. */
export interface PrepareTimeouts {
  systemdMs: number;
  socketMs: number;
  intervalMs: number;
}

export const PREPARE_TIMEOUTS: PrepareTimeouts = { systemdMs: 180_000, socketMs: 60_000, intervalMs: 500 };

async function waitForSystemd(node: NodeHandle, t: PrepareTimeouts, signal?: AbortSignal): Promise<void> {
  let last = '';
  await poll(
    async () => {
      const r = await node.exec(['systemctl', 'is-system-running'], signal ? { signal } : {});
      last = (r.stdout || r.stderr).trim();
      return last === 'running' || last === 'degraded' ? true : undefined;
    },
    {
      timeoutMs: t.systemdMs,
      intervalMs: t.intervalMs,
      ...(signal ? { signal } : {}),
      onTimeout: () => new NodePrepareError(`node ${node.name}: systemd did not finish booting in ${t.systemdMs / 1000} s (state: ${last || 'unknown'})`),
    },
  );
}

/**
 * Makes the node ready for kubeadm: systemd booted, kubeadm/kubelet and the runtime present (all
 * missing pieces named at once), the chosen runtime enabled and answering on its socket, the other
 * runtimes stopped.
 */
export async function prepareNode(
  node: NodeHandle,
  cri: Cri,
  opts: { image?: string; signal?: AbortSignal; installKubernetes?: () => Promise<string[]>; timeouts?: Partial<PrepareTimeouts> } = {},
): Promise<string[]> {
  const { signal } = opts;
  const o = signal ? { signal } : {};
  const t = { ...PREPARE_TIMEOUTS, ...opts.timeouts };
  await waitForSystemd(node, t, signal);
  const rt = RUNTIMES[cri];
  // A node that has the runtime but not Kubernetes gets the release binaries (kicbase-style images, hosts).
  let installed: string[] = [];
  if (opts.installKubernetes && (await missingBinaries(node, rt.binaries, signal)).length === 0) installed = await opts.installKubernetes();
  const missing = await missingBinaries(node, ['kubeadm', 'kubelet', ...rt.binaries], signal);
  if (missing.length > 0) {
    const from = opts.image ? `the node image ${opts.image}` : 'the host';
    throw new NodePrepareError(
      `node ${node.name}: ${from} lacks ${missing.join(', ')}, needed to run Kubernetes with cri: ${cri}. ` +
        (opts.image ? 'Use a node image that carries them (README: "Node images"), or set spec.bootstrap: none for nodes without Kubernetes.' : 'Install them on the host first.'),
    );
  }
  // Stop the runtimes not chosen (absent units are fine), then start the chosen one.
  for (const unit of rt.others) await node.exec(['systemctl', 'disable', '--now', unit], o);
  await node.run(['systemctl', 'enable', '--now', ...rt.units], o);
  const sock = socketPath(cri);
  await poll(async () => ((await node.exec(['test', '-S', sock], o)).exitCode === 0 ? true : undefined), {
    timeoutMs: t.socketMs,
    intervalMs: t.intervalMs,
    ...o,
    onTimeout: () => new NodePrepareError(`node ${node.name}: the ${cri} socket ${sock} did not appear within ${t.socketMs / 1000} s`),
  });
  return installed;
}

/**
 * kubeadm on the node must be the spec's version: another one would deploy or join a different
 * Kubernetes than the spec says. (Binaries mk installs are always the spec's version.)
 */
export async function checkKubeadmVersion(node: NodeHandle, version: string, signal?: AbortSignal): Promise<void> {
  const r = await node.run(['kubeadm', 'version', '-o', 'short'], signal ? { signal } : {});
  const found = r.stdout.trim();
  if (found !== version) {
    throw new NodePrepareError(
      `node ${node.name} has kubeadm ${found || '(no version)'}, but spec.kubernetesVersion is ${version}; use a node image (or host packages) of ${version}, or set spec.kubernetesVersion: ${found}`,
    );
  }
}

/** The runtime's cgroup driver, which the kubelet must match. */
export async function runtimeCgroupDriver(node: NodeHandle, cri: Cri, signal?: AbortSignal): Promise<'systemd' | 'cgroupfs'> {
  const o = signal ? { signal } : {};
  switch (cri) {
    case 'containerd': {
      const r = await node.exec(['containerd', 'config', 'dump'], o);
      return /SystemdCgroup\s*=\s*true/.test(r.stdout) ? 'systemd' : 'cgroupfs';
    }
    case 'cri-o': {
      // cri-o defaults to systemd; a drop-in or crio.conf may say cgroupfs.
      const r = await node.exec(['sh', '-c', 'cat /etc/crio/crio.conf /etc/crio/crio.conf.d/* 2>/dev/null'], o);
      const m = [...r.stdout.matchAll(/^\s*cgroup_manager\s*=\s*["'](systemd|cgroupfs)["']/gm)].at(-1);
      return m?.[1] === 'cgroupfs' ? 'cgroupfs' : 'systemd';
    }
    case 'docker': {
      const r = await node.run(['docker', 'info', '--format', '{{.CgroupDriver}}'], o);
      return r.stdout.trim() === 'systemd' ? 'systemd' : 'cgroupfs';
    }
  }
}

export async function readSentinel(node: NodeHandle, signal?: AbortSignal): Promise<Sentinel | undefined> {
  const r = await node.exec(['cat', SENTINEL], signal ? { signal } : {});
  if (r.exitCode !== 0) return undefined;
  try {
    return JSON.parse(r.stdout) as Sentinel;
  } catch {
    return undefined;
  }
}

export async function writeSentinel(node: NodeHandle, s: Sentinel, signal?: AbortSignal): Promise<void> {
  await node.writeFile(SENTINEL, JSON.stringify(s) + '\n', 0o644, signal ? { signal } : {});
}

/**
 * Waits until no kubeadm process runs on the node: one started by an interrupted mk keeps running in
 * the node (killing mk does not kill it) and must finish before mk resets and runs kubeadm again.
 * Returns whether one was running.
 */
export async function waitForKubeadmExit(node: NodeHandle, signal?: AbortSignal, timeoutMs = 300_000, intervalMs = 1000): Promise<boolean> {
  const script = 'for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = kubeadm ] && exit 0; done; exit 1';
  const running = async () => (await node.exec(['sh', '-c', script], signal ? { signal } : {})).exitCode === 0;
  if (!(await running())) return false;
  await poll(async () => ((await running()) ? undefined : true), {
    timeoutMs,
    intervalMs,
    ...(signal ? { signal } : {}),
    onTimeout: () => new NodePrepareError(`node ${node.name}: a kubeadm left by an interrupted run is still running after ${timeoutMs / 1000} s`),
  });
  return true;
}

/** True when kubeadm started on the node but did not finish (no sentinel, but its files exist). */
export async function hasKubeadmTraces(node: NodeHandle, signal?: AbortSignal): Promise<boolean> {
  const script = 'for f in "$@"; do [ -e "$f" ] && exit 0; done; exit 1';
  return (await node.exec(['sh', '-c', script, 'sh', ...KUBEADM_TRACES], signal ? { signal } : {})).exitCode === 0;
}

/** kubeadm reset with the runtime's socket; also removes a control plane's etcd member when etcd answers. */
export function resetArgv(cri: Cri): string[] {
  return ['kubeadm', 'reset', '--force', '--cri-socket', CRI_SOCKETS[cri]];
}

export function initArgv(): string[] {
  return ['kubeadm', 'init', '--config', INIT_CONFIG, '--skip-token-print', '-v=1'];
}

export function joinArgv(): string[] {
  return ['kubeadm', 'join', '--config', JOIN_CONFIG, '-v=1'];
}
