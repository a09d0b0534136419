// A test bed for the ssh driver: real sshd (systemd hosts from scripts/build-sshd-image.sh) in
// containers on this run's own labelled networks, keys, known_hosts, and an ssh-agent. Everything
// carries the label mk.test/ssh=<run> and is removed by cleanup().
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { DesiredNode, Role } from '../../src/spec/types.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

export interface Host {
  container: string;
  ip: string;
}

const HOST_FLAGS = [
  '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE',
  '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
  '--cgroupns=private', '--tmpfs', '/tmp', '--tmpfs', '/run', '--tmpfs', '/run/lock',
  '--stop-signal', 'SIGRTMIN+3',
];

export class TestBed {
  readonly run = randomBytes(3).toString('hex');
  readonly label = `mk.test/ssh=${this.run}`;
  dir = '';
  image = '';
  netA = '';
  netB = '';
  /** Private key files: "key" is given to the driver, "agentKey" only through the agent. */
  key = '';
  agentKey = '';
  agentSocket = '';
  private agentPid = 0;
  readonly hosts: Host[] = [];
  bastion!: Host;
  /** Reachable only through the bastion, by this name (Docker DNS on network B). */
  readonly targetName = 'target.mk-test';
  target!: Host;

  async setup(count: number): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'mk-ssh-it-'));
    const built = await run('bash', [join(ROOT, 'scripts/build-sshd-image.sh')], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
    this.image = built.stdout.trim().split('\n').pop()!;
    this.key = join(this.dir, 'id_test');
    this.agentKey = join(this.dir, 'id_agent');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mk-test', '-f', this.key]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mk-test-agent', '-f', this.agentKey]);
    this.netA = `mkssh-${this.run}-a`;
    this.netB = `mkssh-${this.run}-b`;
    await docker('network', 'create', '--label', this.label, this.netA);
    await docker('network', 'create', '--label', this.label, '--internal', this.netB);
    const names = Array.from({ length: count }, (_, i) => `mkssh-${this.run}-h${i + 1}`);
    await Promise.all([
      ...names.map((n) => this.start(n, this.netA)),
      this.start(`mkssh-${this.run}-bastion`, this.netA),
      this.start(`mkssh-${this.run}-target`, this.netB, this.targetName),
    ]);
    await docker('network', 'connect', this.netB, `mkssh-${this.run}-bastion`);
    for (const n of names) this.hosts.push({ container: n, ip: await this.ipOf(n, this.netA) });
    this.bastion = { container: `mkssh-${this.run}-bastion`, ip: await this.ipOf(`mkssh-${this.run}-bastion`, this.netA) };
    this.target = { container: `mkssh-${this.run}-target`, ip: await this.ipOf(`mkssh-${this.run}-target`, this.netB) };
    const all = [...this.hosts, this.bastion, this.target];
    const keys = (await readFile(`${this.key}.pub`, 'utf8')) + (await readFile(`${this.agentKey}.pub`, 'utf8'));
    await Promise.all(all.map((h) => this.prepare(h.container, keys)));
  }

  private async start(name: string, network: string, alias?: string): Promise<void> {
    await docker('run', '-d', '--name', name, '--hostname', name.replace(/^mkssh-[0-9a-f]+-/, ''), '--label', this.label, '--network', network, ...(alias ? ['--network-alias', alias] : []), ...HOST_FLAGS, this.image);
  }

  async ipOf(container: string, network: string): Promise<string> {
    return docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container);
  }

  /** authorized_keys for root, mk (sudo) and nosudo; waits for sshd. */
  private async prepare(container: string, keys: string): Promise<void> {
    const script = [
      'for u in root mk nosudo; do h=$(getent passwd $u | cut -d: -f6); printf "%s" "$KEYS" > $h/.ssh/authorized_keys; chown $u:$u $h/.ssh/authorized_keys; chmod 600 $h/.ssh/authorized_keys; done',
    ].join('\n');
    await docker('exec', '-e', `KEYS=${keys}`, container, 'sh', '-c', script);
    for (let i = 0; i < 100; i++) {
      const state = await docker('exec', container, 'systemctl', 'is-active', 'ssh').catch(() => '');
      if (state === 'active') return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`sshd did not start in ${container}`);
  }

  async hostKey(container: string): Promise<string> {
    return docker('exec', container, 'cat', '/etc/ssh/ssh_host_ed25519_key.pub');
  }

  /** A known_hosts file naming each (name, container) pair. */
  async knownHosts(file: string, entries: [string, string][]): Promise<string> {
    const lines = await Promise.all(entries.map(async ([name, c]) => `${name} ${(await this.hostKey(c)).split(' ').slice(0, 2).join(' ')}`));
    const path = join(this.dir, file);
    await writeFile(path, lines.join('\n') + '\n', { mode: 0o600 });
    return path;
  }

  /** Fake containerd (the CRI prerequisite) and kubeadm/kubelet (so facts show versions); nothing here runs Kubernetes. */
  async fakeKubeBinaries(container: string): Promise<void> {
    const script = [
      'printf "#!/bin/sh\\necho containerd github.com/containerd/containerd 1.7.24 x\\n" > /usr/local/bin/containerd',
      'printf "#!/bin/sh\\necho v1.36.3\\n" > /usr/local/bin/kubeadm',
      'printf "#!/bin/sh\\necho Kubernetes v1.36.3\\n" > /usr/local/bin/kubelet',
      'chmod 755 /usr/local/bin/containerd /usr/local/bin/kubeadm /usr/local/bin/kubelet',
    ].join('\n');
    await docker('exec', container, 'sh', '-c', script);
  }

  async startAgent(): Promise<void> {
    this.agentSocket = join(this.dir, 'agent.sock');
    const { stdout } = await run('ssh-agent', ['-s', '-a', this.agentSocket]);
    this.agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(stdout)?.[1] ?? 0);
    await run('ssh-add', ['-q', this.agentKey], { env: { ...process.env, SSH_AUTH_SOCK: this.agentSocket } });
  }

  async cleanup(): Promise<void> {
    if (this.agentPid > 0) {
      try {
        process.kill(this.agentPid);
      } catch {
        /* gone */
      }
    }
    const ids = await docker('ps', '-aq', '--filter', `label=${this.label}`).catch(() => '');
    if (ids) await docker('rm', '-f', ...ids.split('\n')).catch(() => '');
    const nets = await docker('network', 'ls', '-q', '--filter', `label=${this.label}`).catch(() => '');
    if (nets) await docker('network', 'rm', ...nets.split('\n')).catch(() => '');
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

export function desiredNode(cluster: string, name: string, address: string, role: Role = 'worker', ordinal = 1, extra: Partial<DesiredNode['host']> = {}): DesiredNode {
  return { name, cluster, pool: role === 'worker' ? 'w' : 'cp', ordinal, role, labels: {}, taints: [], host: { address, ...extra } };
}
