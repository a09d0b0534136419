// Facts about a host, gathered once per run before planning, and the prerequisites checked from them.
// FACTS_SCRIPT is a constant (its one argument arrives as a positional parameter); parsing is pure;
// HostFactsCache runs the script once per host and run.
import type { Cri } from '../../spec/types.js';
import type { Host, SshLog } from './pool.js';
import type { Remote } from './remote.js';

/** Binaries mk looks for; CRI ones decide which runtimes are available. */
export const BINARIES = ['containerd', 'crio', 'cri-dockerd', 'dockerd', 'runc', 'kubeadm', 'kubelet', 'kubectl'] as const;
export type Binary = (typeof BINARIES)[number];

/**
 * Prints key=value lines. $1 = 1 when mk will use sudo (then checks it works without a password).
 * Read-only; run as the login user.
 */
export const FACTS_SCRIPT = [
  'PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
  'if [ -r /etc/os-release ]; then . /etc/os-release; fi',
  'echo "os_id=${ID:-}"; echo "os_version=${VERSION_ID:-}"; echo "os_name=${PRETTY_NAME:-}"',
  'echo "arch=$(uname -m)"; echo "kernel=$(uname -r)"; echo "uid=$(id -u)"',
  'if [ -d /run/systemd/system ]; then echo init=systemd; else echo "init=$(cat /proc/1/comm 2>/dev/null)"; fi',
  'if [ "$1" = 1 ]; then if sudo -n true >/dev/null 2>&1; then echo sudo=ok; else echo sudo=denied; fi; fi',
  `for b in ${BINARIES.join(' ')}; do p=$(command -v "$b" 2>/dev/null) && echo "bin_$b=$p"; done`,
  'v=$(kubeadm version -o short 2>/dev/null) && echo "version_kubeadm=$v"',
  'v=$(kubelet --version 2>/dev/null) && echo "version_kubelet=${v##* }"',
  'v=$(containerd --version 2>/dev/null) && echo "version_containerd=$(echo "$v" | cut -d" " -f3)"',
  'if command -v systemctl >/dev/null 2>&1; then echo "kubelet_active=$(systemctl is-active kubelet 2>/dev/null)"; fi',
  'if [ -e /etc/kubernetes/kubelet.conf ]; then echo joined=yes; else echo joined=no; fi',
  'exit 0',
].join('\n');

export interface HostFacts {
  os: { id: string; version: string; name: string };
  arch: string;
  kernel: string;
  uid: number;
  init: string;
  /** undefined when sudo was not asked for. */
  sudo?: 'ok' | 'denied';
  binaries: Partial<Record<Binary, string>>;
  versions: { kubeadm?: string; kubelet?: string; containerd?: string };
  kubeletActive: boolean;
  /** /etc/kubernetes/kubelet.conf exists: the host is (or was) part of a cluster. */
  joined: boolean;
}

export function parseFacts(stdout: string): HostFacts {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const binaries: Partial<Record<Binary, string>> = {};
  for (const b of BINARIES) {
    const p = kv.get(`bin_${b}`);
    if (p) binaries[b] = p;
  }
  const versions: HostFacts['versions'] = {};
  for (const k of ['kubeadm', 'kubelet', 'containerd'] as const) {
    const v = kv.get(`version_${k}`);
    if (v) versions[k] = v;
  }
  const sudo = kv.get('sudo');
  return {
    os: { id: kv.get('os_id') ?? '', version: kv.get('os_version') ?? '', name: kv.get('os_name') ?? '' },
    arch: kv.get('arch') ?? '',
    kernel: kv.get('kernel') ?? '',
    uid: Number(kv.get('uid') ?? NaN),
    init: kv.get('init') ?? '',
    ...(sudo === 'ok' || sudo === 'denied' ? { sudo } : {}),
    binaries,
    versions,
    kubeletActive: kv.get('kubelet_active') === 'active',
    joined: kv.get('joined') === 'yes',
  };
}

const ARCHES = new Set(['x86_64', 'amd64', 'aarch64', 'arm64']);

/** The binaries a CRI choice needs on the host. */
export function criBinaries(cri: Cri): Binary[] {
  switch (cri) {
    case 'containerd':
      return ['containerd'];
    case 'cri-o':
      return ['crio'];
    case 'docker':
      return ['dockerd', 'cri-dockerd'];
  }
}

export interface Requirements {
  cri: Cri;
  /** spec.driver.ssh.sudo */
  sudo: boolean;
  /** kubeadm and kubelet must already be installed (mk installs the release binaries when they are not, so callers rarely ask). */
  kubeBinaries: boolean;
}

/** Everything a host lacks, each as one short sentence; empty when it is ready. */
export function missingPrerequisites(f: HostFacts, req: Requirements): string[] {
  const out: string[] = [];
  if (f.init !== 'systemd') out.push(`init system is ${f.init || 'unknown'}; systemd is required`);
  if (!ARCHES.has(f.arch)) out.push(`architecture ${f.arch || 'unknown'} is not supported (x86_64 or aarch64)`);
  if (f.uid !== 0 && !req.sudo) out.push(`login user is not root (uid ${f.uid}); set spec.driver.ssh.sudo: true`);
  if (req.sudo && f.uid !== 0 && f.sudo !== 'ok') out.push('sudo -n failed: the login user needs passwordless sudo');
  const missing = [...criBinaries(req.cri), ...(req.kubeBinaries ? (['kubeadm', 'kubelet'] as const) : [])].filter((b) => !f.binaries[b]);
  if (missing.length > 0) out.push(`not installed: ${missing.join(', ')}${criBinaries(req.cri).some((b) => missing.includes(b)) ? ` (cri: ${req.cri})` : ''}`);
  return out;
}

/** One line for plans and logs, e.g. "debian 12 x86_64 systemd; containerd 1.7.24, kubeadm v1.36.3; kubelet active; joined". */
export function describeFacts(f: HostFacts): string {
  const have = (['containerd', 'crio', 'cri-dockerd', 'kubeadm', 'kubelet'] as const)
    .filter((b) => f.binaries[b])
    .map((b) => (b in f.versions ? `${b} ${f.versions[b as keyof HostFacts['versions']]}` : b));
  return [
    `${f.os.id || 'unknown-os'} ${f.os.version} ${f.arch} ${f.init}`.replace(/\s+/g, ' ').trim(),
    have.length > 0 ? have.join(', ') : 'no CRI or kube binaries',
    f.kubeletActive ? 'kubelet active' : 'kubelet not running',
    f.joined ? 'joined (kubelet.conf present)' : 'not joined',
  ].join('; ');
}

/** Each host's facts, gathered once per run; a gathering that failed is tried again when next asked. */
export class HostFactsCache {
  private readonly cache = new Map<string, Promise<HostFacts>>();

  constructor(
    private readonly remote: Remote,
    /** spec.driver.ssh.sudo: whether to check that sudo -n works. */
    private readonly sudo: boolean,
    private readonly log: SshLog,
  ) {}

  of(h: Host, signal?: AbortSignal): Promise<HostFacts> {
    let p = this.cache.get(h.name);
    if (!p) {
      p = (async () => {
        // Read-only, as the login user.
        const r = await this.remote.run(h, ['sh', '-c', FACTS_SCRIPT, 'mk-facts', this.sudo ? '1' : '0'], signal ? { signal } : {});
        const f = parseFacts(r.stdout);
        this.log('ssh facts', { node: h.name, host: h.address, facts: describeFacts(f) });
        return f;
      })();
      this.cache.set(h.name, p);
      p.catch(() => this.cache.delete(h.name));
    }
    return p;
  }
}
