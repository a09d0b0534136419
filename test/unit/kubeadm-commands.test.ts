// The argv mk runs for kubeadm, and the runtime table behind cri: containerd | cri-o | docker. Pure.
import { describe, expect, it } from 'vitest';
import { CRI_SOCKETS } from '../../src/kubeadm/config.js';
import { INIT_CONFIG, initArgv, JOIN_CONFIG, joinArgv, resetArgv, RUNTIMES, socketPath } from '../../src/kubeadm/node.js';
import type { Cri } from '../../src/spec/types.js';

const CRIS: Cri[] = ['containerd', 'cri-o', 'docker'];

/** The sockets the issue names, spelled out here rather than read back from the code under test. */
const SOCKETS: Record<Cri, string> = {
  containerd: 'unix:///run/containerd/containerd.sock',
  'cri-o': 'unix:///var/run/crio/crio.sock',
  docker: 'unix:///var/run/cri-dockerd.sock',
};

describe('kubeadm argv', () => {
  it.each(CRIS)('kubeadm reset for cri %s is forced and names that runtime\'s socket', (cri) => {
    expect(resetArgv(cri)).toEqual(['kubeadm', 'reset', '--force', '--cri-socket', SOCKETS[cri]]);
  });

  it('the three sockets are the ones kubeadm gets in its configs too', () => {
    expect(CRI_SOCKETS).toEqual(SOCKETS);
  });

  it('kubeadm init reads mk\'s config file and never prints the token', () => {
    const argv = initArgv();
    expect(argv.slice(0, 2)).toEqual(['kubeadm', 'init']);
    expect(argv[argv.indexOf('--config') + 1]).toBe(INIT_CONFIG);
    expect(argv).toContain('--skip-token-print');
    expect(argv.some((a) => /token(?!-print)|discovery|certificate-key/.test(a))).toBe(false);
  });

  it('kubeadm join takes everything from the 0600 config file: no token, hash or key on the command line', () => {
    const argv = joinArgv();
    expect(argv.slice(0, 2)).toEqual(['kubeadm', 'join']);
    expect(argv[argv.indexOf('--config') + 1]).toBe(JOIN_CONFIG);
    expect(argv.some((a) => /token|discovery|hash|certificate-key|control-plane/.test(a))).toBe(false);
    expect(INIT_CONFIG).not.toBe(JOIN_CONFIG);
  });
});

describe('container runtimes', () => {
  it.each([
    ['containerd', '/run/containerd/containerd.sock'],
    ['cri-o', '/var/run/crio/crio.sock'],
    ['docker', '/var/run/cri-dockerd.sock'],
  ] as const)('socketPath(%s) is the file behind the unix:// URL: %s', (cri, path) => {
    expect(socketPath(cri)).toBe(path);
  });

  it.each(CRIS)('%s: the units it starts are never among the ones it stops', (cri) => {
    const { units, others } = RUNTIMES[cri];
    expect(units.length).toBeGreaterThan(0);
    expect(units.filter((u) => others.includes(u))).toEqual([]);
  });

  it('each runtime stops the main unit of every other runtime it does not need', () => {
    expect(RUNTIMES.containerd.others).toEqual(expect.arrayContaining(['crio', 'docker', 'docker.socket', 'cri-docker', 'cri-docker.socket']));
    expect(RUNTIMES['cri-o'].others).toEqual(expect.arrayContaining(['containerd', 'docker', 'docker.socket', 'cri-docker', 'cri-docker.socket']));
    // dockerd runs its containers through containerd, so docker keeps it and stops only cri-o.
    expect(RUNTIMES.docker.others).toEqual(['crio']);
    expect(RUNTIMES.docker.units).toEqual(expect.arrayContaining(['containerd', 'docker', 'cri-docker']));
  });

  it('the binaries checked per runtime: the daemon, and for docker the CRI shim too', () => {
    expect(RUNTIMES.containerd.binaries).toEqual(['containerd']);
    expect(RUNTIMES['cri-o'].binaries).toEqual(['crio']);
    expect(RUNTIMES.docker.binaries).toEqual(['dockerd', 'cri-dockerd']);
  });
});
