// "Machines you already have", for the ssh driver's end-to-end test: containers of the image
// test/k8s/ssh-host-image.sh builds (systemd, sshd, containerd, kubelet/kubeadm, a sudo user "mk"),
// run with the flags a kubelet needs here (test/k8s/cluster.sh, K8S-FROM-SOURCE.md §5.1) on a network
// of their own. Everything carries the label mk.test/ssh-k8s=<run> and is removed by cleanup(). argv only.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { hostPodResolvConf } from '../../src/kubeadm/resolv.js';
import { runScript } from './cluster.js';

const execFileP = promisify(execFile);

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await execFileP('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** Builds (or reuses) the ssh host image on top of the tier-3 node image; returns its tag. Progress goes to stderr. */
export async function ensureSshHostImage(timeoutMs = 1_800_000): Promise<string> {
  const tag = (await runScript('ssh-host-image.sh', [], timeoutMs)).trim().split('\n').pop();
  if (!tag) throw new Error('ssh-host-image.sh printed no image tag');
  return tag;
}

/** What a kubelet needs to run in a container here, without --privileged (cluster.sh run_node). */
const HOST_FLAGS = [
  '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE',
  '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--security-opt', 'systempaths=unconfined',
  '--cgroupns=private', '--init=false', '--stop-signal', 'SIGRTMIN+3', '-e', 'container=docker',
  '--tmpfs', '/run', '--tmpfs', '/run/lock', '--tmpfs', '/tmp',
  '--device-cgroup-rule', 'a *:* rwm', '--device', '/dev/kmsg',
  '-v', '/lib/modules:/lib/modules:ro', '--sysctl', 'net.ipv4.ip_forward=1',
];

export interface SshHost {
  /** Container name; its hostname is the short name ("cp", "w1", ...). */
  container: string;
  /** Full container id (for the cgroup leak check). */
  id: string;
  ip: string;
}

export class SshK8sHosts {
  readonly run = randomBytes(3).toString('hex');
  readonly label = `mk.test/ssh-k8s=${this.run}`;
  readonly network = `mksk-${this.run}`;
  readonly hosts: SshHost[] = [];
  dir = '';
  /** Private key mk logs in with (user "mk"); known_hosts with every host's key. */
  key = '';
  knownHosts = '';
  private ids: string[] = [];

  /** Starts one container per name (in parallel), installs the key, waits for systemd and sshd, writes known_hosts. */
  async start(image: string, names: readonly string[]): Promise<void> {
    this.dir = await mkdtemp(path.join(tmpdir(), 'mk-ssh-e2e-'));
    this.key = path.join(this.dir, 'id_ed25519');
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mk-e2e', '-f', this.key]);
    await docker('network', 'create', '--label', this.label, this.network);
    const containers = names.map((n) => `mksk-${this.run}-${n}`);
    await Promise.all(
      names.map(async (n, i) => {
        const c = containers[i]!;
        await docker('volume', 'create', '--label', this.label, `${c}-var`);
        await docker('run', '-d', '--name', c, '--hostname', n, '--label', this.label, '--network', this.network, ...HOST_FLAGS, '-v', `${c}-var:/var`, image);
      }),
    );
    for (const c of containers) {
      const id = await docker('inspect', '-f', '{{.Id}}', c);
      this.ids.push(id);
      this.hosts.push({ container: c, id, ip: await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${this.network}").IPAddress}}`, c) });
    }
    const pub = await readFile(`${this.key}.pub`, 'utf8');
    await Promise.all(this.hosts.map((h) => this.prepare(h, pub)));
    const lines = await Promise.all(this.hosts.map(async (h) => `${h.ip} ${(await this.exec(h, ['cat', '/etc/ssh/ssh_host_ed25519_key.pub'])).split(' ').slice(0, 2).join(' ')}`));
    this.knownHosts = path.join(this.dir, 'known_hosts');
    await writeFile(this.knownHosts, lines.join('\n') + '\n', { mode: 0o600 });
  }

  private async prepare(h: SshHost, pub: string): Promise<void> {
    const script = 'umask 077 && printf "%s" "$1" >/home/mk/.ssh/authorized_keys && chown mk:mk /home/mk/.ssh/authorized_keys';
    await docker('exec', h.container, 'sh', '-c', script, 'sh', pub);
    // Booted like a machine that is already up: every unit started (the baked images imported), sshd answering.
    let state = '';
    for (let i = 0; i < 240 && state !== 'running' && state !== 'degraded'; i++) {
      state = await docker('exec', h.container, 'timeout', '60', 'systemctl', 'is-system-running', '--wait').catch((e: { stdout?: string }) => (e.stdout ?? '').trim());
      if (state !== 'running' && state !== 'degraded') await new Promise((r) => setTimeout(r, 500));
    }
    const ssh = await docker('exec', h.container, 'systemctl', 'is-active', 'ssh').catch(() => '');
    if (ssh !== 'active') throw new Error(`${h.container}: sshd is ${ssh || 'not running'} (systemd: ${state || 'unknown'})`);
  }

  /**
   * Gives the hosts a resolv.conf like a real machine's (this machine's non-loopback resolvers, else
   * the network gateway) instead of Docker's embedded 127.0.0.11, which pods cannot use.
   */
  async realisticResolvConf(): Promise<string> {
    const gateway = await docker('network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', this.network);
    const text = await hostPodResolvConf(gateway || undefined);
    await Promise.all(this.hosts.map((h) => docker('exec', h.container, 'sh', '-c', 'printf "%s" "$1" >/etc/resolv.conf', 'sh', text)));
    return text;
  }

  /** Makes a host one with a runtime but without Kubernetes: no kubeadm, kubelet, kubectl, no kubelet unit. */
  async withoutKubernetes(h: SshHost): Promise<void> {
    await this.exec(h, ['rm', '-f', '/usr/bin/kubeadm', '/usr/bin/kubelet', '/usr/bin/kubectl', '/etc/systemd/system/kubelet.service', '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf', '/etc/systemd/system/multi-user.target.wants/kubelet.service']);
    await this.exec(h, ['systemctl', 'daemon-reload']);
  }

  exec(h: SshHost, argv: readonly string[]): Promise<string> {
    return docker('exec', h.container, ...argv);
  }

  /** Whether a path exists on the host. */
  async exists(h: SshHost, file: string): Promise<boolean> {
    return (await this.exec(h, ['sh', '-c', 'if [ -e "$1" ]; then echo yes; else echo no; fi', 'sh', file])) === 'yes';
  }

  async running(h: SshHost): Promise<boolean> {
    return (await docker('inspect', '-f', '{{.State.Running}}', h.container)) === 'true';
  }

  /** Removes containers, volumes and the network of this run; returns cgroups the containers left on this machine. */
  async cleanup(): Promise<string[]> {
    const ids = await docker('ps', '-aq', '--no-trunc', '--filter', `label=${this.label}`).catch(() => '');
    if (ids) await docker('rm', '-f', '-v', ...ids.split('\n')).catch(() => '');
    const vols = await docker('volume', 'ls', '-q', '--filter', `label=${this.label}`).catch(() => '');
    if (vols) await docker('volume', 'rm', ...vols.split('\n')).catch(() => '');
    const nets = await docker('network', 'ls', '-q', '--filter', `label=${this.label}`).catch(() => '');
    if (nets) await docker('network', 'rm', ...nets.split('\n')).catch(() => '');
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    return this.ids.flatMap((id) => ['memory', 'pids', 'cpu', 'devices'].map((ctl) => `/sys/fs/cgroup/${ctl}/docker/${id}`)).filter((p) => existsSync(p));
  }
}
