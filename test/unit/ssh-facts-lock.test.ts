import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FACTS_SCRIPT, describeFacts, missingPrerequisites, parseFacts } from '../../src/drivers/ssh/facts.js';
import { ACQUIRE_SCRIPT, REFRESH_SCRIPT, RELEASE_SCRIPT, parseAcquire, parseOwner } from '../../src/drivers/ssh/host-lock.js';
import { parseMarker, serializeMarker } from '../../src/drivers/ssh/marker.js';

const READY = `os_id=debian
os_version=12
os_name=Debian GNU/Linux 12 (bookworm)
arch=x86_64
kernel=6.1.0
uid=1000
init=systemd
sudo=ok
bin_containerd=/usr/bin/containerd
bin_kubeadm=/usr/bin/kubeadm
bin_kubelet=/usr/bin/kubelet
version_kubeadm=v1.36.3
version_containerd=1.7.24
kubelet_active=active
joined=yes
`;

describe('facts', () => {
  it('parses the facts script output', () => {
    const f = parseFacts(READY);
    expect(f).toMatchObject({ arch: 'x86_64', uid: 1000, init: 'systemd', sudo: 'ok', kubeletActive: true, joined: true });
    expect(f.binaries).toEqual({ containerd: '/usr/bin/containerd', kubeadm: '/usr/bin/kubeadm', kubelet: '/usr/bin/kubelet' });
    expect(describeFacts(f)).toBe('debian 12 x86_64 systemd; containerd 1.7.24, kubeadm v1.36.3, kubelet; kubelet active; joined (kubelet.conf present)');
    expect(missingPrerequisites(f, { cri: 'containerd', sudo: true, kubeBinaries: true })).toEqual([]);
  });

  it('lists every missing prerequisite of a host at once', () => {
    const f = parseFacts('arch=riscv64\nuid=1000\ninit=sh\nsudo=denied\n');
    expect(missingPrerequisites(f, { cri: 'docker', sudo: true, kubeBinaries: true })).toEqual([
      'init system is sh; systemd is required',
      'architecture riscv64 is not supported (x86_64 or aarch64)',
      'sudo -n failed: the login user needs passwordless sudo',
      'not installed: dockerd, cri-dockerd, kubeadm, kubelet (cri: docker)',
    ]);
    expect(missingPrerequisites(f, { cri: 'cri-o', sudo: false, kubeBinaries: false })).toContain('login user is not root (uid 1000); set spec.driver.ssh.sudo: true');
  });

  it('the facts script runs in a POSIX shell', () => {
    const out = execFileSync('/bin/sh', ['-c', FACTS_SCRIPT, 'mk-facts', '0'], { encoding: 'utf8' });
    const f = parseFacts(out);
    expect(f.arch).not.toBe('');
    expect(Number.isInteger(f.uid)).toBe(true);
  });
});

describe('marker', () => {
  it('round-trips and rejects foreign content', () => {
    const m = { cluster: 'c', node: 'c-w-1', pool: 'w', ordinal: 1, role: 'worker' as const, configHash: 'abc', createdBy: 'mk 0.1.0', createdAt: 'now' };
    expect(parseMarker(serializeMarker(m))).toEqual(m);
    expect(parseMarker('')).toBeUndefined();
    expect(parseMarker('{"cluster":"c"}')).toBeUndefined();
    expect(parseMarker('not json')).toBeUndefined();
  });
});

describe('host lock scripts (run by a local sh)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mk-lock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'run/lock/mk/c.lock');
  const sh = (script: string, ...args: string[]) => execFileSync('/bin/sh', ['-c', script, 'mk', ...args], { encoding: 'utf8' });
  const owner = (token: string) => JSON.stringify({ pid: 42, host: 'laptop', since: '2026-01-01T00:00:00Z', token });

  it('one owner at a time; a second one is told who holds it', () => {
    expect(parseAcquire(sh(ACQUIRE_SCRIPT, path, owner('aaa'), '30', 'aaa'))).toEqual({ status: 'acquired' });
    expect(parseAcquire(sh(ACQUIRE_SCRIPT, path, owner('aaa'), '30', 'aaa'))).toEqual({ status: 'acquired' });
    expect(parseAcquire(sh(ACQUIRE_SCRIPT, path, owner('bbb'), '30', 'bbb'))).toEqual({ status: 'held', holder: parseOwner(owner('aaa')) });
    expect(sh(REFRESH_SCRIPT, path, 'aaa').trim()).toBe('ok');
    expect(sh(REFRESH_SCRIPT, path, 'bbb').trim()).toBe('lost');
    sh(RELEASE_SCRIPT, path, 'bbb');
    expect(parseAcquire(sh(ACQUIRE_SCRIPT, path, owner('bbb'), '30', 'bbb')).status).toBe('held');
    sh(RELEASE_SCRIPT, path, 'aaa');
    expect(parseAcquire(sh(ACQUIRE_SCRIPT, path, owner('bbb'), '30', 'bbb'))).toEqual({ status: 'acquired' });
    sh(RELEASE_SCRIPT, path, 'bbb');
  });

  it('a lock not refreshed within the stale time is taken over', () => {
    expect(parseAcquire(sh(ACQUIRE_SCRIPT, path, owner('old'), '30', 'old')).status).toBe('acquired');
    const past = new Date(Date.now() - 120_000);
    utimesSync(path, past, past);
    const out = parseAcquire(sh(ACQUIRE_SCRIPT, path, owner('new'), '30', 'new'));
    expect(out.status).toBe('acquired');
    expect(out.status === 'acquired' && out.takenOverAfterS).toBeGreaterThanOrEqual(119);
    expect(sh(REFRESH_SCRIPT, path, 'old').trim()).toBe('lost');
    sh(RELEASE_SCRIPT, path, 'new');
  });

  it('an unreadable holder is still refused', () => {
    writeFileSync(path, 'garbage\n');
    expect(parseAcquire(sh(ACQUIRE_SCRIPT, path, owner('x'), '30', 'x'))).toEqual({ status: 'held' });
  });
});
